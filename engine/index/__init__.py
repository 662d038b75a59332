"""The index under a data directory (DIR/index): verdicts, lifecycle events, history.

Its storage (LMDB: batches, per-code records, the scan log) is tracecode.store.lmdb."""
from ..store.lmdb.batches import BatchRecord, Batches
from ..store.lmdb.env import IndexFull, IndexReadOnly, open_env, run_write
from ..store.lmdb.lmdbfile import IndexDamaged
from ..store.lmdb.stamp import StampError
from .index import Answer, Index, Verdict
from .lifecycle import ACTIONS, EventError, Status

__all__ = ["ACTIONS", "Answer", "BatchRecord", "Batches", "EventError", "Index", "IndexDamaged", "IndexFull",
           "IndexReadOnly", "StampError",
           "Status", "Verdict", "open_env", "run_write"]
