# Type stub of the compiled registration kernel (_register.pyx).
from typing import Any

import numpy as np

def put_new(env: Any, txn: Any, db: Any, keys: np.ndarray, offsets: np.ndarray, value: np.ndarray,
            existed: np.ndarray, order: np.ndarray | None = None) -> int: ...
