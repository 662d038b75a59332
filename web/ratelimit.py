"""Rate limits of the public window: token buckets per client address, per network and per
product, bounded, and under `tracecode serve` shared by all its workers.

A bucket holds up to `burst` tokens and refills at `per_minute`/60 a second; a query takes
one. A person's pace never empties it; a script's does, and then waits for the refill (the
refusal says how long: Retry-After). Three limits (WebSettings):

- per address: an IPv4 address, an IPv6 /64 (ipv6_prefix);
- per network, higher: the address's IPv4 /24 or IPv6 /48, so a holder of many addresses
  (a /48 is 65,536 /64s) cannot lift the per-address limit by cycling through them;
- per product: the product the scan names (its scheme and product fields, read from the
  code itself, known to the index or not), across every address. Only guesses are charged
  to it: an answer that finds no code (an enumeration is mostly those). A genuine code's
  answer takes no token, so repeating a real code from many addresses cannot empty its
  product's bucket (the per-address limits bound that), but once a product's guesses have
  emptied it, every query naming that product is refused until it refills, genuine ones
  too: answering those and refusing only the guesses would tell the guesser which of its
  codes are real. A product nobody is enumerating is never refused.

Where the buckets live: `tracecode serve` creates one table in shared memory before it
forks the workers (web/sharedbuckets.py), so the limits are the server's, whatever the
number of workers; an app created without one (one process: tests, an embedded server)
keeps its buckets in its own memory, in an OrderedDict ordered by last use (a bucket idle
long enough to be full again is the same as no bucket, so it is dropped as soon as it
reaches the front; past `max_tracked` the least recently used goes). Either way an
enumeration from many addresses costs a bounded amount of memory, and a query costs a few
lookups and float operations (a 429 costs no more: nothing else is done for it).

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
from . import sharedbuckets


class RateLimited(TracecodeError):
    """Over a rate limit: answered 429 with Retry-After (`retry_after` seconds, whole)."""

    def __init__(self, what: str, wait: float):
        self.retry_after = max(1, math.ceil(wait))
        super().__init__(f"too many queries {what}; try again in {self.retry_after} s")


class Buckets:
    """Token buckets by key in this process's memory (see the module's docstring)."""

    __slots__ = ("rate", "burst", "max_tracked", "refill_s", "_buckets")

    def __init__(self, per_minute: int, burst: int, max_tracked: int):
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.max_tracked = max_tracked
        self.refill_s = self.burst / self.rate     # idle this long: full again, forgettable
        self._buckets: OrderedDict = OrderedDict()

    def __len__(self):
        return len(self._buckets)

    def take(self, key, now: float | None = None, peek: bool = False) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there is (none taken).
        peek: only say, take nothing."""
        if now is None:
            now = monotonic()
        b = self._buckets.get(key)
        if b is None:
            if not peek:
                self._forget(now)
                self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = b[0] + (now - b[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        if peek:
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
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


class SharedBuckets:
    """One limit's buckets in the server's shared table (keys prefixed with the limit's name)."""

    __slots__ = ("table", "name", "rate", "burst")

    def __init__(self, table, name: str, per_minute: int, burst: int):
        self.table, self.name = table, name
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))

    def take(self, key, now: float | None = None, peek: bool = False) -> float:
        return self.table.take((self.name, key), self.rate, self.burst, now, peek)

    def __len__(self):
        return len(self.table)


def table_slots(settings) -> int:
    """The shared table's size for these settings: max_tracked buckets for each limit."""
    return settings.max_tracked * sum((settings.limits_addresses, settings.limits_networks,
                                       settings.limits_products))


