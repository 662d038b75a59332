"""The embedded LMDB index under a data directory (DIR/index): batches, lifecycle, scans."""
from .batches import BatchRecord, Batches
from .env import IndexFull, open_env, run_write
from .index import Answer, Index, Verdict
from .lifecycle import ACTIONS, EventError, Status

__all__ = ["ACTIONS", "Answer", "BatchRecord", "Batches", "EventError", "Index", "IndexFull",
           "Status", "Verdict", "open_env", "run_write"]
