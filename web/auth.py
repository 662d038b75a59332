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
