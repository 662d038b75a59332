import numpy as np

MIN_DOMAIN: int
MAX_TWEAK: int
DEFAULT_CHUNK: int
DEFAULT_ALPHABET: str

class FF1:
    radix: int
    length: int
    u: int
    v: int
    b: int
    d: int
    alphabet: bytes
    def __init__(self, key: bytes, tweak: bytes, radix: int, length: int,
                 alphabet: str | bytes | None = ..., chunk: int = ...) -> None: ...
    @property
    def domain(self) -> int: ...
    @property
    def chunk(self) -> int: ...
    def encrypt(self, numerals: str | bytes) -> str | bytes: ...
    def decrypt(self, numerals: str | bytes) -> str | bytes: ...
    def encrypt_counters(self, start: int, count: int, out: np.ndarray | None = ...) -> np.ndarray: ...
    def decrypt_counters(self, serials: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
