"""Scans as one packed buffer, and the approval number of veterinary QR payloads, in bulk.

The veterinary five-field payload is code, product, approval number, company,
phone, separated by ',' ';' or line breaks (full-width '，' '；' from Chinese
input methods too, "\\r\\n" as one break). The scan parser reads the code; this
reads the third field of every five-field payload in a batch, in one nogil pass
(_payload.pyx), no Python step per scan. Like the parser, it takes the fields
only when there are exactly five.

>>> data, offsets = pack(["2014,阿莫西林,兽药字(2015)010012345,某公司,0571", "81773220000000000001"])
>>> approval_fields(data, offsets, np.array([True, False]))
array([b'\\xe5\\x85\\xbd\\xe8\\x8d\\xaf\\xe5\\xad\\x97(2015)010012345', b''], dtype='|S64')
"""
from __future__ import annotations

import numpy as np

from ._payload import third_fields

WIDTH = 64  # bytes kept of a field; longer text is no approval number anyway


def pack(scans) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 buffer, int64 offsets of len N + 1) of a list of str or bytes scans.

    One join and one encode for the whole list: the scans are joined with NUL,
    which scanners never send, and the NULs are cut out again; a list holding
    NUL or mixing str and bytes is encoded scan by scan."""
    scans = scans if isinstance(scans, list) else list(scans)
    n = len(scans)
    if not n:
        return np.zeros(0, np.uint8), np.zeros(1, np.int64)
    if all(map(str.__instancecheck__, scans)):
        joined = "\x00".join(scans).encode("utf-8", "surrogatepass")
    elif all(map(bytes.__instancecheck__, scans)):
        joined = b"\x00".join(scans)
    else:
        joined = None
    if joined is not None:
        data = np.frombuffer(joined, np.uint8)
        cuts = np.flatnonzero(data == 0)
        if len(cuts) == n - 1:
            starts = np.concatenate(([0], cuts + 1)) - np.arange(n)
            offsets = np.append(starts, len(data) - (n - 1)).astype(np.int64)
            return (data[data != 0] if n > 1 else data), offsets
    items = [s.encode("utf-8", "surrogatepass") if isinstance(s, str) else bytes(s) for s in scans]
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum([len(s) for s in items], out=offsets[1:])
    return np.frombuffer(b"".join(items), np.uint8), offsets


def approval_fields(data: np.ndarray, offsets: np.ndarray, qr: np.ndarray) -> np.ndarray:
    """The third field (bytes, untrimmed, at most WIDTH) of each scan where ``qr`` is set
    and the payload has five fields; b"" elsewhere (a nogil pass in _payload.pyx)."""
    return third_fields(data, np.ascontiguousarray(offsets, np.int64),
                        np.ascontiguousarray(qr, bool).view(np.uint8), WIDTH)
