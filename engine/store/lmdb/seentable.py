"""Scan summaries in a table of their own (record format 3), and the move from format 2.

Format 2 kept each scanned code's summary (_codes.Seen: count, first scan, last scan,
places) in `codes` under code key + 0x02, beside the code's state record, so recording
10^6 scans dirtied nearly every leaf page of `codes`. Format 3 keeps them in `seen`
under the bare code key (fixed-width values; a product's codes by counter, so a
batch's codes are neighbours): a commit writes the summaries' pages only.

The move runs once, when a writable store of format 2 is opened (LmdbStore.upgrade_format),
in one write transaction with the format stamp: a crash leaves format 2 whole, and the
next open moves again. A read-only index of format 2 is refused with what to do, and so is
one holding a code key + 0x02 record of another size than a summary's (SummaryDamaged:
nothing is deleted or changed, the index stays format 2).
"""
from __future__ import annotations

from collections import Counter

from ..errors import TracecodeError
from . import _codes
from .env import open_db, run_write

NAME = b"seen"
FROM, TO = b"2", b"3"    # the record formats before and after the move
SEEN_SIZE = 4 + 1 + 8 + 8 + 8 + 4 * _codes.MAX_PLACES   # _codes.Seen, packed
_KIND = _codes.SEEN[0]


class SummaryDamaged(TracecodeError):
    """A format-2 index holds scan summaries of the wrong size: the move to format 3 is
    refused (they are kept, nothing changed) rather than dropping them unseen."""


def open_table(env):
    """The summaries' table (None: a read-only index from before it)."""
    from .env import IndexReadOnly
    try:
        return open_db(env, NAME)
    except IndexReadOnly:
        return None


def move_summaries(txn, db_codes, db_seen) -> int:
    """Every format-2 summary (code key + 0x02 in codes) put in seen under the code key
    and deleted from codes, in txn; returns how many. Keys visited in order, so seen is
    appended to (a code key holds no byte below 0x20: stripping the kind keeps the order).
    Python over one cursor pass, once per index: about 1.3 us per record of codes.
    A summary of another size than SEEN_SIZE is SummaryDamaged, raised after the pass
    (counting them all) so the transaction aborts with nothing changed."""
    src, dst = txn.cursor(db=db_codes), txn.cursor(db=db_seen)
    moved = 0
    odd: Counter = Counter()          # size -> how many summaries of that wrong size
    more = src.first()
    while more:
        key = src.key()
        if key[-1] == _KIND and len(key) > 1:
            value = src.value()
            if len(value) != SEEN_SIZE:
                odd[len(value)] += 1
            if odd:                       # refused below: only counting from here
                more = src.next()
                continue
            dst.put(key[:-1], value, append=True)
            moved += 1
            src.delete()                  # moves to the next record
            more = bool(src.key())
        else:
            more = src.next()
    if odd:
        sizes = ", ".join(f"{n:,} of {size} bytes" for size, n in sorted(odd.items()))
        raise SummaryDamaged(f"cannot move the scan summaries to record format 3: "
                             f"{sum(odd.values()):,} code key + 0x02 records in codes are not "
                             f"{SEEN_SIZE}-byte summaries ({sizes}); nothing was changed (the index "
                             f"is still format 2): restore it from a backup or remove those records")
    return moved


def upgrade(env, db_meta, db_codes, db_seen) -> bytes:
    """Format 2 -> 3 in one write transaction (the summaries moved, the stamp changed);
    returns the format now held."""
    def body(txn):
        held = txn.get(b"format", db=db_meta)
        if held == FROM:
            move_summaries(txn, db_codes, db_seen)
            txn.put(b"format", TO, db=db_meta)
            return TO
        return held
    return run_write(env, body)
