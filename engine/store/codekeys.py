"""Code keys: how the index names a code (see _codes.pyx for the records under them).

    ours      product id (u32, big-endian) + counter (u64, big-endian)   12 bytes
    imported  b"ext\\0" + the code, compacted and upper-cased
    SSCC      b"sscc\\0" + the 18 digits

Product ids stay below 2**24, so a key of ours starts with a zero byte and
never collides with the other two kinds.
"""
from __future__ import annotations

import numpy as np

from ..checks import GS1
from .lmdb import _scankeys   # a C kernel over numpy buffers (no lmdb in it)

OUR_KEY = np.dtype([("pid", ">u4"), ("counter", ">u8")])
OURS, EXT, SSCC = "ours", "ext", "sscc"


def ours(pid: int, counter: int) -> bytes:
    return pid.to_bytes(4, "big") + counter.to_bytes(8, "big")


def ext(text) -> bytes:
    # A scan may be any bytes, or a str with lone surrogates: both get a key (that no
    # imported code has), the same either way, never an exception for the batch.
    if isinstance(text, str) and not text.isascii():
        text = text.encode("utf-8", "surrogatepass")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return b"ext\x00" + "".join(str(text).split()).replace("-", "").upper().encode()


def sscc(text) -> bytes | None:
    """The key of an SSCC-18 written as 18 digits or as (00) + 18 digits, else None
    (cheap for the common case: a trace code, which is neither)."""
    t = (text.decode("ascii", "replace") if isinstance(text, bytes) else str(text)).strip()
    if len(t) not in (18, 22):  # most codes stop here
        return None
    if t.startswith("(00)"):
        t = t[4:]
    if len(t) == 18 and t.isascii() and t.isdigit() and GS1.is_valid(t):
        return b"sscc\x00" + t.encode()
    return None


def kind(key: bytes) -> str:
    return OURS if key[0] == 0 else EXT if key.startswith(b"ext\x00") else SSCC


def split_ours(key: bytes) -> tuple[int, int]:
    """(product id, counter) of a key of ours."""
    return int.from_bytes(key[:4], "big"), int.from_bytes(key[4:12], "big")


class Keys:
    """Code keys of many rows packed in one buffer: row i is
    buf[off[i]:off[i+1]], empty for a row with no code (unknown)."""

    order_hint = None   # the keyed rows in an order near key order, where the maker knows one

    def __init__(self, n: int, parts=(), other: dict | None = None):
        """parts: (rows, matrix, lengths) triples giving rows[j] the key
        matrix[j, :lengths[j]] (numpy, no per-row Python); other maps rows to
        bytes keys (the odd SSCC or free text)."""
        lengths = np.zeros(n, np.int64)
        other = other or {}
        parts = [(rows, m, np.broadcast_to(np.asarray(lens), (len(rows),))) for rows, m, lens in parts]
        for rows, _, lens in parts:
            lengths[rows] = lens
        for i, k in other.items():
            lengths[i] = len(k)
        self.off = np.zeros(n + 1, np.int64)
        np.cumsum(lengths, out=self.off[1:])
        self.buf = np.zeros(int(self.off[-1]), np.uint8)
        for rows, matrix, lens in parts:
            if not len(rows):
                continue
            width = int(lens[0])
            if len(rows) == n and self.off[-1] == n * width and (lens == width).all() \
                    and (np.diff(rows) > 0).all():   # every row, in order, nothing between
                self.buf.reshape(n, width)[:] = matrix[:, :width]
            else:   # one memcpy per key in C (a numpy scatter builds an (N, width) index array)
                _scankeys.scatter(self.buf, np.ascontiguousarray(self.off[rows]),
                                  np.ascontiguousarray(matrix, np.uint8),
                                  np.ascontiguousarray(lens, np.int64))
        for i, k in other.items():
            self.buf[self.off[i]:self.off[i + 1]] = np.frombuffer(k, np.uint8)

    @staticmethod
    def ours(pids, counters):
        """The (matrix, lengths) of keys of ours."""
        k = np.empty(len(counters), OUR_KEY)
        k["pid"], k["counter"] = pids, counters
        return k.view(np.uint8).reshape(len(k), OUR_KEY.itemsize), OUR_KEY.itemsize

    @staticmethod
    def ext(codes):
        """The (matrix, lengths) of imported-code keys of bare codes (an S array,
        already compact and upper-case, as the scan parser leaves them)."""
        lens = np.char.str_len(codes)
        width = int(lens.max()) if len(codes) else 0
        codes = np.ascontiguousarray(codes, f"S{max(width, 1)}")  # no wider than the longest
        matrix = np.empty((len(codes), 4 + codes.dtype.itemsize), np.uint8)
        matrix[:, :4] = np.frombuffer(b"ext\x00", np.uint8)
        matrix[:, 4:] = codes.view(np.uint8).reshape(len(codes), codes.dtype.itemsize)
        return matrix, 4 + lens

    @classmethod
    def packed(cls, keys: list) -> "Keys":
        """From a list of bytes keys (b"" or None: no code), joined in one go."""
        keys = [k or b"" for k in keys]
        out = cls.__new__(cls)
        out.buf = np.frombuffer(b"".join(keys), np.uint8)
        out.off = np.zeros(len(keys) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, keys), np.int64, len(keys)), out=out.off[1:])
        return out

    @classmethod
    def concat(cls, parts) -> "Keys":
        out = cls(0)
        out.buf = np.concatenate([p.buf for p in parts]) if parts else out.buf
        ends = np.cumsum([0] + [len(p.buf) for p in parts])
        out.off = np.concatenate([[0]] + [p.off[1:] + e for p, e in zip(parts, ends)]).astype(np.int64)
        return out

    def __len__(self):
        return len(self.off) - 1

    @property
    def known(self) -> np.ndarray:
        return self.off[1:] > self.off[:-1]

    def __getitem__(self, i) -> bytes | None:
        a, b = int(self.off[i]), int(self.off[i + 1])
        return self.buf[a:b].tobytes() if b > a else None

    def tolist(self) -> list:
        """The keys as bytes (None for rows with none)."""
        data, off = self.buf.tobytes(), self.off.tolist()
        return [data[a:b] or None for a, b in zip(off, off[1:])]
