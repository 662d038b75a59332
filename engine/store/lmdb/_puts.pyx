"""Many records put in one C loop through one cursor, in the order given.

py-lmdb's putmulti takes a list of (key, value) tuples: building and sorting those
tuples costs more than LMDB's own puts when an apply() call writes 24 codes for each of a
thousand pack events. Here the keys and values are slices of two byte buffers, named by
start and length (a value shared by many records is one slice named many times), and
`order` says which record goes next: in key order, each leaf page is found from the
cursor's page and dirtied once (see keyorder.py). Runs without the GIL: it is a write
transaction, so nothing can resize the map.
"""
from libc.stdint cimport int64_t, uint8_t

from tracecode.store.lmdb._lmdb cimport MDB_cursor, MDB_dbi, MDB_val, Txn, dbi_of, fail, open_txn, wrote


cdef int _check(const uint8_t[::1] buf, const int64_t[::1] start, const int64_t[::1] length,
                Py_ssize_t n, str what) except -1:
    cdef Py_ssize_t i
    if start.shape[0] != n or length.shape[0] != n:
        raise ValueError(f"{what}: {start.shape[0]} starts and {length.shape[0]} lengths for {n} records")
    for i in range(n):
        if start[i] < 0 or length[i] < 0 or start[i] + length[i] > buf.shape[0]:
            raise ValueError(f"{what} {i} lies outside its buffer")
    return 0


def put_records(env, txn, db, const uint8_t[::1] keys, const int64_t[::1] key_start,
                const int64_t[::1] key_len, const uint8_t[::1] values,
                const int64_t[::1] value_start, const int64_t[::1] value_len,
                const int64_t[::1] order):
    """Put record order[j] for j = 0, 1, ...: record i is the key keys[key_start[i]:][:key_len[i]]
    with the value values[value_start[i]:][:value_len[i]]; a key already there is overwritten
    (in a dupsort database the value is added beside the others). Raises py-lmdb's error,
    e.g. MapFullError, if LMDB refuses one (what was put before it stays in the transaction)."""
    cdef Txn t
    cdef MDB_val k, v
    cdef MDB_cursor *cur = NULL
    cdef Py_ssize_t i, j, n = order.shape[0], rows = key_start.shape[0]
    cdef int rc = 0
    _check(keys, key_start, key_len, rows, "key")
    _check(values, value_start, value_len, rows, "value")
    for j in range(n):
        if not 0 <= order[j] < rows:
            raise ValueError(f"order names record {order[j]} of {rows}")
        if key_len[order[j]] == 0:
            raise ValueError(f"record {order[j]} has an empty key")
    if n == 0:
        return
    if values.shape[0] == 0:
        values = b"\0"   # every value empty: an address to name (keys are never empty)
    open_txn(env, txn, &t)
    cdef MDB_dbi dbi = dbi_of(env, db)
    with nogil:
        rc = t.api.cursor_open(t.txn, dbi, &cur)
        for j in range(n if rc == 0 else 0):
            i = order[j]
            k.mv_size = key_len[i]
            k.mv_data = <void *>&keys[key_start[i]]
            v.mv_size = value_len[i]
            v.mv_data = <void *>&values[value_start[i]]
            rc = t.api.cursor_put(cur, &k, &v, 0)
            if rc:
                break
        if cur != NULL:
            t.api.cursor_close(cur)
    wrote(&t)
    if rc:
        fail(&t, rc)
