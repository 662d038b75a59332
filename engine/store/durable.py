"""Files beside the index that must survive a crash whole: the stamp, the journal, backups."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def fsync_path(path: str | Path) -> None:
    """fsync a file or a directory by name (a directory's, so a rename in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: str | Path, data: bytes) -> None:
    """`path` holds `data` whole or keeps what it had: a temporary file (mode 0600), fsync,
    rename over `path`, fsync of the directory."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_path(path.parent)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read a MiB at a time (backups hold files of any size)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
