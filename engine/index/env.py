"""Opening the LMDB environment of a data directory."""
from pathlib import Path

import lmdb

# LMDB reserves address space, not disk: the file grows as data is written.
DEFAULT_MAP_SIZE = 64 << 30
MAX_DBS = 32


def open_env(path: str | Path, *, readonly: bool = False, map_size: int = DEFAULT_MAP_SIZE):
    """Open (creating if needed) the environment at `path`, durable by default.

    sync stays on: a write transaction that returned has reached the disk,
    which is what makes a counter reservation safe across a crash.
    """
    path = Path(path)
    if not readonly:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return lmdb.open(str(path), map_size=map_size, max_dbs=MAX_DBS, readonly=readonly,
                     subdir=True, sync=True, metasync=True, lock=True)
