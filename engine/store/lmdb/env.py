"""Opening the LMDB environment of a data directory, and writing to it safely."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import lmdb

from ...errors import TracecodeError
from .lmdbfile import IndexDamaged, check_data_file
from ..errors import IndexFull, IndexReadOnly  # noqa: F401  (store-neutral; importable from here too)

# LMDB reserves address space, not disk: the file grows as data is written. The
# map is reserved at its limit from the start, because growing it later
# (set_mapsize) invalidates the transactions other threads hold; an environment
# opened smaller still doubles when full, up to the limit.
DEFAULT_MAP_LIMIT = 1 << 40
# A lower limit for machines that cap a process's address space (ulimit -v, RLIMIT_AS):
# TRACECODE_MAP_LIMIT=BYTES, or with a K, M, G or T suffix (powers of 1024).
MAP_LIMIT_VAR = "TRACECODE_MAP_LIMIT"
MAX_DBS = 32

# LMDB's own errors, named for callers that must not import lmdb: the CLI's last resort
# (an index failing after it opened) and the data directory's damaged pages.
StoreFailure = lmdb.Error
DAMAGED_PAGES = (lmdb.CorruptedError, lmdb.PageNotFoundError)


def versions() -> dict:
    """The versions of py-lmdb and of the LMDB it carries, for reports on where figures came from."""
    return {"py-lmdb": lmdb.__version__, "LMDB": ".".join(map(str, lmdb.version()))}


class MapReserveFailed(TracecodeError):
    """The address space for the index's map could not be reserved (ENOMEM: a memory
    limit such as ulimit -v below the map limit); nothing is wrong with the index."""


def configured_map_limit() -> int:
    """The map limit: TRACECODE_MAP_LIMIT if set, else DEFAULT_MAP_LIMIT (1 TiB)."""
    raw = os.environ.get(MAP_LIMIT_VAR, "").strip()
    if not raw:
        return DEFAULT_MAP_LIMIT
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(raw[-1:].upper(), 1)
    try:
        n = int(raw[:-1] if scale > 1 else raw) * scale
    except ValueError:
        n = 0
    if not 1 << 20 <= n <= 1 << 50:
        raise TracecodeError(f"{MAP_LIMIT_VAR}={raw!r} is not a map limit: give bytes from 1M "
                             f"to 1024T, e.g. {MAP_LIMIT_VAR}=64G")
    return n


def read_only_error(path, what: str = "write to the index") -> IndexReadOnly:
    return IndexReadOnly(f"cannot {what}: the index at {path} is read-only (a read-only disk or "
                         f"directory); only verification without recording works there "
                         f"(`--no-record`, record=False)")


def open_env(path: str | Path, *, readonly: bool = False, map_size: int | None = None,
             map_limit: int | None = None, create: bool = True,
             restore_hint: str = "restore it from a backup (`tracecode restore`)"):
    """Open the environment at `path` (creating it if `create` and it is missing),
    durable by default.

    sync stays on: a write transaction that returned has reached the disk,
    which is what makes reservations and lifecycle events safe across a crash.
    An existing data.mdb is checked against its meta pages first (lmdbfile.py):
    LMDB would start a fresh index in an empty file and die of SIGBUS in a
    truncated one. Read-only, LMDB runs without its lock file on a read-only
    file system (it does so itself on EROFS), as no writer can exist there.
    """
    path = Path(path)
    if map_limit is None:
        map_limit = configured_map_limit()
    data = path / "data.mdb"
    if data.exists() or not create:
        check_data_file(data, restore_hint)
    elif not readonly:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        env = lmdb.open(str(path), map_size=map_limit if map_size is None else map_size,
                        max_dbs=MAX_DBS, readonly=readonly, subdir=True, sync=True,
                        metasync=True, lock=True, create=create and not readonly)
    except lmdb.ReadonlyError:
        raise read_only_error(path, "open the index for writing") from None
    except lmdb.InvalidError as exc:
        raise IndexDamaged(f"{data} is not a valid LMDB file ({exc}); {restore_hint}") from None
    except lmdb.MemoryError:
        size = map_limit if map_size is None else map_size
        raise MapReserveFailed(
            f"cannot open the index at {path}: reserving its {size:,}-byte map of address "
            f"space failed (Cannot allocate memory): this process's address space is capped "
            f"(ulimit -v) or the system refuses to overcommit; nothing is wrong with the "
            f"index. Raise the cap, or set a lower map limit, e.g. {MAP_LIMIT_VAR}=8G (the "
            f"index cannot grow past it)") from None
    except lmdb.Error as exc:
        if "Permission denied" in str(exc) or "Read-only" in str(exc):
            raise read_only_error(path, "open the index") from None
        raise
    _LIMITS[id(env)] = map_limit
    return env


_LIMITS: dict = {}


def run_write(env, fn):
    """Run fn(txn) in a write transaction and commit; a full map grows (doubling,
    up to the limit) and the whole transaction is retried, so callers see either
    a commit or a clear IndexFull with nothing written (a failed commit aborts the
    transaction: LMDB's last committed state stays, and the next write works as
    soon as the disk has room again)."""
    while True:
        try:
            with env.begin(write=True) as txn:
                return fn(txn)
        except lmdb.MapFullError:
            size = env.info()["map_size"]
            limit = _LIMITS.get(id(env), DEFAULT_MAP_LIMIT)
            if size >= limit:
                raise IndexFull(f"the index reached its map limit of {limit:,} bytes; raise it "
                                f"in the data directory's configuration") from None
            env.set_mapsize(min(size * 2, limit))
        except lmdb.ReadonlyError:
            raise read_only_error(env.path()) from None
        except lmdb.Error as exc:
            full = disk_full(env, exc)
            if full is None:
                raise
            raise full from None


def open_db(env, name: bytes, **kw):
    """env.open_db, whose first call writes (creates the database): a full disk is IndexFull.

    In a write transaction of its own: py-lmdb's open_db without one waits for LMDB's write
    lock holding the GIL, so it deadlocks against a thread of this process that holds the
    lock and needs the GIL to finish (the scan log's writer); begin() waits without it."""
    try:
        if env.flags().get("readonly"):  # nothing to create, and no write lock to take
            return env.open_db(name, **kw)
        with env.begin(write=True) as txn:
            return env.open_db(name, txn=txn, **kw)
    except lmdb.ReadonlyError:
        raise read_only_error(env.path(), f"create the database {name.decode()!r}") from None
    except lmdb.Error as exc:
        full = disk_full(env, exc)
        if full is None:
            raise
        raise full from None


# How LMDB says the disk took no more: ENOSPC (py-lmdb's DiskError), EDQUOT and EFBIG
# (a plain lmdb.Error), and a short write, which LMDB reports as EIO.
_FULL = {os.strerror(errno.ENOSPC): "full", os.strerror(errno.EDQUOT): "over its quota",
         os.strerror(errno.EFBIG): "at its file size limit", os.strerror(errno.EIO): "full or failing"}


def disk_full(env, exc: BaseException) -> IndexFull | None:
    """The IndexFull a write error of LMDB's stands for, None if it is not about the disk."""
    if isinstance(exc, lmdb.PanicError):  # a failed meta page write: LMDB refuses every write since
        return IndexFull(f"the index at {env.path()} stopped writing after a failed disk write "
                         f"({exc}); free space, then restart the process to reopen it")
    text = str(exc)
    what = next((w for err, w in _FULL.items() if err in text), None)
    if what is None and not isinstance(exc, lmdb.DiskError):
        return None
    try:
        st = os.statvfs(env.path())
        free = f"{st.f_bavail * st.f_frsize:,} bytes free"
    except OSError:
        free = "free space unknown"
    return IndexFull(f"the disk under the index at {env.path()} is {what or 'full'} ({free}; "
                     f"{text}): nothing was written; free space and retry")
