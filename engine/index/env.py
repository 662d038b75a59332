"""Opening the LMDB environment of a data directory, and writing to it safely."""
from __future__ import annotations

from pathlib import Path

import lmdb

from ..errors import TracecodeError

# LMDB reserves address space, not disk: the file grows as data is written. The
# map is reserved at its limit from the start, because growing it later
# (set_mapsize) invalidates the transactions other threads hold; an environment
# opened smaller still doubles when full, up to the limit.
DEFAULT_MAP_LIMIT = 1 << 40
MAX_DBS = 32


class IndexFull(TracecodeError):
    """The LMDB map reached its configured limit, or the disk is full."""


def open_env(path: str | Path, *, readonly: bool = False, map_size: int | None = None,
             map_limit: int = DEFAULT_MAP_LIMIT):
    """Open (creating if needed) the environment at `path`, durable by default.

    sync stays on: a write transaction that returned has reached the disk,
    which is what makes reservations and lifecycle events safe across a crash.
    """
    path = Path(path)
    if not readonly:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = lmdb.open(str(path), map_size=map_limit if map_size is None else map_size, max_dbs=MAX_DBS, readonly=readonly,
                    subdir=True, sync=True, metasync=True, lock=True)
    _LIMITS[id(env)] = map_limit
    return env


_LIMITS: dict = {}


def run_write(env, fn):
    """Run fn(txn) in a write transaction and commit; a full map grows (doubling,
    up to the limit) and the whole transaction is retried, so callers see either
    a commit or a clear IndexFull with nothing written."""
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
        except lmdb.DiskError as exc:
            raise IndexFull(f"the disk under the index is full or failing: {exc}") from None
