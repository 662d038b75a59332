"""LMDB's C API inside py-lmdb's transactions (see pylmdb_abi.h for why).

Every use checks the transaction against the environment it claims to belong
to: the object types, the back pointers between transaction, environment and
main database, the engine vtable and, once per environment, the engine version
and the owning process. A layout that fails any check raises
IncompatibleLmdb rather than touching memory it does not understand.
"""
import os
import weakref

import lmdb

from posix.types cimport pid_t

cdef extern from "pylmdb_abi.h":
    ctypedef struct TcEnvObject
    ctypedef struct TcDbObject:
        int valid
        TcEnvObject *env
        MDB_dbi dbi
    ctypedef struct TcEnvObject:
        int valid
        void *env
        const TcMdbApi *libv
        TcDbObject *main_db
        int readonly
        int max_spare_txns
        pid_t pid
        int resizing
    ctypedef struct TcTransObject:
        int valid
        TcEnvObject *env
        const TcMdbApi *libv
        MDB_txn *txn
        TcDbObject *db
        int mutations


class IncompatibleLmdb(ImportError):
    """The installed py-lmdb's objects are not laid out as pylmdb_abi.h expects."""


_checked = weakref.WeakSet()   # environments whose engine and process were verified


cdef int _incompatible(str what) except -1:
    raise IncompatibleLmdb(
        f"py-lmdb {lmdb.__version__} is not laid out as tracecode expects ({what}); "
        f"install the py-lmdb version pinned in tracecode's requirements")


cdef int _check_env(object env) except -1:
    cdef TcEnvObject *e = <TcEnvObject *>env
    if type(env) is not lmdb.Environment:
        raise TypeError(f"expected an lmdb.Environment, got {type(env).__name__}")
    if env in _checked:
        return 0
    if e.main_db == NULL or e.main_db.env != e or e.libv == NULL or e.env == NULL:
        _incompatible("Environment fields")
    if e.readonly not in (0, 1) or e.max_spare_txns not in (0, 1) or e.pid != os.getpid():
        _incompatible("Environment flags")
    if (e.libv.major, e.libv.minor, e.libv.patch) != tuple(env.lib_version()) \
            or e.libv.data_version not in (1, 3):
        _incompatible("engine vtable")
    _checked.add(env)
    return 0


cdef int open_txn(object env, object txn, Txn *out) except -1:
    cdef TcTransObject *t = <TcTransObject *>txn
    cdef TcEnvObject *e = <TcEnvObject *>env
    _check_env(env)
    if type(txn) is not lmdb.Transaction:
        raise TypeError(f"expected an lmdb.Transaction, got {type(txn).__name__}")
    if t.env != e or t.libv != e.libv:
        _incompatible("Transaction fields, or a transaction of another environment")
    if t.db != e.main_db:
        raise ValueError("the C kernels take transactions opened without db=")
    if not t.valid or t.txn == NULL or e.resizing or not e.valid:
        raise lmdb.Error("the transaction is no longer valid (committed, aborted or the map resized)")
    out.api = t.libv
    out.txn = t.txn
    out.owner = <void *>t
    return 0


cdef MDB_dbi dbi_of(object env, object db) except? 0xFFFFFFFF:
    cdef TcDbObject *d = <TcDbObject *>db
    if type(db) is not lmdb._Database:
        raise TypeError(f"expected an lmdb database handle, got {type(db).__name__}")
    if d.env != <TcEnvObject *>env or not d.valid:
        raise lmdb.Error("database handle of another (or a closed) environment")
    return d.dbi


cdef int wrote(Txn *t) except -1:
    (<TcTransObject *>t.owner).mutations += 1
    return 0


cdef int fail(Txn *t, int rc) except -1:
    msg = t.api.strerror_fn(rc).decode("utf-8", "replace")
    if rc == MDB_MAP_FULL:
        raise lmdb.MapFullError(msg)
    raise lmdb.Error(f"LMDB error {rc}: {msg}")
