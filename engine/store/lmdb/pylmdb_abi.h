/*
 * The parts of py-lmdb 3.0's C objects that tracecode reads, mirrored here.
 *
 * Why: py-lmdb's per-key Python calls cost about a microsecond each, while
 * LMDB's own mdb_get costs a fraction of that. py-lmdb has no C API, so the
 * verification kernels take the MDB_txn* and the engine vtable (MdbApi) out of
 * py-lmdb's Transaction objects and call LMDB directly, inside transactions
 * that py-lmdb opened, committed and aborts. _lmdb.pyx validates this layout
 * against several invariants before the first use and refuses to run on a
 * layout it does not recognise; pyproject pins py-lmdb to the 3.0 series.
 *
 * Layouts copied from py-lmdb 3.0.0 (lmdb/cpython.c, lmdb/mdb_api.h; OpenLDAP
 * Public License), without the optional memsink field py-lmdb's wheels leave
 * out. Only declarations: no py-lmdb code is compiled in.
 */
#ifndef TRACECODE_PYLMDB_ABI_H
#define TRACECODE_PYLMDB_ABI_H

#include <Python.h>
#include <stddef.h>
#include <sys/types.h>

typedef unsigned int MDB_dbi;
typedef struct MDB_env MDB_env;
typedef struct MDB_txn MDB_txn;
typedef struct MDB_cursor MDB_cursor;
typedef struct MDB_val { size_t mv_size; void *mv_data; } MDB_val;

/* lmdb.h: return codes, cursor ops and put flags (identical in 0.9 and 1.0) */
#define TC_MDB_KEYEXIST (-30799)
#define TC_MDB_NOTFOUND (-30798)
#define TC_MDB_MAP_FULL (-30792)
#define TC_MDB_NEXT 8
#define TC_MDB_SET_RANGE 17
#define TC_MDB_APPEND 0x20000

typedef struct TcMdbApi {
    int major, minor, patch;
    unsigned int data_version;
    void *env_create, *env_open, *env_close, *env_copy2, *env_copyfd2, *env_copy3,
         *env_copyfd3, *env_sync, *env_stat, *env_info, *env_get_flags, *env_set_flags,
         *env_get_maxkeysize, *env_get_maxreaders, *env_get_path, *env_set_mapsize,
         *env_set_maxdbs, *env_set_maxreaders, *reader_check, *reader_list;
    void *txn_begin, *txn_commit, *txn_abort, *txn_reset, *txn_renew, *txn_id;
    void *dbi_open, *dbi_flags, *dbi_close, *drop;
    int (*get)(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data);
    int (*put)(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags);
    void *del, *stat;
    int (*cursor_open)(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cursor);
    void (*cursor_close)(MDB_cursor *cursor);
    int (*cursor_get)(MDB_cursor *cursor, MDB_val *key, MDB_val *data, int op);
    int (*cursor_put)(MDB_cursor *cursor, MDB_val *key, MDB_val *data, unsigned int flags);
    void *cursor_del, *cursor_count;
    char *(*strerror_fn)(int err);
} TcMdbApi;

struct tc_lmdb_object;
typedef struct tc_list_head { struct tc_lmdb_object *prev, *next; } tc_list_head;
#define TC_LMDB_HEAD PyObject_HEAD tc_list_head siblings; tc_list_head children; int valid;

typedef struct TcEnvObject TcEnvObject;

typedef struct TcDbObject {
    TC_LMDB_HEAD
    TcEnvObject *env;
    MDB_dbi dbi;
    unsigned int flags;
} TcDbObject;

struct TcEnvObject {
    TC_LMDB_HEAD
    PyObject *weaklist;
    MDB_env *env;
    const TcMdbApi *libv;
    TcDbObject *main_db;
    int readonly;
    MDB_txn *spare_txn;
    int max_spare_txns;
    pid_t pid;
    unsigned long write_txn_tid;
    PyObject *open_keys;
    int active_ops;
    int ops_waiters;
    int write_begins;
    int resizing;
};

typedef struct TcTransObject {
    TC_LMDB_HEAD
    PyObject *weaklist;
    TcEnvObject *env;
    struct TcTransObject *parent;
    const TcMdbApi *libv;
    MDB_txn *txn;
    int flags;
    TcDbObject *db;
    int mutations;
} TcTransObject;

#endif
