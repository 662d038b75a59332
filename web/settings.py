"""What an operator may tune about the HTTP face: rate limits, CORS, request sizes, proxies.

The defaults let a person query freely and stop a script: 60 queries a minute per client
address (a burst of 20 first, so a family checking a bag of packs is never refused), and
per product 600 answers a minute per worker (an enumeration of one product's serials from
many addresses). Authenticated callers (a bearer token) are not rate-limited here: they
are known clients, limited by their rights and audited.

>>> WebSettings().per_address
60
>>> WebSettings(per_address=0).limits_addresses
False
>>> WebSettings.from_mapping({"per_address": 30, "cors_origins": ["https://app.example"]}).cors_origins
('https://app.example',)
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import ValidationError


@dataclass(frozen=True)
class WebSettings:
    # queries per minute per client address (0: no limit), and how many may come at once
    per_address: int = 60
    per_address_burst: int = 20
    # answers per minute per product (counted after the answer names it; 0: no limit)
    per_product: int = 600
    per_product_burst: int = 120
    # the buckets kept per limiter and worker: past it the least recently used is forgotten,
    # so an enumeration from a million addresses costs a bounded amount of memory
    max_tracked: int = 65536
    # IPv6 clients are counted per prefix: one subscriber holds a whole /64
    ipv6_prefix: int = 64
    # origins allowed by CORS on /api, the resolver and /.well-known ("*": any, no credentials)
    cors_origins: tuple = ("*",)
    # request bounds: path + query (414 past it) and body (413 past it)
    max_url_bytes: int = 4096
    max_body_bytes: int = 65536
    # EPCIS capture (POST /epcis/capture): a document's bytes (413 past it) and events (the
    # binding's GS1-EPCIS-Capture-File-Size-Limit and GS1-EPCIS-Capture-Limit)
    max_capture_bytes: int = 64 << 20
    max_capture_events: int = 10_000
    # behind a reverse proxy: the header naming the client (e.g. "x-forwarded-for"), believed
    # only from these peer addresses; None (default): the peer address is the client
    forwarded_header: str | None = None
    trusted_proxies: tuple = ("127.0.0.1", "::1")
    # the resolver's name in /.well-known/gs1resolver
    resolver_name: str = "tracecode public trace-code window"

    def __post_init__(self):
        for name in ("per_address", "per_address_burst", "per_product", "per_product_burst",
                     "max_tracked", "max_url_bytes", "max_body_bytes", "max_capture_bytes",
                     "max_capture_events"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(f"web setting {name} must be a whole number >= 0, not {value!r}",
                                      field=name)
        if self.max_capture_bytes < 1024 or self.max_capture_events < 1:
            raise ValidationError("web settings: max_capture_bytes >= 1024 and max_capture_events >= 1",
                                  field="max_capture_bytes")
        if self.max_tracked < 1 or self.max_url_bytes < 256 or self.max_body_bytes < 1024:
            raise ValidationError("web settings: max_tracked >= 1, max_url_bytes >= 256 and "
                                  "max_body_bytes >= 1024", field="max_tracked")
        if not 1 <= self.ipv6_prefix <= 128:
            raise ValidationError("web setting ipv6_prefix must be 1 to 128", field="ipv6_prefix")
        if isinstance(self.cors_origins, str):
            object.__setattr__(self, "cors_origins", (self.cors_origins,))
        if self.forwarded_header is not None:
            object.__setattr__(self, "forwarded_header", self.forwarded_header.strip().lower() or None)

    @classmethod
    def from_mapping(cls, values: dict) -> WebSettings:
        """From a table of settings (a [web] table of a TOML file, say): unknown names and
        values of the wrong type are refused, naming them."""
        known = {f.name: f for f in fields(cls)}
        out = {}
        for name, value in dict(values).items():
            if name not in known:
                raise ValidationError(f"unknown web setting {name!r} (known: {', '.join(sorted(known))})",
                                      field=name)
            if name in ("cors_origins", "trusted_proxies"):
                if isinstance(value, str):
                    value = (value,)
                if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                    raise ValidationError(f"web setting {name} must be a list of strings", field=name)
                value = tuple(value)
            elif name in ("forwarded_header", "resolver_name"):
                if value is not None and not isinstance(value, str):
                    raise ValidationError(f"web setting {name} must be a string", field=name)
            out[name] = value
        return cls(**out)

    @property
    def limits_addresses(self) -> bool:
        return self.per_address > 0

    @property
    def limits_products(self) -> bool:
        return self.per_product > 0
