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

A line is written before the commit, so it is only a promise: the commit may
still fail (a full disk: IndexFull, "nothing was reserved") or the process die
first. Once the commit succeeded, a marker line `{"ok": END, "batch": ID}` is
appended (END: the entry line's end offset in this file), under the writer lock.
A replay raises the counters past every entry, marked or not (a counter wasted
is harmless, one reused never is), but puts back the batch record of marked
entries only, so a refused reservation never becomes a phantom batch. A crash
between the commit and the marker costs that batch's record in a restore from
an older backup (its codes are never issued again). Entries written by
`create` (a rebuilt or restored journal) carry `"c": 1` instead of a marker.

Lines: JSON, a tab, the CRC-32 of the JSON in hex. The first line names the
index (`{"journal": 1, "index": UUID}`). A torn last line (a crash mid-write)
has no newline or a bad CRC and is skipped; the next append starts on a new
line; so is a line with a good CRC but content tracecode never writes.
Cost: two writes and two fdatasyncs per reservation (per batch, not per code).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from ...errors import TracecodeError
from .durable import write_atomically
from .env import IndexFull, StoreFailure

_log = logging.getLogger("tracecode.index")

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
    committed: bool = False   # its commit is proven (a marker, or "c" from create)


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
    obj = {"k": e.counter_key.hex(), "end": e.end, "batch": e.batch, "pid": e.product_id,
           "rec": e.record}
    if e.committed:
        obj["c"] = 1
    return _line(obj)


_U64_MAX = (1 << 64) - 1
# BatchRecord's fields and the types a record of ours holds (None allowed where optional)
_REC_TYPES = {"id": (int,), "scheme": (str,), "product": (dict,), "start": (int,),
              "count": (int,), "lot": (str, type(None)), "expiry": (str, type(None)),
              "line": (str, type(None)), "requester": (str, type(None)),
              "time": (int, float), "attributes": (dict,), "key_version": (int,)}
_REC_REQUIRED = ("id", "scheme", "product", "start", "count")


def _int(v, lo: int, hi: int) -> bool:
    return type(v) is int and lo <= v <= hi


def _entry(obj: dict) -> Entry | None:
    """The entry a line holds, None if it is not one tracecode writes (wrong types or
    keys, out-of-range numbers: a valid CRC over content of someone else's)."""
    try:
        key = bytes.fromhex(obj["k"]) if type(obj.get("k")) is str else None
    except ValueError:
        key = None
    rec = obj.get("rec")
    if (not key or not _int(obj.get("end"), 0, _U64_MAX) or not _int(obj.get("batch"), 0, _U64_MAX)
            or not _int(obj.get("pid"), 0, (1 << 32) - 1) or type(rec) is not dict):
        return None
    if rec:
        if (any(k not in _REC_TYPES or not isinstance(v, _REC_TYPES[k]) or type(v) is bool
                for k, v in rec.items()) or any(k not in rec for k in _REC_REQUIRED)
                or rec["id"] != obj["batch"] or not _int(rec["start"], 0, _U64_MAX)
                or not _int(rec["count"], 1, _U64_MAX) or rec["start"] + rec["count"] != obj["end"]):
            return None
    return Entry(key, obj["end"], obj["batch"], obj["pid"], rec, obj.get("c") == 1)


def _marker(obj: dict) -> tuple | None:
    if set(obj) == {"ok", "batch"} and _int(obj["ok"], 1, _U64_MAX) \
            and _int(obj["batch"], 0, _U64_MAX):
        return obj["ok"], obj["batch"]
    return None


def create(path: str | Path, index_uuid: str, entries=()) -> int:
    """Write a new journal (header, then `entries`) atomically; returns its length."""
    data = header(index_uuid) + b"".join(entry_line(e) for e in entries)
    write_atomically(path, data)
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
    if (not isinstance(head, dict) or head.get("journal") != VERSION
            or type(head.get("index")) is not str):
        raise JournalError(f"{path} is not a tracecode reservation journal (bad first line)")
    entries, skipped, marked = [], 0, set()
    at = max(start, len(first))
    # the part after the last newline is empty, or a torn line (skipped: its CRC fails),
    # or a whole line whose newline was lost (kept: the next append completes it anyway)
    for line in body.split(b"\n"):
        at += len(line) + 1                       # this line's end offset (past its newline)
        obj = _parse(line)
        e = _entry(obj) if isinstance(obj, dict) and "k" in obj else None
        if e is not None:
            entries.append((at, e))
            continue
        m = _marker(obj) if isinstance(obj, dict) else None
        if m is not None:
            marked.add(m)
        else:
            skipped += bool(line)
    entries = [e if e.committed or (end, e.batch) not in marked else
               Entry(e.counter_key, e.end, e.batch, e.product_id, e.record, True)
               for end, e in entries]
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
        self._owed = []   # (inode, end, batch) of markers a full disk kept from being written

    def append(self, e: Entry) -> int:
        """Append and fdatasync one entry; returns the journal's new length."""
        if self._fd is not None and _inode(self.path) != os.fstat(self._fd).st_ino:
            self.close()   # rebuilt or restored by another process: append to the new file
        if self._fd is None:
            if not self.path.exists():   # never create one here: open made or checked it
                raise JournalError(f"{self.path} is missing; reopen the data directory "
                                   f"to rebuild it from the index")
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        ino = os.fstat(self._fd).st_ino
        owed = [(end, batch) for i, end, batch in self._owed if i == ino]
        line = b"".join(_line({"ok": end, "batch": batch}) for end, batch in owed) + entry_line(e)
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
        self._owed = []   # written now, before this entry (they name earlier commits)
        return at + len(line)

    def committed(self, env, end: int, batch: int) -> None:
        """Mark the entry that ended at `end` as committed (call right after the commit),
        under the writer lock like every line. A marker that cannot be written (the disk
        filled since) is logged and owed: written before this writer's next entry (the
        reservation stands; its counters are in the journal either way)."""
        ino = None
        try:
            txn = env.begin(write=True)   # the writer lock: no line of another process between
            try:
                if self._fd is None or _inode(self.path) != os.fstat(self._fd).st_ino:
                    return   # the journal was rebuilt or restored since: its offsets are others'
                ino = os.fstat(self._fd).st_ino
                line = _line({"ok": end, "batch": batch})
                at = os.fstat(self._fd).st_size
                if at and os.pread(self._fd, 1, at - 1) != b"\n":
                    line = b"\n" + line
                if os.write(self._fd, line) != len(line):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fdatasync(self._fd)
            finally:
                txn.abort()
        except (OSError, StoreFailure) as exc:
            if ino is not None:
                self._owed.append((ino, end, batch))
            _log.warning("%s: batch %d committed, but its journal marker could not be written "
                         "(%s); it is written before the next reservation's line (until then "
                         "a restore from an older backup raises the counters past it but does "
                         "not put its record back)", self.path, batch, exc)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