class Limiter:
    """The public window's limits over WebSettings: `address(host)` before a query (its
    address's and its network's buckets), `product(key, found)` once its answer names the
    product. Each raises RateLimited. table: a SharedTable (default: the one `tracecode
    serve` shared before forking this worker, if any; else buckets in this process)."""

    def __init__(self, settings, table=None):
        self.settings = settings
        table = table if table is not None else sharedbuckets.current()

        def limit(name, on, per_minute, burst):
            if not on:
                return None
            if table is not None:
                return SharedBuckets(table, name, per_minute, burst)
            return Buckets(per_minute, burst, settings.max_tracked)
        self.addresses = limit("address", settings.limits_addresses, settings.per_address,
                               settings.per_address_burst)
        self.networks = limit("network", settings.limits_networks, settings.per_network,
                              settings.per_network_burst)
        self.products = limit("product", settings.limits_products, settings.per_product,
                              settings.per_product_burst)
        self.shared = table is not None
        self.table = table
        self._v6_prefix = settings.ipv6_prefix
        self._v4_net = settings.ipv4_network_prefix
        self._v6_net = settings.ipv6_network_prefix
        self._product_fields: dict = {}

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

    def network_key(self, host: str) -> str:
        """The network an address is also counted under: its IPv4 /24, its IPv6 /48.

        >>> from tracecode.web.settings import WebSettings
        >>> lim = Limiter(WebSettings())
        >>> lim.network_key("203.0.113.7"), lim.network_key("2001:db8:1:2::9")
        ('203.0.113.0/24', '2001:db8:1::/48')
        """
        key = self.address_key(host)
        if ":" not in key and self._v4_net == 24:   # the common case, without ipaddress
            head, dot, _ = key.rpartition(".")
            if dot and head.count(".") == 2:
                return head + ".0/24"
        try:
            addr = ipaddress.ip_address(key.partition("/")[0])
        except ValueError:
            return key
        prefix = self._v4_net if addr.version == 4 else self._v6_net
        return str(ipaddress.ip_network((addr, prefix), strict=False))

    def address(self, host: str) -> None:
        if self.addresses is not None:
            wait = self.addresses.take(host if ":" not in host else self.address_key(host))
            if wait:
                raise RateLimited("from your address", wait)
        if self.networks is not None:
            wait = self.networks.take(self.network_key(host))
            if wait:
                raise RateLimited("from your network", wait)

    def product(self, key, found: bool = False) -> None:
        """A guess (found False) takes a token of its product; a found code only needs one
        to be there (see the module's docstring)."""
        if self.products is not None and key is not None:
            wait = self.products.take(key, peek=found)
            if wait:
                raise RateLimited("about this product", wait)

    def product_key(self, service, answer: dict):
        """The product a code answer's scan names: its scheme and product fields, read from
        the code (the answer hides them from the public when the code is unknown). The
        canonical code is its fields end to end: a slice, or a parse when it is not."""
        code, scheme = answer.get("code"), answer.get("scheme")
        if not code:
            return (scheme, None)
        layout = self._product_fields.get(scheme)
        if layout is None and scheme in service.index.schemes:
            sch = service.index.schemes[scheme]
            layout = self._product_fields[scheme] = (sch.length, tuple(
                (sch.offset(f.name), sch.offset(f.name) + f.length) for f in sch.product_fields))
        if layout is not None and len(code) == layout[0]:
            return (scheme, *(code[a:b] for a, b in layout[1]))
        try:
            scan = service.index.parser.parse(code)
        except TracecodeError:
            return (scheme, None)
        if scan.scheme is None:    # GS1 data of no scheme of ours: its GTIN names the product
            return ("gs1", scan.ais.get("01") or code)
        names = tuple(f.name for f in service.index.schemes[scan.scheme].product_fields)
        return (scan.scheme, *(scan.fields.get(n) for n in names))


# -- the charges a route makes (authenticated callers are not rate-limited here) --------------
def charge_address(request) -> None:
    """Before a query: the client address's bucket (RateLimited: 429)."""
    limiter = getattr(request.app.state, "limiter", None)
    caller = getattr(request.state, "caller", None)
    if limiter is not None and (caller is None or not caller.authenticated):
        limiter.address(getattr(request.state, "client_host", None) or _peer(request))


def product_key(request, answer: dict):
    """What a code answer is counted under (Limiter.product_key)."""
    return request.app.state.limiter.product_key(request.app.state.service, answer)


def charge_product(request, answer: dict) -> None:
    """After a code's answer: its product's bucket (RateLimited: 429, the answer withheld)."""
    limiter = getattr(request.app.state, "limiter", None)
    caller = getattr(request.state, "caller", None)
    if limiter is not None and limiter.products is not None and (caller is None or not caller.authenticated):
        limiter.product(limiter.product_key(request.app.state.service, answer), bool(answer.get("found")))


def _peer(request) -> str:
    return request.client.host if request.client else ""
