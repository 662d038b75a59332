"""Records both stores keep alike: a batch as the domain reads it, and where product ids start."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

FIRST_PRODUCT_ID = 16      # code keys of ours start with a zero byte; below 2**24


@dataclass(frozen=True)
class BatchRecord:
    id: int
    scheme: str
    product: dict
    start: int
    count: int
    lot: str | None = None
    expiry: str | None = None         # YYMMDD (GS1) or YYYYMMDD, as given
    line: str | None = None           # production line
    requester: str | None = None
    time: float = 0.0
    attributes: dict = field(default_factory=dict)
    key_version: int = 1              # the master-key version its codes are under (keyring.py)

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "BatchRecord":
        return cls(**json.loads(raw))
