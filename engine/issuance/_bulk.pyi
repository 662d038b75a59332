import numpy as np

from ..checks import CheckSystem
from ..fpe.ff1 import FF1

def fill(ff1: FF1, check: CheckSystem | None, template: bytes, serial_at: int, check_from: int,
         check_to: int, start: int, out: np.ndarray) -> None: ...
