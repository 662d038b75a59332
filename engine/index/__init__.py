"""The embedded LMDB index under a data directory (DIR/index): batches, lifecycle, scans."""
from .batches import BatchRecord, Batches
from .env import IndexFull, IndexReadOnly, open_env, run_write
from .index import Answer, Index, Verdict
from .lifecycle import ACTIONS, EventError, Status
from .lmdbfile import IndexDamaged
from .stamp import StampError

__all__ = ["ACTIONS", "Answer", "BatchRecord", "Batches", "EventError", "Index", "IndexDamaged", "IndexFull",
           "IndexReadOnly", "StampError",
           "Status", "Verdict", "open_env", "run_write"]
