# LMDB's C API, reached through the transactions py-lmdb opens (see pylmdb_abi.h).
cdef extern from "pylmdb_abi.h" nogil:
    ctypedef unsigned int MDB_dbi
    ctypedef struct MDB_txn:
        pass
    ctypedef struct MDB_cursor:
        pass
    ctypedef struct MDB_val:
        size_t mv_size
        void *mv_data
    int MDB_KEYEXIST "TC_MDB_KEYEXIST"
    int MDB_NOTFOUND "TC_MDB_NOTFOUND"
    int MDB_MAP_FULL "TC_MDB_MAP_FULL"
    int MDB_NEXT "TC_MDB_NEXT"
    int MDB_SET_RANGE "TC_MDB_SET_RANGE"
    unsigned int MDB_APPEND "TC_MDB_APPEND"

    ctypedef struct TcMdbApi:
        int major, minor, patch
        unsigned int data_version
        int (*get)(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data) noexcept nogil
        int (*put)(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags) noexcept nogil
        int (*cursor_open)(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cursor) noexcept nogil
        void (*cursor_close)(MDB_cursor *cursor) noexcept nogil
        int (*cursor_get)(MDB_cursor *cursor, MDB_val *key, MDB_val *data, int op) noexcept nogil
        int (*cursor_put)(MDB_cursor *cursor, MDB_val *key, MDB_val *data, unsigned int flags) noexcept nogil
        char *(*strerror_fn)(int err)


cdef struct Txn:
    const TcMdbApi *api
    MDB_txn *txn
    void *owner          # the py-lmdb Transaction object (TcTransObject *)


cdef int open_txn(object env, object txn, Txn *out) except -1
cdef MDB_dbi dbi_of(object env, object db) except? 0xFFFFFFFF
cdef int wrote(Txn *t) except -1          # after writes: py-lmdb cursors must refresh
cdef int fail(Txn *t, int rc) except -1   # raise py-lmdb's exception for an LMDB error
