# Type stub of the compiled record writer (_puts.pyx). `env`, `txn` and `db` are py-lmdb objects.
from typing import Any

import numpy as np

def put_records(env: Any, txn: Any, db: Any, keys: bytes | np.ndarray, key_start: np.ndarray,
                key_len: np.ndarray, values: bytes | np.ndarray, value_start: np.ndarray,
                value_len: np.ndarray, order: np.ndarray) -> None: ...
