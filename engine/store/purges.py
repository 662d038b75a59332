"""A data directory's purge record, whatever its store: what each privacy purge removed,
for readers that keep copies of the scan log (the analytics export) to follow.

    DIR/purges.jsonl   one line a purge: {"generation": N, "at": ISO time,
                       "before": Unix time} or {"generation": N, "at": ..., "scanner": HMAC}
    DIR/purges.key     32 random bytes (0600): the key of the scanner HMACs

The purged scanner is kept only as a keyed hash (the purge must not keep the identity it
erased); a reader holding a copy hashes its scanners with `scanner_mark` to match it.
Written by tracecode.app.privacy after the store's purge committed.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
from pathlib import Path

from ..errors import TracecodeError

NAME, KEY = "purges.jsonl", "purges.key"


class PurgeRecordError(TracecodeError):
    """DIR/purges.jsonl is damaged (not the JSON lines tracecode writes)."""


def _key(datadir: Path, create: bool) -> bytes | None:
    path = datadir / KEY
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if not create:
            return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    try:
        key = os.urandom(32)
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def scanner_mark(key: bytes, scanner: str) -> str:
    return hmac.digest(key, scanner.encode(), hashlib.sha256).hex()


def read(datadir) -> list[dict]:
    """The purges recorded, oldest first ([] if none)."""
    path = Path(datadir) / NAME
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            ok = (isinstance(rec, dict) and isinstance(rec.get("generation"), int)
                  and (isinstance(rec.get("before"), (int, float)) or isinstance(rec.get("scanner"), str)))
        except (ValueError, UnicodeDecodeError):
            ok = False
        if not ok:
            if n == len(lines):   # a torn last line (a crash while appending): not a purge yet
                break
            raise PurgeRecordError(f"{path} line {n} is damaged; restore it from a backup")
        out.append(rec)
    return out


def generation(datadir) -> int:
    got = read(datadir)
    return got[-1]["generation"] if got else 0


def key(datadir) -> bytes | None:
    """The scanner HMAC key, None while no scanner was purged."""
    return _key(Path(datadir), create=False)


def record(datadir, *, before: float | None = None, scanner: str | None = None) -> int:
    """Append a purge (durably); its generation."""
    datadir = Path(datadir)
    rec = {"generation": generation(datadir) + 1,
           "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    if scanner is not None:
        rec["scanner"] = scanner_mark(_key(datadir, create=True), scanner)
    else:
        rec["before"] = float(before)
    fd = os.open(datadir / NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, json.dumps(rec).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return rec["generation"]
