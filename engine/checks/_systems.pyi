# Type stub of the compiled check-character systems (_systems.pyx).
import numpy as np

DIGITS: str
ALNUM: str

class CheckSystem:
    name: str
    check_len: int
    alphabet: str
    check_alphabet: str
    def compact(self, code: str) -> str: ...
    def calc(self, payload: str) -> str: ...
    def validate(self, code: str) -> str: ...
    def is_valid(self, code: object) -> bool: ...
    def calc_many(self, payloads: np.ndarray, out: np.ndarray | None = ...) -> np.ndarray: ...
    def validate_many(self, codes: np.ndarray, out: np.ndarray | None = ...) -> np.ndarray: ...

GS1: CheckSystem
LUHN: CheckSystem
LUHN36: CheckSystem
VERHOEFF: CheckSystem
DAMM: CheckSystem
MOD11_2: CheckSystem
MOD37_2: CheckSystem
MOD97_10: CheckSystem
MOD11_10: CheckSystem
MOD37_36: CheckSystem
SYSTEMS: dict[str, CheckSystem]

def get(name: str) -> CheckSystem: ...
