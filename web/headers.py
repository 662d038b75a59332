"""The security headers every response carries, built once.

The pages are server-rendered without JavaScript: the policy allows no script at all,
styles and images from the platform only (and data: images, for an inline QR), forms
posting to the platform only, and no framing (clickjacking a verdict page is how a fake
"genuine" would be shown around a real one). Referrer: none, so a code in the URL never
reaches the site a link leads to.

>>> dict(security_headers("https://trace.example"))[b"strict-transport-security"]
b'max-age=31536000'
>>> b"strict-transport-security" in dict(security_headers("http://127.0.0.1:8080"))
False
"""
from __future__ import annotations

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def security_headers(base_url: str) -> list:
    """The (name, value) pairs of raw ASGI headers added to every response."""
    pairs = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if base_url.startswith("https://"):   # only a platform served over TLS may pin TLS
        pairs.append((b"strict-transport-security", b"max-age=31536000"))
    return pairs
