"""The service's limits, whatever the transport: what one request may make a server
process hold or do. A request over a limit is refused (invalid_argument naming the
field) before any work. Stored text (place, scanner, lot, reason...) is bounded by the
engine itself (engine/limits.py); message sizes are the transport's (bindings/limits.py).
"""
from .. import limits as engine

MAX_BATCH_CODES = 100_000_000       # per issue: a few minutes of download
DEFAULT_CHUNK_CODES = 1 << 16       # per downloaded chunk: about 1.3 MB of cn-drug-20 codes
MAX_CHUNK_CODES = 1 << 20
MAX_SCANS_PER_BATCH = 100_000       # per verify_many batch (about 0.2 s of verification)
MAX_EVENTS_PER_BATCH = 10_000       # per apply_events message
MAX_CODES_PER_EVENT = 1_000_000     # per event or code report
MAX_SCAN_BYTES = 4096               # the scan parser refuses longer input anyway
MAX_HISTORY_ITEMS = 10_000
MAX_STREAMS_PER_CLIENT = 8          # open streaming calls per client and server process
MAX_BATCH_PAGE = 10_000             # list_batches
DEFAULT_BATCH_PAGE = 1_000
MAX_KEY_LENGTH = engine.EVENT_ID_CHARS   # idempotency keys and event ids
