"""Errors on the wire: gRPC status codes with google.rpc details, both ways.

The server raises a Refusal (or lets an engine error through, mapped by refusal_of);
the guard in servicers.py turns it into a status with an ErrorInfo (domain
"tracecode", a reason, metadata) and the detail the code calls for: BadRequest
field violations for INVALID_ARGUMENT, ResourceInfo for NOT_FOUND,
PreconditionFailure for FAILED_PRECONDITION, QuotaFailure for RESOURCE_EXHAUSTED.
Clients get a ServiceError carrying all of it.
"""
from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2 as ed
from google.rpc import status_pb2

from ..errors import CapacityExceeded, TracecodeError, ValidationError
from ..index import EventError, IndexFull
from .audit import AuditError

DOMAIN = "tracecode"
DETAILS_KEY = "grpc-status-details-bin"
Code = grpc.StatusCode


class Refusal(Exception):
    """A call refused with a status code, a message and structured details."""

    def __init__(self, code: grpc.StatusCode, message: str, *, reason: str,
                 metadata: dict | None = None, details=()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = {k: str(v) for k, v in (metadata or {}).items() if v is not None}
        self.details = list(details)

    def status(self) -> grpc.Status:
        st = status_pb2.Status(code=self.code.value[0], message=self.message)
        for msg in [ed.ErrorInfo(reason=self.reason, domain=DOMAIN, metadata=self.metadata),
                    *self.details]:
            packed = any_pb2.Any()
            packed.Pack(msg)
            st.details.append(packed)
        return _Status(self.code, self.message, ((DETAILS_KEY, st.SerializeToString()),))


class _Status(grpc.Status):
    def __init__(self, code, details, trailing_metadata):
        self.code, self.details, self.trailing_metadata = code, details, trailing_metadata


# -- the refusals servicers raise ----------------------------------------------------------
def invalid(field: str, description: str, reason: str = "INVALID_ARGUMENT", **metadata) -> Refusal:
    bad = ed.BadRequest(field_violations=[ed.BadRequest.FieldViolation(field=field,
                                                                        description=description)])
    return Refusal(Code.INVALID_ARGUMENT, f"{field}: {description}", reason=reason,
                   metadata={"field": field, **metadata}, details=[bad])


def not_found(resource_type: str, name, description: str) -> Refusal:
    info = ed.ResourceInfo(resource_type=resource_type, resource_name=str(name),
                           description=description)
    return Refusal(Code.NOT_FOUND, description, reason=f"{resource_type.upper()}_NOT_FOUND",
                   metadata={"resource": resource_type, "name": name}, details=[info])


def precondition(kind: str, subject: str, description: str) -> Refusal:
    pf = ed.PreconditionFailure(violations=[ed.PreconditionFailure.Violation(
        type=kind, subject=subject, description=description)])
    return Refusal(Code.FAILED_PRECONDITION, description, reason=kind,
                   metadata={"subject": subject}, details=[pf])


def exhausted(subject: str, description: str, reason: str, **metadata) -> Refusal:
    qf = ed.QuotaFailure(violations=[ed.QuotaFailure.Violation(subject=subject,
                                                               description=description)])
    return Refusal(Code.RESOURCE_EXHAUSTED, description, reason=reason,
                   metadata={"subject": subject, **metadata}, details=[qf])


def denied(description: str, **metadata) -> Refusal:
    return Refusal(Code.PERMISSION_DENIED, description, reason="PERMISSION_DENIED", metadata=metadata)


def unauthenticated(description: str) -> Refusal:
    return Refusal(Code.UNAUTHENTICATED, description, reason="UNAUTHENTICATED")


def already_exists(kind: str, subject: str, description: str) -> Refusal:
    info = ed.ResourceInfo(resource_type=kind, resource_name=subject, description=description)
    return Refusal(Code.ALREADY_EXISTS, description, reason=f"{kind.upper()}_EXISTS",
                   metadata={"subject": subject}, details=[info])


def refusal_of(exc: BaseException, field: str = "") -> Refusal | None:
    """The refusal an engine error stands for; None for a fault of ours (INTERNAL).
    `field` names the request field the error is about, for validation errors."""
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, CapacityExceeded):
        return exhausted("product", str(exc), "CAPACITY_EXCEEDED", remaining=exc.remaining)
    if isinstance(exc, IndexFull):
        return exhausted("index", str(exc), "INDEX_FULL")
    if isinstance(exc, AuditError):
        return exhausted("audit_log", str(exc), "AUDIT_LOG_FULL")
    if isinstance(exc, ValidationError):
        name = f"{field}.{exc.field}" if field and exc.field else field or exc.field or "request"
        return invalid(name, str(exc), reason=type(exc).__name__.upper())
    if isinstance(exc, KeyError) and isinstance(exc, TracecodeError):  # e.g. an unknown approval
        msg = str(exc.args[0]) if exc.args else str(exc)
        return not_found(field or "resource", msg, msg)
    if isinstance(exc, EventError):
        return precondition("TRANSITION", str(exc.code or exc.event_id or ""), str(exc))
    if isinstance(exc, TracecodeError):  # valid request, refused by the state of things
        return Refusal(Code.FAILED_PRECONDITION, str(exc), reason=type(exc).__name__.upper())
    if isinstance(exc, ValueError):
        return invalid(field or "request", str(exc))
    return None


# -- the client's side -----------------------------------------------------------------------
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
    def from_rpc_error(cls, err: grpc.RpcError) -> "ServiceError":
        code, message = err.code(), err.details() or ""
        trailing = err.trailing_metadata() or ()
        raw = next((v for k, v in trailing if k == DETAILS_KEY), None)
        reason, metadata, violations, details = "", {}, [], []
        if raw is not None:
            for packed in status_pb2.Status.FromString(raw).details:
                for kind in (ed.ErrorInfo, ed.BadRequest, ed.ResourceInfo, ed.PreconditionFailure,
                             ed.QuotaFailure):
                    if packed.Is(kind.DESCRIPTOR):
                        msg = kind()
                        packed.Unpack(msg)
                        details.append(msg)
                        if kind is ed.ErrorInfo:
                            reason, metadata = msg.reason, dict(msg.metadata)
                        elif kind is ed.BadRequest:
                            violations += [(v.field, v.description) for v in msg.field_violations]
                        elif kind is not ed.ResourceInfo:
                            violations += [(v.subject, v.description) for v in msg.violations]
        return cls(code, message, reason=reason, metadata=metadata, violations=violations,
                   details=details)
