"""Refusals as HTTP statuses: one table from each reason of tracecode.app (engine/app/refusal.py
REASONS) to the status an HTTP client reads, as bindings/status.py is for gRPC.

>>> from tracecode.app.refusal import Refusal
>>> http_status(Refusal("unknown_code"))
404
>>> http_status(Refusal("unauthenticated"))
401
"""
from __future__ import annotations

from ..app.refusal import REASONS, Refusal

# reason -> HTTP status (RFC 9110 and the ones the public window needs: 429, 507)
TABLE = {
    "invalid_argument": 400,
    "unreadable_scan": 400,
    "unknown_scheme": 404,
    "unknown_batch": 404,
    "unknown_code": 404,
    "unknown_approval": 404,
    "not_found": 404,
    "key_reused": 409,
    "duplicate_event": 409,
    "already_exists": 409,
    "unauthenticated": 401,
    "permission_denied": 403,
    "illegal_transition": 409,
    "no_registry": 501,           # this server offers no registry check: not a passing fault
    "refused": 422,               # well-formed, refused by the state of things
    "not_applied": 409,
    "capacity_exceeded": 409,     # the product has no codes left: no retry helps
    "index_full": 507,
    "audit_log_full": 507,
    "audit_incomplete": 507,
    "too_many_streams": 429,
    "too_many_captures": 429,
    "query_too_large": 413,       # EPCIS's QueryTooLargeException (web/epcis_problem.py)
    "unavailable": 503,           # a failover: Retry-After, then the same request again
    "internal": 500,
}
assert TABLE.keys() == REASONS.keys(), "every reason of tracecode.app has its HTTP status"

# the short phrase of the statuses the adapter itself answers (not from a refusal)
PHRASES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
           414: "URI Too Long", 415: "Unsupported Media Type", 422: "Unprocessable Content",
           429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable", 507: "Insufficient Storage"}


def http_status(refusal: Refusal) -> int:
    return TABLE[refusal.reason]
