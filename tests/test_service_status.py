"""The gRPC adapter's one table: every refusal reason of tracecode.app has a status code,
an ErrorInfo reason (the ones clients have always seen) and its google.rpc detail."""
import grpc
import pytest
from tracecode.app import REASONS, Refusal
from tracecode.v1 import status

Code = grpc.StatusCode


def details(refusal):
    st = status.grpc_status(refusal)
    raw = dict(st.trailing_metadata)[status.DETAILS_KEY]
    return st, {type(msg).__name__: msg for msg in status.unpacked(raw)}


def test_every_reason_has_a_status():
    assert set(status.TABLE) == set(REASONS)
    for reason in REASONS:
        st, info = details(Refusal(reason, "f", "why"))
        assert st.code is status.code_of(reason) and info["ErrorInfo"].domain == "tracecode"


@pytest.mark.parametrize("refusal,code,wire,detail", [
    (Refusal("unreadable_scan", "scan", "empty scan", fault="EMPTY"), Code.INVALID_ARGUMENT,
     "SCAN_EMPTY", "BadRequest"),
    (Refusal("invalid_argument", "count", "too many"), Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
     "BadRequest"),
    (Refusal("invalid_argument", "lot", "bad", error="InvalidFormat"), Code.INVALID_ARGUMENT,
     "INVALIDFORMAT", "BadRequest"),
    (Refusal("unknown_scheme", "product.scheme", "no", name="x"), Code.NOT_FOUND,
     "SCHEME_NOT_FOUND", "ResourceInfo"),
    (Refusal("key_reused", "idempotency_key", "used", subject="k"), Code.ALREADY_EXISTS,
     "IDEMPOTENCY_KEY_EXISTS", "ResourceInfo"),
    (Refusal("illegal_transition", "", "cannot sell", subject="e1"), Code.FAILED_PRECONDITION,
     "TRANSITION", "PreconditionFailure"),
    (Refusal("index_full", "", "full"), Code.RESOURCE_EXHAUSTED, "INDEX_FULL", "QuotaFailure"),
    (Refusal("too_many_streams", "", "8 open", client="c"), Code.RESOURCE_EXHAUSTED,
     "TOO_MANY_STREAMS", "QuotaFailure"),
    (Refusal("permission_denied", "", "no", client="c"), Code.PERMISSION_DENIED,
     "PERMISSION_DENIED", None),
])
def test_wire_reasons_are_the_ones_clients_know(refusal, code, wire, detail):
    st, info = details(refusal)
    assert (st.code, info["ErrorInfo"].reason) == (code, wire)
    assert detail is None or detail in info
    # a request field at fault leads the message, as it always did
    expected = f"{refusal.field}: {refusal.detail}" if code is Code.INVALID_ARGUMENT else refusal.detail
    assert st.details == expected
