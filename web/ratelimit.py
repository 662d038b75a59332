"""Rate limits of the public window: token buckets per client address and per product, in
the memory of one worker, bounded.

A bucket holds up to `burst` tokens and refills at `per_minute`/60 a second; a query takes
one. A person's pace never empties it; a script's does, and then waits for the refill (the
refusal says how long: Retry-After). Buckets live in one OrderedDict ordered by last use:
a bucket idle long enough to be full again is the same as no bucket, so it is dropped as
soon as it reaches the front; past `max_tracked` buckets the least recently used goes, so
an enumeration from many addresses costs a bounded amount of memory. A query costs a dict
lookup, a few float operations and a move to the end.

>>> b = Buckets(per_minute=60, burst=2, max_tracked=100)
>>> b.take("a", now=0.0), b.take("a", now=0.0), b.take("a", now=0.0)
(0.0, 0.0, 1.0)
>>> b.take("a", now=1.0)
0.0
"""
from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from time import monotonic

from ..errors import TracecodeError


class RateLimited(TracecodeError):
    """Over a rate limit: answered 429 with Retry-After (`retry_after` seconds, whole)."""

    def __init__(self, what: str, wait: float):
        self.retry_after = max(1, math.ceil(wait))
        super().__init__(f"too many queries {what}; try again in {self.retry_after} s")


class Buckets:
    """Token buckets by key (see the module's docstring)."""

    __slots__ = ("rate", "burst", "max_tracked", "refill_s", "_buckets")

    def __init__(self, per_minute: int, burst: int, max_tracked: int):
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.max_tracked = max_tracked
        self.refill_s = self.burst / self.rate     # idle this long: full again, forgettable
        self._buckets: OrderedDict = OrderedDict()

    def __len__(self):
        return len(self._buckets)

    def take(self, key, now: float | None = None) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there is (none taken)."""
        if now is None:
            now = monotonic()
        b = self._buckets.get(key)
        if b is None:
            self._forget(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = b[0] + (now - b[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        b[1] = now
        self._buckets.move_to_end(key)
        if tokens >= 1.0:
            b[0] = tokens - 1.0
            return 0.0
        b[0] = tokens
        return (1.0 - tokens) / self.rate

    def _forget(self, now: float) -> None:
        """Before a new bucket: drop the least recently used ones that are full again, and
        the least recently used one if the table is at its bound."""
        buckets = self._buckets
        while buckets:
            key = next(iter(buckets))
            if len(buckets) < self.max_tracked and now - buckets[key][1] < self.refill_s:
                return
            del buckets[key]


class Limiter:
    """The public window's two limits over WebSettings: `address(host)` before a query,
    `product(key)` once its answer names the product. Each raises RateLimited."""

    def __init__(self, settings):
        self.settings = settings
        self.addresses = Buckets(settings.per_address, settings.per_address_burst,
                                 settings.max_tracked) if settings.limits_addresses else None
        self.products = Buckets(settings.per_product, settings.per_product_burst,
                                settings.max_tracked) if settings.limits_products else None
        self._v6_prefix = settings.ipv6_prefix

    def address_key(self, host: str) -> str:
        """The key an address is counted under: itself, or for IPv6 its /ipv6_prefix."""
        if ":" not in host:
            return host
        try:
            addr = ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return host
        if addr.ipv4_mapped is not None:   # ::ffff:a.b.c.d is that IPv4 client
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, self._v6_prefix), strict=False))

    def address(self, host: str) -> None:
        if self.addresses is not None:
            wait = self.addresses.take(host if ":" not in host else self.address_key(host))
            if wait:
                raise RateLimited("from your address", wait)

    def product(self, key) -> None:
        if self.products is not None and key is not None:
            wait = self.products.take(key)
            if wait:
                raise RateLimited("about this product", wait)


# -- the two charges a route makes (authenticated callers are not rate-limited here) -----------
def charge_address(request) -> None:
    """Before a query: the client address's bucket (RateLimited: 429)."""
    limiter = getattr(request.app.state, "limiter", None)
    caller = getattr(request.state, "caller", None)
    if limiter is not None and (caller is None or not caller.authenticated):
        limiter.address(getattr(request.state, "client_host", None) or _peer(request))


def product_key(answer: dict):
    """What a code answer is counted under: its scheme and product when the answer names
    them; a code the index does not know names no product to the public, so the unknown
    codes of a scheme share one bucket (an enumeration is mostly those)."""
    product = answer.get("product")
    fields = product.get("fields") if isinstance(product, dict) else None
    scheme = answer.get("scheme")
    if fields:
        return (scheme, *fields.values())
    return (scheme, "found" if answer.get("found") else "not found")


def charge_product(request, answer: dict) -> None:
    """After a code's answer: its product's bucket (RateLimited: 429, the answer withheld)."""
    limiter = getattr(request.app.state, "limiter", None)
    caller = getattr(request.state, "caller", None)
    if limiter is not None and (caller is None or not caller.authenticated):
        limiter.product(product_key(answer))


def _peer(request) -> str:
    return request.client.host if request.client else ""
