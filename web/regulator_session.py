"""The regulator page's login cookie: a session value, never the client's bearer token.

    v1.<payload>.<mac>    payload: base64url JSON {"c": client, "i": issued, "e": expires, "p": path}

HMAC-SHA256 under a key derived from the data directory's master key (every worker and node
of one data directory derives the same), expiring COOKIE_AGE after login, valid for PATH
only (it is no credential of the API: the Guard reads bearer headers only), and revoked by
logout: the client's logout time is kept in the store (shared by every worker and node), and
a session issued before it is refused. A stolen cookie is therefore one working day of the
page at most, and none after its owner signs out.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from ..app.caller import Caller
from ..app.clients import RESERVED_PREFIX

VERSION = "v1"
MAX_CHARS = 512
# where the logouts are kept: the store's per-client entries (idempotency_get/put), under a
# client name no clients file may give (clients.RESERVED_PREFIX), so no client's own
# idempotency keys are touched
LOGOUTS = RESERVED_PREFIX + "regulator-sessions"


def _key(svc) -> bytes:
    cached = svc.__dict__.get("_regulator_session_key")
    if cached is None:
        ring = svc.dd.keyring
        cached = svc._regulator_session_key = bytes(ring.key(min(ring.versions)).derive("regulator-sessions"))
    return cached


def _mac(svc, payload: str) -> str:
    return hmac.new(_key(svc), f"{VERSION}.{payload}".encode(), hashlib.sha256).hexdigest()


def issue(svc, client: str, path: str, age: int, now: float | None = None) -> str:
    """A session value for `client` on `path`, valid for `age` seconds."""
    now = time.time() if now is None else now
    body = json.dumps({"c": client, "i": round(now, 6), "e": int(now + age), "p": path},
                      separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
    return f"{VERSION}.{payload}.{_mac(svc, payload)}"


def caller_of(svc, value: str, path: str, now: float | None = None) -> Caller | None:
    """The client a session value names, or None if it is forged, damaged, expired, for
    another path, logged out, or its client is no longer in the clients file."""
    if not value or len(value) > MAX_CHARS:
        return None
    version, _, rest = value.partition(".")
    payload, _, mac = rest.partition(".")
    if version != VERSION or not payload or not hmac.compare_digest(mac.encode(), _mac(svc, payload).encode()):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        client, issued, expires = str(claims["c"]), float(claims["i"]), float(claims["e"])
    except (ValueError, KeyError, TypeError):
        return None
    now = time.time() if now is None else now
    if claims.get("p") != path or now >= expires:
        return None
    logout = svc.index.store.idempotency_get(LOGOUTS, client)
    if logout and issued <= float(logout.get("at", 0)):
        return None
    return next((who for who in svc.clients.identities() if who.name == client), None)


def logout(svc, client: str, now: float | None = None) -> None:
    """Every session of `client` issued until now refused from now on (all its browsers)."""
    svc.index.store.idempotency_put(LOGOUTS, client, {"at": time.time() if now is None else now})
