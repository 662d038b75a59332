# Type stub of the compiled imported-code key builder (_scankeys.pyx).
import numpy as np

def measure(data: np.ndarray, offsets: np.ndarray, rows: np.ndarray, key_limit: int,
            row_limit: int) -> tuple[np.ndarray, np.ndarray]: ...
def fill(data: np.ndarray, offsets: np.ndarray, rows: np.ndarray, key_off: np.ndarray,
         buf: np.ndarray, skip: np.ndarray) -> None: ...
