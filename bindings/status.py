"""Errors on the wire: the application layer's refusals as gRPC statuses, and back.

The application layer (tracecode.app) refuses with Refusal(reason, field, detail);
this module is the one table from each reason to a gRPC status code, the ErrorInfo
reason clients have always seen (domain "tracecode", metadata from the refusal's
facts) and the google.rpc detail the code calls for: BadRequest field violations for
INVALID_ARGUMENT, ResourceInfo for NOT_FOUND and ALREADY_EXISTS, PreconditionFailure
for FAILED_PRECONDITION, QuotaFailure for RESOURCE_EXHAUSTED. Clients get a
ServiceError carrying all of it.
"""
from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2 as ed
from google.rpc import status_pb2

from ..app.refusal import REASONS, Refusal, refusal_of
from ..errors import TracecodeError

DOMAIN = "tracecode"
DETAILS_KEY = "grpc-status-details-bin"
Code = grpc.StatusCode
__all__ = ["Code", "Refusal", "ServiceError", "code_of", "grpc_status", "refusal_of"]


def _bad_request(r: Refusal, name: str):
    meta = {"field": r.field, **r.facts}
    meta.pop("error", None)
    return (f"{r.field}: {r.detail}", name, meta,
            [ed.BadRequest(field_violations=[ed.BadRequest.FieldViolation(
                field=r.field, description=r.detail)])])


def _resource(kind: str):
    def build(r: Refusal, name: str):
        resource = r.facts.get("resource", kind)
        return (r.detail, name or f"{resource.upper()}_NOT_FOUND",
                {"resource": resource, "name": r.facts.get("name", "")},
                [ed.ResourceInfo(resource_type=resource, resource_name=r.facts.get("name", ""),
                                 description=r.detail)])
    return build


def _exists(kind: str):
    def build(r: Refusal, name: str):
        subject = r.facts.get("subject", "")
        return (r.detail, name, {"subject": subject},
                [ed.ResourceInfo(resource_type=kind, resource_name=subject, description=r.detail)])
    return build


def _precondition(r: Refusal, name: str):
    subject = r.facts.get("subject", "")
    return (r.detail, name, {"subject": subject}, [ed.PreconditionFailure(violations=[
        ed.PreconditionFailure.Violation(type=name, subject=subject, description=r.detail)])])


def _quota(subject: str):
    def build(r: Refusal, name: str):
        return (r.detail, name, {"subject": subject, **r.facts},
                [ed.QuotaFailure(violations=[ed.QuotaFailure.Violation(subject=subject,
                                                                       description=r.detail)])])
    return build


def _plain(r: Refusal, name: str):
    facts = dict(r.facts)
    facts.pop("error", None)
    return r.detail, name, facts, []


# reason -> (status code, the ErrorInfo reason, how message, metadata and details are built).
# An ErrorInfo reason of None is computed: "SCAN_<fault>", "<resource>_NOT_FOUND", or the
# engine error's class name in capitals (facts["error"]).
TABLE = {
    "invalid_argument": (Code.INVALID_ARGUMENT, None, _bad_request),
    "unreadable_scan": (Code.INVALID_ARGUMENT, None, _bad_request),
    "unknown_scheme": (Code.NOT_FOUND, "SCHEME_NOT_FOUND", _resource("scheme")),
    "unknown_batch": (Code.NOT_FOUND, "BATCH_NOT_FOUND", _resource("batch")),
    "unknown_code": (Code.NOT_FOUND, "CODE_NOT_FOUND", _resource("code")),
    "unknown_approval": (Code.NOT_FOUND, "APPROVAL_NOT_FOUND", _resource("approval")),
    "not_found": (Code.NOT_FOUND, None, _resource("resource")),
    "key_reused": (Code.ALREADY_EXISTS, "IDEMPOTENCY_KEY_EXISTS", _exists("idempotency_key")),
    "duplicate_event": (Code.ALREADY_EXISTS, "EVENT_EXISTS", _exists("event")),
    "already_exists": (Code.ALREADY_EXISTS, None, _exists("resource")),
    "unauthenticated": (Code.UNAUTHENTICATED, "UNAUTHENTICATED", _plain),
    "permission_denied": (Code.PERMISSION_DENIED, "PERMISSION_DENIED", _plain),
    "illegal_transition": (Code.FAILED_PRECONDITION, "TRANSITION", _precondition),
    "no_registry": (Code.FAILED_PRECONDITION, "NO_REGISTRY", _precondition),
    "refused": (Code.FAILED_PRECONDITION, None, _plain),
    "not_applied": (Code.ABORTED, "NOT_APPLIED", _plain),
    "capacity_exceeded": (Code.RESOURCE_EXHAUSTED, "CAPACITY_EXCEEDED", _quota("product")),
    "index_full": (Code.RESOURCE_EXHAUSTED, "INDEX_FULL", _quota("index")),
    "audit_log_full": (Code.RESOURCE_EXHAUSTED, "AUDIT_LOG_FULL", _quota("audit_log")),
    "audit_incomplete": (Code.RESOURCE_EXHAUSTED, "AUDIT_INCOMPLETE", _quota("audit_log")),
    "too_many_streams": (Code.RESOURCE_EXHAUSTED, "TOO_MANY_STREAMS", _quota("streams")),
    "too_many_captures": (Code.RESOURCE_EXHAUSTED, "TOO_MANY_CAPTURES", _quota("captures")),
    "query_too_large": (Code.OUT_OF_RANGE, "QUERY_TOO_LARGE", _plain),   # EPCIS QueryTooLargeException
    "unavailable": (Code.UNAVAILABLE, "STORE_UNAVAILABLE", _plain),   # the clients retry it
    "internal": (Code.INTERNAL, "INTERNAL", _plain),
}
assert TABLE.keys() == REASONS.keys(), "every reason of tracecode.app has its gRPC status"


