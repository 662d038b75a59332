"""The public queries of each code, kept apart from the scan log so that a page can say
"queried N times, first on ... in ..." with one short range read:

    public_queries   len(key) (u8) + code key + time (>d) + scan number (>Q) -> place

A scan whose scanner is port.PUBLIC_SCANNER (the public window's caller) is written here
by the scan log's commit, in the same write transaction as its scan record. Keys of one
code are contiguous and in time order, so the first query and a count up to a bound are
the first bound + 1 entries after the code's prefix: never a walk of the code's scans
(a code scanned by every warehouse on its way has as many of those as it has stops).

An index made before this table has no public queries recorded in it; a read-only one
reads none.
"""
from __future__ import annotations

import struct

from .env import IndexReadOnly, open_db

NAME = b"public_queries"
_TAIL = struct.Struct(">dQ")


def prefix(ref: bytes) -> bytes:
    """A code's keys start with their length, so no code's prefix is another's."""
    return bytes((len(ref),)) + ref


def open_table(env):
    """The table (made when missing); None in a read-only index from before it."""
    try:
        return open_db(env, NAME)
    except IndexReadOnly:
        return None


def put(txn, db, ref: bytes, when: float, number: int, place: str | None) -> None:
    if db is not None and ref and len(ref) < 256:
        txn.put(prefix(ref) + _TAIL.pack(when, number), (place or "").encode(), db=db)


def read(txn, db, ref: bytes, bound: int) -> tuple[int, float | None, str | None]:
    """(count up to bound + 1, first query's time, its place) of a code: one range read."""
    if db is None or not ref or len(ref) >= 256:
        return 0, None, None
    head = prefix(ref)
    cur = txn.cursor(db=db)
    count, first, place = 0, None, None
    if cur.set_range(head):
        for key, value in cur:
            if not key.startswith(head) or len(key) != len(head) + _TAIL.size:
                break
            if first is None:
                first, place = _TAIL.unpack_from(key, len(head))[0], value.decode() or None
            count += 1
            if count > bound:
                break
    return count, first, place
