"""Refusals: why the application layer said no, in words any transport can carry.

A Refusal is (reason, field, detail): `reason` is one of REASONS (named for what
happened, not for a transport's status code), `field` the request field at fault when
one is, `detail` the sentence a person reads; `facts` holds what a machine may want
(the client, the code, the number of codes left...). Each adapter has one table from
reason to its own status: bindings/status.py for gRPC (a status code and google.rpc
details), the coming HTTP adapter another. Nothing here knows a transport.
"""
from __future__ import annotations

import logging
import re

from ..errors import CapacityExceeded, TracecodeError, UnknownApproval, ValidationError

# A refusal echoes what the client sent (a code, a field name, a scheme...): bounded here,
# where every refusal is made, so no transport carries a client's megabytes back (gRPC
# puts the detail and facts in trailing metadata, which clients drop past 8-16 KiB) and
# the audit log's record of a refusal stays a line.
QUOTE_CHARS = 64            # of one echoed value in a sentence (a run of text without spaces)
FACT_CHARS = 128            # of a fact (a machine's: a GS1 element string as a subject stays whole)
FIELD_CHARS = 128           # of the field's name (product.fields.<name>...)
DETAIL_BYTES = 1024         # of the whole sentence, in UTF-8
_LONG_RUN = re.compile(rf"[^\s,;:]{{{QUOTE_CHARS + 1},}}")
# a store's own words name its server (user, database, hosts, ports): the operator's, in the
# log the servers write; the caller is told only that it may retry
UNAVAILABLE_DETAIL = "the store is unavailable; retry"
log = logging.getLogger("tracecode.serve")

# reason -> what happened (the families a transport maps to its codes)
REASONS = {
    # the request itself is wrong
    "invalid_argument": "a request field is missing, malformed or over its bound",
    "unreadable_scan": "a scan that verification could not read (facts: fault, position)",
    # it names something that is not there
    "unknown_scheme": "no scheme of that name",
    "unknown_batch": "no batch of that id",
    "unknown_code": "a code the index does not know",
    "unknown_approval": "an approval or registration number not in the registry",
    "not_found": "something else the request names is not there (facts: resource, name)",
    # it collides with what is there
    "key_reused": "an idempotency key used before for a different request",
    "already_exists": "a name the caller has given something already (facts: resource, name)",
    "duplicate_event": "an event id of this client used before for a different event",
    # who is calling
    "unauthenticated": "no credentials, or credentials naming no known client",
    "permission_denied": "the caller's roles or products do not allow it",
    # the state of things refuses it
    "illegal_transition": "a lifecycle event the code's state does not allow",
    "no_registry": "a registry check on a data directory without a registry",
    "refused": "a valid request the engine refused (facts: error, the engine's error)",
    "not_applied": "not applied because another event of an atomic call was refused",
    # out of room
    "capacity_exceeded": "the product has no more codes to give (facts: remaining)",
    "index_full": "the index's disk or map is full: nothing written",
    "audit_log_full": "the audit log took no record: nothing done",
    "audit_incomplete": "done, but its audit line is missing (its intent is logged)",
    "too_many_streams": "the caller has its limit of open streams",
    "too_many_captures": "too many captures wait in this server process (facts: retry_after)",
    "query_too_large": "a query answers more events than its maxEventCount (facts: max_event_count)",
    # not now
    "unavailable": "the store cannot be reached now (a failover under way): the same call may be repeated",
    # ours
    "internal": "a fault of the server's (see its log)",
}


class Refusal(TracecodeError):
    """A call refused: reason (one of REASONS), field (or ""), detail (a sentence), facts."""

    def __init__(self, reason: str, field: str = "", detail: str = "", **facts):
        if reason not in REASONS:  # a typo would reach a client as an unmapped status
            raise ValueError(f"unknown refusal reason {reason!r}")
        detail = bounded(str(detail or REASONS[reason]))
        super().__init__(detail)
        self.reason = reason
        self.field = clip(str(field or ""), FIELD_CHARS)
        self.detail = detail
        self.facts = {k: clip(str(v), FACT_CHARS) for k, v in facts.items() if v is not None}

    def __repr__(self):
        return f"Refusal({self.reason!r}, {self.field!r}, {self.detail!r})"


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` itself if at most `limit` characters, else its first `limit` and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…({len(text):,} characters)"


def quote(value, limit: int = QUOTE_CHARS) -> str:
    """A client's value for a refusal's sentence: repr'd, at most `limit` characters of it."""
    text = value if isinstance(value, str) else str(value)
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}…({len(text):,} characters)"


def bounded(detail: str) -> str:
    """A refusal's sentence with every echoed run over QUOTE_CHARS clipped (saying its
    length) and the whole at most DETAIL_BYTES of UTF-8."""
    if len(detail) > QUOTE_CHARS:
        detail = _LONG_RUN.sub(lambda m: clip(m.group()), detail)
    raw = detail.encode("utf-8", "replace")
    if len(raw) > DETAIL_BYTES:
        detail = (raw[:DETAIL_BYTES - 40].decode("utf-8", "ignore")
                  + f"…({len(detail):,} characters in all)")
    return detail


# -- the shapes used most ----------------------------------------------------------------------
def invalid(field: str, detail: str, **facts) -> Refusal:
    return Refusal("invalid_argument", field, detail, **facts)


def denied(detail: str, **facts) -> Refusal:
    return Refusal("permission_denied", "", detail, **facts)


def refusal_of(exc: BaseException, field: str = "") -> Refusal | None:
    """The refusal an engine error stands for; None for a fault of ours (internal).
    `field` names the request field the error is about, for validation errors."""
    from ..index import EventError, IndexFull  # the index imports heavy modules: late
    from ..store.errors import StoreUnavailable
    from .audit import AuditError
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, CapacityExceeded):
        return Refusal("capacity_exceeded", "", str(exc), remaining=exc.remaining)
    if isinstance(exc, IndexFull):
        return Refusal("index_full", "", str(exc))
    if isinstance(exc, StoreUnavailable):
        log.warning("store unavailable: %s", exc)
        return Refusal("unavailable", "", UNAVAILABLE_DETAIL)
    if isinstance(exc, AuditError):
        return Refusal("audit_log_full", "", str(exc))
    if isinstance(exc, ValidationError):
        name = f"{field}.{exc.field}" if field and exc.field else field or exc.field or "request"
        return invalid(name, str(exc), error=type(exc).__name__)
    if isinstance(exc, KeyError) and isinstance(exc, TracecodeError):  # e.g. an unknown approval
        msg = str(exc.args[0]) if exc.args else str(exc)
        if isinstance(exc, UnknownApproval):
            return Refusal("unknown_approval", field, msg, name=msg)
        return Refusal("not_found", field, msg, resource=field or "resource", name=msg)
    if isinstance(exc, EventError):
        return Refusal("illegal_transition", "", str(exc), subject=str(exc.code or exc.event_id or ""))
    if isinstance(exc, TracecodeError):  # valid request, refused by the state of things
        return Refusal("refused", "", str(exc), error=type(exc).__name__)
    if isinstance(exc, ValueError):
        return invalid(field or "request", str(exc))
    return None
