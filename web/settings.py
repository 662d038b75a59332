"""What an operator may tune about the HTTP face: rate limits, CORS, request sizes, proxies.

The defaults let a person query freely and stop a script: 60 queries a minute per client
address (a burst of 20 first, so a family checking a bag of packs is never refused), 600
a minute per network (IPv4 /24, IPv6 /48: a site cannot lift the first by cycling its
addresses), and per product 600 guesses a minute (codes of that product the index does not
know: an enumeration of its serials from many addresses; genuine answers take none, see
web/ratelimit.py). Under `tracecode serve` these are the server's limits, shared by its
workers in one table of shared memory (max_tracked buckets per limit), not a worker's
each. A bad bearer token costs its address a query like any other, and only the first
from an address in a minute is audited. Authenticated callers (a known bearer token) are
not rate-limited here: they are known clients, limited by their rights and audited.
HEAD costs what GET costs; OPTIONS and CORS preflights, which look nothing up, cost
nothing.

>>> WebSettings().per_address
60
>>> WebSettings(per_address=0).limits_addresses
False
>>> WebSettings.from_mapping({"per_address": 30, "cors_origins": ["https://app.example"]}).cors_origins
('https://app.example',)
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields

from ..errors import ValidationError


@dataclass(frozen=True)
class WebSettings:
    # queries per minute per client address (0: no limit), and how many may come at once
    per_address: int = 60
    per_address_burst: int = 20
    # guesses per minute per product: answers finding no code of the product the scan names
    # (a genuine answer takes no token but is refused while the bucket is empty; 0: no limit)
    per_product: int = 600
    per_product_burst: int = 120
    # the buckets kept per limit (shared by the workers of a serve): past it the least recently
    # used is forgotten, so an enumeration from a million addresses costs bounded memory
    max_tracked: int = 65536
    # IPv6 clients are counted per prefix: one subscriber holds a whole /64
    ipv6_prefix: int = 64
    # and every address also draws on its network's bucket, a higher limit (0: none): an IPv4
    # /24 or an IPv6 /48 (a site's allocation, which could otherwise cycle through 65,536 /64s,
    # each with a fresh per-address bucket); a campus behind one NAT /24 shares this one
    per_network: int = 600
    per_network_burst: int = 200
    ipv4_network_prefix: int = 24
    ipv6_network_prefix: int = 48
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
    # only from these peer addresses or CIDR networks; None (default): the peer is the client
    forwarded_header: str | None = None
    trusted_proxies: tuple = ("127.0.0.1", "::1")
    # the resolver's name in /.well-known/gs1resolver
    resolver_name: str = "tracecode public trace-code window"

    def __post_init__(self):
        for name in ("per_address", "per_address_burst", "per_product", "per_product_burst",
                     "per_network", "per_network_burst", "max_tracked", "max_url_bytes", "max_body_bytes",
                     "max_capture_bytes", "max_capture_events"):
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
        for name, top in (("ipv6_prefix", 128), ("ipv6_network_prefix", 128), ("ipv4_network_prefix", 32)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ValidationError(f"web setting {name} must be 1 to {top}", field=name)
        if isinstance(self.cors_origins, str):
            object.__setattr__(self, "cors_origins", (self.cors_origins,))
        for origin in self.cors_origins:
            # "null" is the origin of sandboxed frames and file: pages: any page can claim it
            if origin.strip().lower() == "null":
                raise ValidationError("web setting cors_origins: 'null' is not an origin to allow "
                                      "(any sandboxed page sends it); give https://host origins or '*'",
                                      field="cors_origins")
        if isinstance(self.trusted_proxies, str):
            object.__setattr__(self, "trusted_proxies", (self.trusted_proxies,))
        object.__setattr__(self, "_proxies", _networks(self.trusted_proxies))
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

    def is_trusted_proxy(self, host: str) -> bool:
        """Whether a peer address is one of trusted_proxies (addresses or CIDR networks).

        >>> s = WebSettings(trusted_proxies=("10.0.0.0/8", "::1"))
        >>> s.is_trusted_proxy("10.2.3.4"), s.is_trusted_proxy("11.0.0.1"), s.is_trusted_proxy("::1")
        (True, False, True)
        """
        exact, networks = self._proxies
        if host in exact:
            return True
        if not networks:
            return False
        try:
            addr = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False
        if getattr(addr, "ipv4_mapped", None) is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in networks)

    @property
    def limits_networks(self) -> bool:
        return self.per_network > 0

    @property
    def limits_addresses(self) -> bool:
        return self.per_address > 0

    @property
    def limits_products(self) -> bool:
        return self.per_product > 0


def _networks(proxies) -> tuple[frozenset, tuple]:
    """trusted_proxies read once: single addresses (a set: the common case is one lookup)
    and networks (ipaddress objects); anything else refused, naming it."""
    exact, networks = set(), []
    for text in proxies:
        try:
            net = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ValidationError(f"web setting trusted_proxies: {text!r} is not an IP address or "
                                  "network (e.g. 10.0.0.0/8)", field="trusted_proxies") from None
        if net.num_addresses == 1:
            exact.add(str(net.network_address))
        else:
            networks.append(net)
    return frozenset(exact), tuple(networks)
