"""Type stub of the scan parser's C core (_parse.pyx)."""
from enum import IntEnum
from typing import Any, Sequence

import numpy as np

SCAN_DTYPE: np.dtype
CSET_39: bytes
CSET_64: bytes

class Fault(IntEnum):
    OK = 0
    EMPTY = 1
    TOO_LONG = 2
    NOT_UTF8 = 3
    UNKNOWN_FORMAT = 4
    WRONG_LENGTH = 5
    BAD_CHARACTER = 6
    CHECK_MISMATCH = 7
    UNKNOWN_AI = 8
    BAD_AI_VALUE = 9
    MISSING_AI = 10
    INVALID_DATE = 11
    DUPLICATE_AI = 12
    INVALID_FIELD = 13
    EXPIRED_DATE = 14
    AMBIGUOUS = 15

class Form(IntEnum):
    NO_FORM = 0
    BARE = 1
    ELEMENT = 2
    HRI = 3
    DIGITAL_LINK = 4
    QR_FIELDS = 5
    URL = 6

class ScanCore:
    names: list[str]
    year: int
    def __init__(self, schemes: Sequence[Any], gs1_charset: bytes) -> None: ...
    def parse_one(self, data: bytes) -> tuple[int, int, int, int, int, bytes]: ...
    def parse_code(self, data: bytes) -> tuple[int, int, bytes, int]: ...
    def parse_packed(self, data: Any, offsets: Any, detail: bool = False, out: np.ndarray | None = None,
                     ambiguous: np.ndarray | None = None) -> Any: ...
