"""Registering codes assigned elsewhere: many keys with one value, written in C over LMDB.

A code is registered once: a key already in the database keeps its value (MDB_NOOVERWRITE)
and is reported, so a file registered twice, or a code another owner registered first,
never replaces what is on record. Keys are visited in the order given (the caller sorts
them: B-tree pages are then filled one after another).
"""
from libc.stdint cimport int64_t, uint8_t

from tracecode.store.lmdb._lmdb cimport MDB_KEYEXIST, MDB_cursor, MDB_dbi, MDB_val, Txn, dbi_of, fail, open_txn, wrote

cdef unsigned int NOOVERWRITE = 0x10     # LMDB's MDB_NOOVERWRITE (lmdb.h: stable since 0.9)


def put_new(env, txn, db, const uint8_t[::1] keys, const int64_t[::1] offsets,
            const uint8_t[::1] value, uint8_t[::1] existed, const int64_t[::1] order=None):
    """Put keys[offsets[i]:offsets[i+1]] -> value for each i (in ``order`` if given), unless
    the key is there: then existed[i] = 1 and the stored value stays. Returns the count
    written."""
    cdef Txn t
    cdef MDB_val k, v
    cdef MDB_cursor *cur = NULL
    cdef Py_ssize_t i, j, n = offsets.shape[0] - 1
    cdef int64_t written = 0
    cdef int rc = 0
    cdef bint ordered = order is not None
    if existed.shape[0] < n:
        raise ValueError(f"the existed array is shorter than the {n} keys")
    if ordered and order.shape[0] != n:
        raise ValueError("order must give every key once")
    if offsets[0] < 0 or offsets[n] > keys.shape[0]:
        raise ValueError("offsets run past the keys")
    for i in range(n):
        if offsets[i + 1] < offsets[i] or offsets[i + 1] - offsets[i] > 511:
            raise ValueError(f"key {i} has a bad length")
        # boundscheck is off: an index past the keys would read and write outside them
        if ordered and not 0 <= order[i] < n:
            raise ValueError(f"order names key {order[i]} of {n}")
    open_txn(env, txn, &t)
    cdef MDB_dbi dbi = dbi_of(env, db)
    v.mv_size = value.shape[0]
    v.mv_data = <void *>&value[0] if value.shape[0] else NULL
    with nogil:
        rc = t.api.cursor_open(t.txn, dbi, &cur)
        for j in range(n if rc == 0 else 0):
            i = order[j] if ordered else j
            existed[i] = 0
            k.mv_size = offsets[i + 1] - offsets[i]
            if k.mv_size == 0:
                continue
            k.mv_data = <void *>&keys[offsets[i]]
            rc = t.api.cursor_put(cur, &k, &v, NOOVERWRITE)
            if rc == MDB_KEYEXIST:
                existed[i] = 1
                rc = 0
            elif rc:
                break
            else:
                written += 1
        if cur != NULL:
            t.api.cursor_close(cur)
    wrote(&t)
    if rc:
        fail(&t, rc)
    return written
