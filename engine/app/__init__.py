"""The application layer: what every interface (the gRPC adapter in tracecode.v1, the
command line, the HTTP adapter next) goes through, with no transport in it.

    caller.py     Caller (name, roles, products, how authenticated), ProductRule, LOCAL
    clients.py    the clients file: token hashes, certificate names, roles, products
    rights.py     which roles may call which verb; products, SSCCs and containers reached
    refusal.py    Refusal(reason, field, detail): the reasons, named for what happened
    limits.py     bounds on one request (stored text is bounded by tracecode.limits)
    audit.py      the audit log: intents and outcomes, refusals (rate-limited when anonymous)
    auditchain.py the audit log's hash chain, MACs, signed checkpoints and the audit key
    auditverify.py  checking the chain: the first broken record named
    privacy.py    personal information: a scanner's scans purged, audited
    idempotency.py  one batch per (client, idempotency key), ever
    streams.py    open streams per client
    service.py    Service: the verbs (issue, download, verify, check, apply_events, ...)
    local.py      LocalClient: the verbs of tracecode.v1.Client over a Service on DIR
"""
from .caller import LOCAL, OPERATOR, ROLES, Caller, ProductRule
from .refusal import REASONS, Refusal
from .service import Service

__all__ = ["LOCAL", "OPERATOR", "REASONS", "ROLES", "Caller", "ProductRule", "Refusal", "Service"]
