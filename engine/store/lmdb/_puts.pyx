"""Many records put in one C loop through one cursor, in the order given.

py-lmdb's putmulti takes a list of (key, value) tuples: building and sorting those
tuples costs more than LMDB's own puts when an apply() call writes 24 codes for each of a
thousand pack events. Here the keys and values are slices of two byte buffers, named by
start and length (a value shared by many records is one slice named many times), and
`order` says which record goes next: in key order, each leaf page is found from the
cursor's page and dirtied once (see keyorder.py). Runs without the GIL: it is a write
transaction, so nothing can resize the map. put_records overwrites; put_new (registration)
keeps a key already there and says so. Both run the one checked loop.
"""
from libc.stdint cimport int64_t, uint8_t

import numpy as np

from tracecode.store.lmdb._lmdb cimport MDB_KEYEXIST, MDB_cursor, MDB_dbi, MDB_val, Txn, dbi_of, fail, open_txn, wrote

cdef unsigned int NOOVERWRITE = 0x10     # LMDB's MDB_NOOVERWRITE (lmdb.h: stable since 0.9)
cdef Py_ssize_t MAX_KEY = 511            # LMDB's default key size limit


cdef int _check(const uint8_t[::1] buf, const int64_t[::1] start, const int64_t[::1] length,
                Py_ssize_t n, str what) except -1:
    cdef Py_ssize_t i
    if start.shape[0] != n or length.shape[0] != n:
        raise ValueError(f"{what}: {start.shape[0]} starts and {length.shape[0]} lengths for {n} records")
    for i in range(n):
        if start[i] < 0 or length[i] < 0 or start[i] + length[i] > buf.shape[0]:
            raise ValueError(f"{what} {i} lies outside its buffer")
    return 0


cdef int _check_all(const uint8_t[::1] keys, const int64_t[::1] key_start, const int64_t[::1] key_len,
                    const uint8_t[::1] values, const int64_t[::1] value_start, const int64_t[::1] value_len,
                    const int64_t[::1] order) except -1:
    """Every index the C loop follows lies inside its buffer (boundscheck is off there)."""
    cdef Py_ssize_t j, rows = key_start.shape[0]
    _check(keys, key_start, key_len, rows, "key")
    _check(values, value_start, value_len, rows, "value")
    for j in range(order.shape[0]):
        if not 0 <= order[j] < rows:
            raise ValueError(f"order names record {order[j]} of {rows}")
        if key_len[order[j]] == 0 or key_len[order[j]] > MAX_KEY:
            raise ValueError(f"record {order[j]} has a key of {key_len[order[j]]} bytes (1 to {MAX_KEY})")
    return 0


cdef int _put_loop(Txn *t, MDB_dbi dbi, const uint8_t *keys, const int64_t *key_start, const int64_t *key_len,
                   const uint8_t *values, const int64_t *value_start, const int64_t *value_len,
                   const int64_t *order, Py_ssize_t n, unsigned int flags, uint8_t *existed,
                   int64_t *written) noexcept nogil:
    """The one loop: record order[j] for j = 0, 1, ... through one cursor. With NOOVERWRITE a
    key already there is left and flagged in existed. The first LMDB error stops it."""
    cdef MDB_cursor *cur = NULL
    cdef MDB_val k, v
    cdef Py_ssize_t i, j
    cdef int rc = t.api.cursor_open(t.txn, dbi, &cur)
    if rc:
        return rc
    for j in range(n):
        i = order[j]
        k.mv_size = key_len[i]
        k.mv_data = <void *>(keys + key_start[i])
        v.mv_size = value_len[i]
        v.mv_data = <void *>(values + value_start[i])
        rc = t.api.cursor_put(cur, &k, &v, flags)
        if rc == MDB_KEYEXIST and existed != NULL:
            existed[i] = 1
            rc = 0
        elif rc:
            break
        else:
            written[0] += 1
    t.api.cursor_close(cur)
    return rc


cdef int64_t _run(env, txn, db, const uint8_t[::1] keys, const int64_t[::1] key_start,
                  const int64_t[::1] key_len, const uint8_t[::1] values, const int64_t[::1] value_start,
                  const int64_t[::1] value_len, const int64_t[::1] order, unsigned int flags,
                  uint8_t *existed) except -1:
    cdef Txn t
    cdef int rc = 0
    cdef int64_t written = 0
    cdef Py_ssize_t n = order.shape[0]
    _check_all(keys, key_start, key_len, values, value_start, value_len, order)
    if n == 0:
        return 0
    if values.shape[0] == 0:
        values = b"\0"   # every value empty: an address to name (keys are never empty)
    open_txn(env, txn, &t)
    cdef MDB_dbi dbi = dbi_of(env, db)
    with nogil:
        rc = _put_loop(&t, dbi, &keys[0], &key_start[0], &key_len[0], &values[0], &value_start[0],
                       &value_len[0], &order[0], n, flags, existed, &written)
    wrote(&t)
    if rc:
        fail(&t, rc)
    return written


def put_records(env, txn, db, const uint8_t[::1] keys, const int64_t[::1] key_start,
                const int64_t[::1] key_len, const uint8_t[::1] values,
                const int64_t[::1] value_start, const int64_t[::1] value_len,
                const int64_t[::1] order):
    """Put record order[j] for j = 0, 1, ...: record i is the key keys[key_start[i]:][:key_len[i]]
    with the value values[value_start[i]:][:value_len[i]]; a key already there is overwritten
    (in a dupsort database the value is added beside the others). Raises py-lmdb's error,
    e.g. MapFullError, if LMDB refuses one (what was put before it stays in the transaction)."""
    _run(env, txn, db, keys, key_start, key_len, values, value_start, value_len, order, 0, NULL)


def put_new(env, txn, db, const uint8_t[::1] keys, const int64_t[::1] key_start, const int64_t[::1] key_len,
            const uint8_t[::1] value, uint8_t[::1] existed, order=None):
    """Registering codes assigned elsewhere: put each key -> ``value`` (one value for all)
    in ``order`` (default: as given), unless the key is there: then existed[i] = 1 and the
    stored value stays (MDB_NOOVERWRITE), so a code registered twice, or first by another
    owner, never has its record replaced. Returns the count written."""
    cdef Py_ssize_t rows = key_start.shape[0]
    if existed.shape[0] < rows:
        raise ValueError(f"the existed array is shorter than the {rows} keys")
    seq = np.arange(rows, dtype=np.int64) if order is None else np.ascontiguousarray(order, np.int64)
    if seq.shape[0] != rows:
        raise ValueError("order must give every key once")
    existed[:rows] = 0
    return _run(env, txn, db, keys, key_start, key_len, value, np.zeros(rows, np.int64),
                np.full(rows, value.shape[0], np.int64), seq, NOOVERWRITE, &existed[0] if rows else NULL)
