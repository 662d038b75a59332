"""The gRPC adapter's limits (message sizes, and what they bound), next to the
application layer's (tracecode.app.limits, re-exported here), all announced by
Admin.WhoAmI. A request over a limit is refused with INVALID_ARGUMENT naming the field,
before any work.
"""
from .. import limits as engine
from ..app.limits import (  # noqa: F401
    DEFAULT_BATCH_PAGE,
    DEFAULT_CHUNK_CODES,
    MAX_BATCH_CODES,
    MAX_BATCH_PAGE,
    MAX_CHUNK_CODES,
    MAX_CODES_PER_EVENT,
    MAX_EVENTS_PER_BATCH,
    MAX_HISTORY_ITEMS,
    MAX_KEY_LENGTH,
    MAX_SCAN_BYTES,
    MAX_SCANS_PER_BATCH,
    MAX_STREAMS_PER_CLIENT,
)
from . import admin_pb2 as apb
from . import common_pb2 as pb

MAX_MESSAGE_BYTES = 16 << 20        # either direction (gRPC's default is 4 MiB received)
MAX_CHUNK_BYTES = 8 << 20           # a chunk stays well under MAX_MESSAGE_BYTES
MAX_CHECK_ANSWERS = 10_000          # per CheckBatchRequest with answers (about 1 KB each)
MAX_VERIFY_ANSWERS = 10_000         # per VerifyBatchRequest with answers (at most ~1 KB each:
                                    # 100,000 of them passed MAX_MESSAGE_BYTES, the reply unsendable)

GRPC_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]


def message() -> pb.Limits:
    return pb.Limits(max_message_bytes=MAX_MESSAGE_BYTES, max_batch_codes=MAX_BATCH_CODES,
                     max_chunk_codes=MAX_CHUNK_CODES, max_scans_per_batch=MAX_SCANS_PER_BATCH,
                     max_events_per_batch=MAX_EVENTS_PER_BATCH,
                     max_codes_per_event=MAX_CODES_PER_EVENT, max_scan_bytes=MAX_SCAN_BYTES,
                     max_check_answers_per_batch=MAX_CHECK_ANSWERS,
                     max_streams_per_client=MAX_STREAMS_PER_CLIENT,
                     max_verify_answers_per_batch=MAX_VERIFY_ANSWERS)


def field_limits() -> apb.FieldLimits:
    """The engine's bounds on stored text, as Admin.WhoAmI announces them."""
    return apb.FieldLimits(place_bytes=engine.PLACE_BYTES, scanner_id_bytes=engine.SCANNER_ID_BYTES,
                           event_id_chars=engine.EVENT_ID_CHARS,
                           idempotency_key_chars=engine.IDEMPOTENCY_KEY_CHARS,
                           reason_bytes=engine.REASON_BYTES, lot_chars=engine.LOT_CHARS,
                           line_bytes=engine.LINE_BYTES, attribute_bytes=engine.ATTRIBUTE_BYTES,
                           earliest_time=engine.EARLIEST_TIME,
                           future_slack_seconds=engine.FUTURE_SLACK_S)
