"""Durable counter reservations: the source of uniqueness.

Each (scheme, product) has a next-free counter. Reserving N codes advances it
by N in one write transaction and returns the old value; the codes are only
computed (by FF1) after that transaction has committed, so a crash at any
point can lose counters but never hand one out twice.
"""
from ..errors import CapacityExceeded

_U64 = 8


class Counters:
    def __init__(self, env):
        self.env = env
        self.db = env.open_db(b"counters")

    @staticmethod
    def _key(scheme: str, product_key: bytes) -> bytes:
        return scheme.encode() + b"\x00" + product_key

    def issued(self, scheme: str, product_key: bytes) -> int:
        """Counters reserved so far for this product (the next start)."""
        with self.env.begin(db=self.db) as txn:
            raw = txn.get(self._key(scheme, product_key))
        return int.from_bytes(raw, "big") if raw else 0

    def reserve(self, scheme: str, product_key: bytes, count: int, capacity: int) -> int:
        """Reserve `count` counters; return the first. Refuses past `capacity`."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        key = self._key(scheme, product_key)
        with self.env.begin(write=True, db=self.db) as txn:
            raw = txn.get(key)
            start = int.from_bytes(raw, "big") if raw else 0
            if start + count > capacity:
                remaining = capacity - start
                raise CapacityExceeded(
                    f"refusing to issue {count:,} codes: this product has {remaining:,} of its "
                    f"{capacity:,} left under the 1/10,000 guessing bound (EU 2016/161 Art. 4)",
                    remaining=remaining)
            txn.put(key, (start + count).to_bytes(_U64, "big"))
        return start
