# Type stub of the compiled record writers (_puts.pyx). `env`, `txn` and `db` are py-lmdb objects.
from typing import Any

import numpy as np

def put_records(env: Any, txn: Any, db: Any, keys: bytes | np.ndarray, key_start: np.ndarray,
                key_len: np.ndarray, values: bytes | np.ndarray, value_start: np.ndarray,
                value_len: np.ndarray, order: np.ndarray) -> None: ...
def put_new(env: Any, txn: Any, db: Any, keys: np.ndarray, key_start: np.ndarray, key_len: np.ndarray,
            value: np.ndarray, existed: np.ndarray, order: np.ndarray | None = None) -> int: ...
