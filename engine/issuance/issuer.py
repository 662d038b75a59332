"""Issuing the codes of one product: FF1 serials, rendered in bulk.

An Issuer is pure computation: given counters it produces codes, always the
same codes for the same counters (so any range can be re-rendered later).
Which counters are free is the index's business (DataDir.issue reserves them).
"""
from __future__ import annotations

import numpy as np

from ..errors import CapacityExceeded, InvalidComponent
from ..fpe.ff1 import FF1
from ..keys import Key
from ..schemes import Scheme, layout
from ._bulk import fill

DEFAULT_WRITE_CHUNK = 1 << 20  # codes per write(): a few tens of MB, reused


class Issuer:
    """Codes of one scheme for one product.

    >>> from tracecode import schemes, Key
    >>> iss = Issuer(schemes.get("cn-drug-20"), {"drug_id": "8177322"}, Key(bytes(32)))
    >>> codes = iss.codes(0, 3)
    >>> codes.dtype, len(set(codes.tolist()))
    (dtype('S20'), 3)
    >>> all(iss.scheme.is_valid(c.decode()) for c in codes)
    True
    >>> iss.counters(codes)[0].tolist()
    [0, 1, 2]
    """

    def __init__(self, scheme: Scheme, product: dict, master_key: Key):
        if scheme.external:   # a maker's or authority's codes: registered, never issued
            raise InvalidComponent(f"{scheme.name} codes are assigned by others, never issued here: "
                                   f"register them (tracecode register)", field="scheme")
        self.scheme = scheme
        self.product = scheme.product_values(product)
        self.product_key = scheme.product_key(self.product)
        suite = master_key.suite
        self.key_version = master_key.version   # the master-key version these codes are under
        key = master_key.derive("ff1", scheme.name.encode(), self.product_key, length=suite.ff1_key_bytes)
        ser = scheme.serial
        self._ff1 = FF1(bytes(key), scheme.tweak(self.product), len(ser.alphabet), ser.length,
                        alphabet=ser.alphabet, cipher=suite.ff1_cipher)
        self._check = scheme.check_system
        self._serial_at = scheme.offset(ser.name)

    def __repr__(self):
        return f"Issuer({self.scheme.name!r}, {self.product!r}, key version {self.key_version})"

    @property
    def capacity(self) -> int:
        return self.scheme.capacity

    def _check_range(self, start: int, count: int) -> None:
        if start < 0 or count < 0:
            raise ValueError("start and count must be >= 0")
        if start + count > self.capacity:
            remaining = max(0, self.capacity - start)
            raise CapacityExceeded(
                f"counters {start:,}..{start + count - 1:,} pass this product's guessing bound of "
                f"{self.capacity:,} codes; {remaining:,} remain", remaining=remaining)

    def layout(self, render: str = "bare", attributes: dict | None = None, newline: bool = False):
        attrs = self.scheme.attribute_values(attributes)
        return layout(self.scheme, self.product, attrs, render, newline)

    def _fill(self, lay, start: int, rows: np.ndarray) -> None:
        fill(self._ff1, self._check, lay.template, lay.serial_at, lay.check_from, lay.check_to,
             start, rows)

    def codes(self, start: int, count: int, render: str = "bare",
              attributes: dict | None = None) -> np.ndarray:
        """Codes of counters start .. start+count-1 as a numpy ``S{width}`` array."""
        self._check_range(start, count)
        lay = self.layout(render, attributes)
        out = np.empty(count, dtype=f"S{lay.width}")
        if count:
            self._fill(lay, start, out.view(np.uint8).reshape(count, lay.width))
        return out

    def write(self, f, start: int, count: int, render: str = "bare",
              attributes: dict | None = None, chunk: int = DEFAULT_WRITE_CHUNK,
              progress=None) -> int:
        """Write codes one per line to a binary file object in reused chunks; returns bytes written.

        `progress(done)` is called after each chunk.
        """
        self._check_range(start, count)
        lay = self.layout(render, attributes, newline=True)
        buf = np.empty((min(chunk, max(count, 1)), lay.width), dtype=np.uint8)
        written = 0
        for off in range(0, count, len(buf)):
            k = min(len(buf), count - off)
            self._fill(lay, start + off, buf[:k])
            f.write(memoryview(buf[:k]).cast("B"))
            written += k * lay.width
            if progress is not None:
                progress(off + k)
        return written

    def counter(self, code: bytes) -> int | None:
        """The counter of one bare code (bytes), None if its serial is malformed."""
        at = self._serial_at
        c = self._ff1.decrypt_counter(code[at:at + self._ff1.length])
        return None if c < 0 else c

    def counters(self, codes) -> tuple[np.ndarray, np.ndarray]:
        """Counters of bare codes (``S{length}`` array): ``(counters, ok)``.

        ``ok`` is False where the serial is malformed; it does not check the
        check character or the product fields (Scheme.validate does).
        """
        arr = np.ascontiguousarray(codes)
        if arr.dtype != np.dtype(f"S{self.scheme.length}"):
            raise TypeError(f"expected bare codes of dtype S{self.scheme.length}, got {arr.dtype}")
        at = self.scheme.offset(self.scheme.serial.name)
        serials = arr.view(np.uint8).reshape(len(arr), self.scheme.length)[:, at:at + self._ff1.length]
        return self._ff1.decrypt_counters(np.ascontiguousarray(serials).view(f"S{self._ff1.length}").ravel())