def code_of(reason: str) -> grpc.StatusCode:
    return TABLE[reason][0]


def _wire_reason(r: Refusal) -> str:
    if r.reason == "unreadable_scan":
        return f"SCAN_{r.facts.get('fault', 'INVALID_FIELD')}"
    if "error" in r.facts:    # an engine error's class, or a finer reason the verb names
        return r.facts["error"].upper()
    if r.reason == "not_found":
        return f"{r.facts.get('resource', 'resource').upper()}_NOT_FOUND"
    return "INVALID_ARGUMENT" if r.reason == "invalid_argument" else r.reason.upper()


def grpc_status(r: Refusal) -> grpc.Status:
    """The status (code, message, google.rpc details in the trailing metadata) of a refusal."""
    code, name, build = TABLE[r.reason]
    message, name, metadata, details = build(r, name or _wire_reason(r))
    st = status_pb2.Status(code=code.value[0], message=message)
    for msg in [ed.ErrorInfo(reason=name, domain=DOMAIN,
                             metadata={k: str(v) for k, v in metadata.items() if v is not None}),
                *details]:
        packed = any_pb2.Any()
        packed.Pack(msg)
        st.details.append(packed)
    return _Status(code, message, ((DETAILS_KEY, st.SerializeToString()),))


class _Status(grpc.Status):
    def __init__(self, code, details, trailing_metadata):
        self.code, self.details, self.trailing_metadata = code, details, trailing_metadata


# -- the client's side -----------------------------------------------------------------------
DETAIL_KINDS = (ed.ErrorInfo, ed.BadRequest, ed.ResourceInfo, ed.PreconditionFailure, ed.QuotaFailure)


def unpacked(raw: bytes) -> list:
    """The google.rpc detail messages of a packed grpc-status-details-bin value, of the
    kinds this service sends (others are skipped)."""
    out = []
    for packed in status_pb2.Status.FromString(raw).details:
        for kind in DETAIL_KINDS:
            if packed.Is(kind.DESCRIPTOR):
                msg = kind()
                packed.Unpack(msg)
                out.append(msg)
    return out


class ServiceError(TracecodeError):
    """A call the server refused (or could not complete): the gRPC code, the message and
    the details (``reason``, ``metadata``, ``violations`` as (field or subject, description))."""

    def __init__(self, code: grpc.StatusCode, message: str, *, reason: str = "",
                 metadata: dict | None = None, violations=(), details=()):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.violations = list(violations)
        self.details = list(details)

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> ServiceError:
        code, message = err.code(), err.details() or ""
        trailing = err.trailing_metadata() or ()
        raw = next((v for k, v in trailing if k == DETAILS_KEY), None)
        reason, metadata, violations = "", {}, []
        details = unpacked(raw) if raw is not None else []
        for msg in details:
            if isinstance(msg, ed.ErrorInfo):
                reason, metadata = msg.reason, dict(msg.metadata)
            elif isinstance(msg, ed.BadRequest):
                violations += [(v.field, v.description) for v in msg.field_violations]
            elif not isinstance(msg, ed.ResourceInfo):
                violations += [(v.subject, v.description) for v in msg.violations]
        return cls(code, message, reason=reason, metadata=metadata, violations=violations,
                   details=details)
