"""The bulk issuance kernel: template rows, FF1 serials and check characters.

For each chunk of codes: copy the batch's template row into every output row,
let FF1 write the serial numerals in place, then compute the check characters
over each row. Only the FF1 AES call per round touches Python.
"""
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy

from tracecode.checks._systems cimport CheckSystem
from tracecode.fpe.ff1 cimport FF1
from tracecode.fpe.ff1 import check_counters


def fill(FF1 ff1, CheckSystem check, const uint8_t[::1] template, Py_ssize_t serial_at,
         Py_ssize_t check_from, Py_ssize_t check_to, start, uint8_t[:, ::1] out):
    """Write the codes of counters start .. start+len(out)-1 into the rows of `out`.

    `out` is (N, width) with width == len(template); `check` may be None.
    """
    cdef Py_ssize_t rows = out.shape[0], width = out.shape[1]
    cdef Py_ssize_t off, j, k, chunk = ff1.chunk
    cdef Py_ssize_t span = check_to - check_from
    cdef uint8_t *row
    if width != template.shape[0]:
        raise ValueError(f"output rows are {width} bytes, the template {template.shape[0]}")
    if not 0 <= serial_at <= width - ff1.length:
        raise ValueError("serial slot outside the row")
    if check is not None and not (0 <= check_from < check_to <= width - check.check_len):
        raise ValueError("check slot outside the row")
    if rows == 0:
        return
    check_counters(ff1, start, rows)  # DomainError before any row is written, never a wrap
    for off in range(0, rows, chunk):
        k = min(chunk, rows - off)
        with nogil:
            for j in range(k):
                memcpy(&out[off + j, 0], &template[0], width)
        ff1.encrypt_counters_into(<uint64_t>(start + off), k, &out[off, serial_at], width)
        if check is not None:
            with nogil:
                for j in range(k):
                    row = &out[off + j, 0]
                    check.kernel(row + check_from, span, row + check_to)
