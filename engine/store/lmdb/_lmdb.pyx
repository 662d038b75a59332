"""LMDB's C API inside py-lmdb's transactions (see pylmdb_abi.h for why).

Before any pointer is followed: py-lmdb's classes must be those of its C
extension with the sizes pylmdb_abi.h describes (once), each environment's
back pointers and engine must match py-lmdb's own table of engines (once per
environment), and on every call the environment and transaction must be open,
of this process and of each other. A layout that fails raises IncompatibleLmdb
rather than touching memory it does not understand; misuse raises lmdb.Error,
TypeError or ValueError.
"""
import os
import weakref

import lmdb

from tracecode.errors import TracecodeError

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


class IncompatibleLmdb(TracecodeError, RuntimeError):
    """The installed py-lmdb's objects are not laid out as pylmdb_abi.h expects."""


cdef pid_t _pid = os.getpid()


def _forked():
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)
_checked = weakref.WeakSet()   # environments whose layout and engine were verified
# The C extension's own classes (not, say, the pure-Python cffi variant), and their sizes:
# a build with extra fields (py-lmdb's optional memsink) changes them.
_TYPES_OK = (getattr(lmdb, "cpython", None) is not None
             and lmdb.Environment is lmdb.cpython.Environment
             and lmdb.Transaction is lmdb.cpython.Transaction
             and lmdb._Database is lmdb.cpython._Database
             and lmdb.Transaction.__basicsize__ == sizeof(TcTransObject)
             and lmdb._Database.__basicsize__ == sizeof(TcDbObject)
             and lmdb.Environment.__basicsize__ >= sizeof(TcEnvObject))


cdef int _incompatible(str what) except -1:
    raise IncompatibleLmdb(
        f"py-lmdb {lmdb.__version__} is not laid out as tracecode expects ({what}); "
        f"install the py-lmdb version pinned in tracecode's requirements")


cdef int _check_env(object env) except -1:
    cdef TcEnvObject *e = <TcEnvObject *>env
    if not _TYPES_OK:
        _incompatible("classes")
    if type(env) is not lmdb.Environment:
        raise TypeError(f"expected an lmdb.Environment, got {type(env).__name__}")
    if not e.valid or e.env == NULL:
        raise lmdb.Error("the environment is closed")
    if e.pid != _pid:
        raise lmdb.Error("the environment was opened in another process: "
                         "open it again after fork()")
    if env in _checked:
        return 0
    if e.main_db == NULL or e.main_db.env != e or e.libv == NULL:
        _incompatible("Environment fields")
    if e.readonly not in (0, 1) or e.max_spare_txns not in (0, 1):
        _incompatible("Environment flags")
    # the engine reached through our pointer against py-lmdb's own table of engines
    if e.libv.data_version not in (1, 3) or (e.libv.major, e.libv.minor, e.libv.patch) != \
            tuple(lmdb.version(lib_version=e.libv.major)):
        _incompatible("engine vtable")
    _checked.add(env)
    return 0


cdef int open_txn(object env, object txn, Txn *out) except -1:
    cdef TcTransObject *t = <TcTransObject *>txn
    cdef TcEnvObject *e = <TcEnvObject *>env
    _check_env(env)
    if type(txn) is not lmdb.Transaction:
        raise TypeError(f"expected an lmdb.Transaction, got {type(txn).__name__}")
    # py-lmdb clears a finished transaction's pointers; a resize in progress (on another
    # thread, waiting for operations to drain) is about to invalidate every transaction
    if not t.valid or t.txn == NULL or t.env == NULL or e.resizing:
        raise lmdb.Error("the transaction is no longer valid (committed, aborted or the map resized)")
    if t.env != e or t.libv != e.libv:
        raise ValueError("the transaction belongs to another environment")
    if t.db != e.main_db:
        raise ValueError("the C kernels take transactions opened without db=")
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
