"""The C loops of scankeys.py: imported-code keys of raw scans, two passes, nogil."""
from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcpy

import numpy as np

cdef uint8_t DROP[256]      # what str.split() drops among ASCII bytes (\x1c-\x1f too), and '-'
cdef int _b
for _b in range(256):
    DROP[_b] = _b in (9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 45)


def measure(const uint8_t[::1] data, const int64_t[::1] offsets, const int64_t[::1] rows,
            Py_ssize_t key_limit, Py_ssize_t row_limit):
    """Key lengths of the rows (b"ext\\0" + kept bytes; 0 past key_limit) and a mask of
    the rows left to codekeys.ext: non-ASCII, or longer than row_limit bytes."""
    cdef Py_ssize_t n = rows.shape[0], i, j, a, b, kept
    lengths = np.zeros(n, np.int64)
    slow = np.zeros(n, np.uint8)
    cdef int64_t[::1] L = lengths
    cdef uint8_t[::1] S = slow
    cdef uint8_t c
    with nogil:
        for i in range(n):
            a, b = offsets[rows[i]], offsets[rows[i] + 1]
            if b - a > row_limit:
                S[i] = 1
                continue
            kept = 4
            for j in range(a, b):
                c = data[j]
                if c >= 0x80:
                    S[i] = 1
                    break
                kept += not DROP[c]
            if not S[i] and kept <= key_limit:
                L[i] = kept
    return lengths, slow.view(bool)


def fill(const uint8_t[::1] data, const int64_t[::1] offsets, const int64_t[::1] rows,
         const int64_t[::1] key_off, uint8_t[::1] buf, const uint8_t[::1] skip):
    """Write the keys of the rows not skipped and of non-zero length at key_off."""
    cdef Py_ssize_t n = rows.shape[0], i, j, at
    cdef uint8_t c
    with nogil:
        for i in range(n):
            if skip[i] or key_off[i + 1] == key_off[i]:
                continue
            at = key_off[i]
            memcpy(&buf[at], b"ext\x00", 4)
            at += 4
            for j in range(offsets[rows[i]], offsets[rows[i] + 1]):
                c = data[j]
                if not DROP[c]:
                    buf[at] = c - 32 if 97 <= c <= 122 else c
                    at += 1


def scatter(uint8_t[::1] buf, const int64_t[::1] starts, const uint8_t[:, ::1] matrix,
            const int64_t[::1] lens):
    """buf[starts[j]:starts[j] + lens[j]] = matrix[j, :lens[j]] for every row j
    (codekeys.Keys: one memcpy per key, no (N, width) index array in numpy)."""
    cdef Py_ssize_t n = starts.shape[0], j
    if matrix.shape[0] != n or lens.shape[0] != n:
        raise ValueError("starts, matrix and lengths disagree in rows")
    for j in range(n):
        if not 0 <= lens[j] <= matrix.shape[1] or not 0 <= starts[j] <= buf.shape[0] - lens[j]:
            raise ValueError(f"key {j} does not fit its row or the buffer")
    with nogil:
        for j in range(n):
            if lens[j]:
                memcpy(&buf[starts[j]], &matrix[j, 0], lens[j])
