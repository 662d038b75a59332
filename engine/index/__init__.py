"""The embedded LMDB index under a data directory (DIR/index)."""
from .env import open_env
from .counters import Counters

__all__ = ["Counters", "open_env"]
