"""Imported-code keys of raw scans the parser could not read, in bulk.

An unreadable scan may still be a code issued elsewhere and imported, so it is
looked up under ``codekeys.ext(text)``: the text without whitespace and '-',
upper-cased. Built per row in Python, that made junk scans several times dearer
than genuine ones; here two C passes over the packed scans (_scankeys.pyx) build
them, with codekeys.ext itself only for the rare row they do not mirror byte for
byte (non-ASCII text, or longer than the scan parser reads).
"""
from __future__ import annotations

import numpy as np

from . import _scankeys, codekeys

ROW_LIMIT = 4096   # longer rows (refused by the parser anyway) go through codekeys.ext


def text_keys(data: np.ndarray, offsets: np.ndarray, rows: np.ndarray, texts, key_limit: int):
    """(buf, off) of the ext keys of packed scans ``data[offsets[r]:offsets[r + 1]]``
    for each r in rows, empty where a key would pass key_limit. ``texts[r]`` is the
    original scan, for the rows codekeys.ext handles."""
    data = np.ascontiguousarray(data, np.uint8)
    offsets = np.ascontiguousarray(offsets, np.int64)
    rows = np.ascontiguousarray(rows, np.int64)
    lengths, slow = _scankeys.measure(data if len(data) else np.zeros(1, np.uint8), offsets, rows,
                                      key_limit, ROW_LIMIT)
    odd = {}
    for j in np.flatnonzero(slow).tolist():
        k = codekeys.ext(texts[int(rows[j])])
        odd[j] = k if len(k) <= key_limit else b""
        lengths[j] = len(odd[j])
    off = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lengths, out=off[1:])
    buf = np.zeros(max(int(off[-1]), 1), np.uint8)
    _scankeys.fill(data if len(data) else np.zeros(1, np.uint8), offsets, rows, off, buf,
                   slow.view(np.uint8))
    for j, k in odd.items():
        buf[off[j]:off[j] + len(k)] = np.frombuffer(k, np.uint8)
    return buf[:int(off[-1])], off
