"""Who is calling over HTTP: `Authorization: Bearer TOKEN` names a client of the clients file
(service.clients.by_token, the same file the gRPC adapter reads); no Authorization header
is the public (tracecode.app.caller.PUBLIC); any other header is refused (401).

A server without a clients file is open to its host over gRPC (every caller LOCAL, an
admin); over HTTP it is not: the public window faces the Internet, so a request without a
token is always PUBLIC, and a token means nothing until a clients file lists it.
"""
from __future__ import annotations

from ..app.caller import PUBLIC, Caller
from ..app.refusal import Refusal

CHALLENGE = 'Bearer realm="tracecode"'
BAD_TOKEN = 'Bearer realm="tracecode", error="invalid_token"'


def caller_of(service, authorization: str | None) -> Caller:
    """The Caller of a request with this Authorization header (None: none sent)."""
    if authorization is None:
        return PUBLIC
    kind, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if kind.lower() != "bearer" or not token:
        raise Refusal("unauthenticated", "authorization", "the Authorization header must be "
                      "'Bearer <token>' (or leave it out to query as the public)")
    if service.clients.open:
        raise Refusal("unauthenticated", "authorization", "this server has no clients file: "
                      "no token is known (leave the Authorization header out to query as the public)")
    who = service.clients.by_token(token)
    if who is None:
        raise Refusal("unauthenticated", "authorization", "unknown or revoked token")
    return who


def challenge(refusal: Refusal) -> dict:
    """The WWW-Authenticate header of a 401 (RFC 6750: invalid_token when one was sent)."""
    return {"www-authenticate": BAD_TOKEN if refusal.field == "authorization" else CHALLENGE}


def client_host(scope, settings) -> str:
    """The client's address: the peer's, or behind a trusted proxy the last address the
    forwarded header names that is not itself a trusted proxy (the first ones are the
    client's own claims, which anybody can write). trusted_proxies may hold CIDR networks
    (10.0.0.0/8): a proxy pool."""
    peer = scope.get("client")
    host = peer[0] if peer else ""
    header = settings.forwarded_header
    if header is None or not settings.is_trusted_proxy(host):
        return host
    raw = header.encode("latin-1")
    named = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == raw]
    hops = [h.strip() for h in ",".join(named).split(",") if h.strip()]
    for hop in reversed(hops):
        if not settings.is_trusted_proxy(hop):
            return hop
    return hops[0] if hops else host   # every hop a trusted proxy: the first is the client


class RefusalLog:
    """Which refused credentials reach the audit log: the first from an address in a
    minute; the others are counted and that count is said in the address's next line (a
    flood of bad tokens from one address is one line a minute, not one a request; under
    `tracecode serve` a minute of the server's shared buckets). Bounded: past `max_tracked`
    addresses the oldest are forgotten (their counts too: the audit log's own limit,
    Audit.write_unauthenticated, still bounds the total).

    >>> log = RefusalLog(window_s=60)
    >>> log.admit("a", now=0.0), log.admit("a", now=1.0), log.admit("a", now=2.0), log.admit("a", now=61.0)
    (0, None, None, 2)
    """

    def __init__(self, window_s: float = 60.0, max_tracked: int = 4096):
        from collections import OrderedDict
        self.window_s = window_s
        self.max_tracked = max_tracked
        self._seen: OrderedDict = OrderedDict()   # key -> [time of its last line, refusals since]

    def admit(self, key: str, now: float | None = None, table=None) -> int | None:
        """None: count it, no line; else write a line, saying this many were left out.
        table: the server's shared buckets (web/sharedbuckets.py), so that the minute is
        the server's and not each worker's (the count left out is this worker's)."""
        if now is None:
            from time import monotonic
            now = monotonic()
        seen = self._seen.get(key)
        if table is not None:
            if table.take(("audit", key), 1.0 / self.window_s, 1.0, now):
                if seen is None:
                    seen = self._seen[key] = [now, 0]
                seen[1] += 1
                return None
        elif seen is not None and now - seen[0] < self.window_s:
            seen[1] += 1
            return None
        left_out = seen[1] if seen is not None else 0
        self._seen[key] = [now, 0]
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_tracked:
            self._seen.popitem(last=False)
        return left_out


def refused_credentials(app, caller, method: str, host: str, refusal: Refusal) -> None:
    """A request refused for its credentials (a bad token; none where one is needed): it
    costs its address a query like any other (RateLimited past the limit: 429, not
    audited), and its audit line is bounded (RefusalLog). A known client's refusal of
    rights (caller given) is always offered to the audit log, which limits it per client."""
    state = app.state
    if caller is not None and caller.authenticated:
        state.service.denied_audit(caller, method, host, refusal)
        return
    limiter = getattr(state, "limiter", None)
    if limiter is not None:
        limiter.address(host)
    log = getattr(state, "refusal_log", None)
    if log is None:
        log = state.refusal_log = RefusalLog()
    left_out = log.admit(host if limiter is None else limiter.address_key(host),
                         table=limiter.table if limiter is not None else None)
    if left_out is None:
        return
    if left_out:
        refusal = Refusal(refusal.reason, refusal.field, f"{refusal.detail} (and {left_out} more "
                          "refused from this address since its last line, not logged)")
    state.service.denied_audit(None, method, host, refusal)
