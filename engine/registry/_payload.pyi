# Type stub of the compiled QR-payload field reader (_payload.pyx).
import numpy as np

def third_fields(data: np.ndarray, offsets: np.ndarray, rows: np.ndarray,
                 width: int) -> np.ndarray: ...
