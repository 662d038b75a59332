# Type stub of the compiled per-code record kernels (_codes.pyx): LMDB's C API inside
# py-lmdb's transactions. `env`, `txn` and `db` are py-lmdb objects.
from typing import Any

import numpy as np

MAX_PLACES: int
KEY_LIMIT: int
CONTAINER_DEPTH: int
STATE: bytes
PARENT: bytes
SEEN: bytes   # format 2's kind byte of a summary under its code key (seen_db=None)

def key_prefixes(keys: np.ndarray, offsets: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> None: ...
def read_codes(env: Any, txn: Any, db: Any, keys: np.ndarray, offsets: np.ndarray,
               place_hash: int, status: np.ndarray, seq: np.ndarray, count: np.ndarray,
               places: np.ndarray, first_time: np.ndarray, first_seq: np.ndarray,
               order: np.ndarray | None = None, seen_db: Any = None) -> None: ...
def read_code(env: Any, txn: Any, db: Any, key: bytes, place_hash: int,
              seen_db: Any = None) -> tuple[int, int, int, tuple[int, ...], float | None, int, int]: ...
def get_values(env: Any, txn: Any, db: Any, keys: np.ndarray, offsets: np.ndarray,
               found: np.ndarray, which: np.ndarray | None = None) -> list[bytes]: ...
def record_scans(env: Any, txn: Any, db_codes: Any, db_scans: Any, first: int,
                 keys: np.ndarray, offsets: np.ndarray, verdicts: np.ndarray,
                 sources: np.ndarray, prefixes: np.ndarray, prefix_off: np.ndarray,
                 hashes: np.ndarray, times: np.ndarray, order: np.ndarray | None = None,
                 seen_db: Any = None) -> None: ...
