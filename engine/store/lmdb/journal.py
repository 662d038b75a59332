"""The reservation journal: every reservation's high-water mark, outside LMDB.

    DIR/reservations.journal   append-only, one line per reservation, fsynced

A backup of the index is a moment in the past; codes issued after it are out
in the world. Restoring the backup alone would hand their counters out again.
So each reservation is also appended here, and fsynced, inside the LMDB write
transaction that makes it (the writer lock orders the lines, across processes),
before that transaction commits: a reservation that returned is in the
journal. Replaying the journal over a restored index raises every product's
next counter (and the next batch and product ids) to at least its mark, and
puts back the batch records the backup lacks, so those codes still verify.

The index keeps the journal's length at its last reservation (meta
`journal_end`): a journal longer than that holds reservations the index does
not (an older copy of the index put in place, or a crash between the fsync
and the commit) and is replayed from there when the index opens for writing.

Lines: JSON, a tab, the CRC-32 of the JSON in hex. The first line names the
index (`{"journal": 1, "index": UUID}`). A torn last line (a crash mid-write)
has no newline or a bad CRC and is skipped; the next append starts on a new
line. Cost: one write and one fdatasync per reservation (per batch, not per
code).
"""
from __future__ import annotations

import errno
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from ...errors import TracecodeError
from .env import IndexFull

NAME = "reservations.journal"
VERSION = 1


class JournalError(TracecodeError):
    """The reservation journal is missing, unreadable or of another index."""


@dataclass(frozen=True)
class Entry:
    counter_key: bytes    # scheme \0 product_key (the counters database's key)
    end: int              # the next free counter after this reservation
    batch: int            # the batch id
    product_id: int
    record: dict          # the batch record (BatchRecord fields)


def _line(obj: dict) -> bytes:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return text + b"\t" + format(zlib.crc32(text), "08x").encode() + b"\n"


def _parse(line: bytes) -> dict | None:
    text, sep, crc = line.rpartition(b"\t")
    if not sep or crc != format(zlib.crc32(text), "08x").encode():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def header(index_uuid: str) -> bytes:
    return _line({"journal": VERSION, "index": index_uuid})


def entry_line(e: Entry) -> bytes:
    return _line({"k": e.counter_key.hex(), "end": e.end, "batch": e.batch,
                  "pid": e.product_id, "rec": e.record})


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create(path: str | Path, index_uuid: str, entries=()) -> int:
    """Write a new journal (header, then `entries`) atomically; returns its length."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    data = header(index_uuid) + b"".join(entry_line(e) for e in entries)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return len(data)


def read(path: str | Path, start: int = 0):
    """(index uuid, entries from byte `start`, bytes read, lines skipped as torn or damaged)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            first = f.readline()
            f.seek(max(start, len(first)))
            body = f.read()
    except FileNotFoundError:
        raise JournalError(f"{path} is missing") from None
    except OSError as exc:
        raise JournalError(f"{path} cannot be read: {exc.strerror}") from None
    head = _parse(first.rstrip(b"\n")) if first.endswith(b"\n") else None
    if not head or head.get("journal") != VERSION or "index" not in head:
        raise JournalError(f"{path} is not a tracecode reservation journal (bad first line)")
    entries, skipped = [], 0
    # the part after the last newline is empty, or a torn line (skipped: its CRC fails),
    # or a whole line whose newline was lost (kept: the next append completes it anyway)
    for line in body.split(b"\n"):
        obj = _parse(line)
        if obj is None or "k" not in obj:
            skipped += bool(line)
            continue
        entries.append(Entry(bytes.fromhex(obj["k"]), int(obj["end"]), int(obj["batch"]),
                             int(obj["pid"]), obj["rec"]))
    return head["index"], entries, max(start, len(first)) + len(body), skipped


def size(path: str | Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return -1


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return -1


class Writer:
    """Appends to one journal; call only inside an LMDB write transaction (the
    writer lock keeps lines whole and in order across processes)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd = None

    def append(self, e: Entry) -> int:
        """Append and fdatasync one entry; returns the journal's new length."""
        if self._fd is not None and _inode(self.path) != os.fstat(self._fd).st_ino:
            self.close()   # rebuilt or restored by another process: append to the new file
        if self._fd is None:
            if not self.path.exists():   # never create one here: open made or checked it
                raise JournalError(f"{self.path} is missing; reopen the data directory "
                                   f"to rebuild it from the index")
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        line = entry_line(e)
        try:
            at = os.fstat(self._fd).st_size
            if at and os.pread(self._fd, 1, at - 1) != b"\n":
                line = b"\n" + line   # a torn line before: start a fresh one
            n = os.write(self._fd, line)
            if n != len(line):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fdatasync(self._fd)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise IndexFull(f"the disk under the index at {self.path.parent} is full "
                                f"({exc.strerror}, writing {self.path.name}): nothing was "
                                f"reserved; free space and retry") from None
            raise JournalError(f"cannot write {self.path}: {exc.strerror}; nothing was "
                               f"reserved") from None
        return at + len(line)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
