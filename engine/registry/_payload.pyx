# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The third field of veterinary QR payloads: one nogil pass over each scan's bytes.

Separators as the scan parser reads them: ',' ';' '\\n' '\\r', "\\r\\n" as one
break, and the full-width '，' (EF BC 8C) and '；' (EF BC 9B) of Chinese input
methods. A field is taken only from a payload of exactly five fields.
"""
from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcpy

import numpy as np


cdef inline Py_ssize_t _separator(const uint8_t *s, Py_ssize_t p, Py_ssize_t end) noexcept nogil:
    """Width of the separator at s[p] (0: none)."""
    cdef uint8_t c = s[p]
    if c == 44 or c == 59 or c == 10:
        return 1
    if c == 13:
        return 2 if p + 1 < end and s[p + 1] == 10 else 1
    if c == 0xEF and p + 2 < end and s[p + 1] == 0xBC and (s[p + 2] == 0x8C or s[p + 2] == 0x9B):
        return 3
    return 0


def third_fields(const uint8_t[::1] data, const int64_t[::1] offsets, const uint8_t[::1] rows,
                 Py_ssize_t width):
    """An S<width> array: field 3 (bytes, cut at width) of each five-field scan where
    ``rows`` is set, b"" elsewhere."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, i, p, end, w, seps, start, stop, size
    out = np.zeros(n, f"S{width}")
    if n == 0 or data.shape[0] == 0:
        return out
    cdef uint8_t[:, ::1] o = out.view(np.uint8).reshape(n, width)
    cdef const uint8_t *s = &data[0]
    with nogil:
        for i in range(n):
            if not rows[i]:
                continue
            p, end, seps, start, stop = offsets[i], offsets[i + 1], 0, 0, 0
            while p < end:
                w = _separator(s, p, end)
                if w == 0:
                    p += 1
                    continue
                seps += 1
                if seps == 2:
                    start = p + w
                elif seps == 3:
                    stop = p
                p += w
            if seps == 4:
                size = stop - start if stop - start < width else width
                memcpy(&o[i, 0], s + start, size)
    return out
