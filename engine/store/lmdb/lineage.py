"""Keeping an opened index continuous with its past: identity and reservation marks.

When a data directory's index opens, its stamp (stamp.py) and the uuid inside
the LMDB environment must agree, and the reservation journal (journal.py) must
hold nothing the index lacks; what it holds beyond the index's `journal_end`
(an older copy of data.mdb put in place, or a crash between the journal's
fsync and the commit) is replayed first: counters, batch and product ids are
raised to the journal's marks and the missing batch records of committed
(marked, journal.py) reservations put back. An index with no stamp is adopted
once, with a warning: one with no uuid either (made before stamps existed) is
given a uuid, a stamp and a journal rebuilt from its counters; one that names
itself (only the stamp was lost) first replays its own journal, never sets it
aside.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from . import journal, stamp
from .batches import Batches, BatchRecord, u64
from .env import run_write

_log = logging.getLogger("tracecode.index")
JOURNAL_END = b"journal_end"


class LineageError(stamp.StampError):
    """index/ is not the index this data directory's stamp or journal names."""


def _get_u64(txn, key, db) -> int | None:
    raw = txn.get(key, db=db)
    return int.from_bytes(raw, "big") if raw is not None else None


def index_uuid(env, batches: Batches) -> str | None:
    with env.begin() as txn:
        raw = txn.get(stamp.UUID_KEY, db=batches.meta)
    return raw.decode() if raw is not None else None


def replay(txn, batches: Batches, entries) -> int:
    """Raise counters, batch and product ids to every entry's marks (an entry whose
    commit is not proven may still have been issued: its counters are never reused)
    and put back the batch records (and ranges, product ids) the index lacks, of
    committed entries only (journal.py: a refused reservation is no batch); returns
    how many were put back."""
    put_back = 0
    last = {}   # per batch id, the last committed entry: the writer lock orders the lines
    for e in entries:
        have = _get_u64(txn, e.counter_key, batches.counters) or 0
        if e.end > have:
            txn.put(e.counter_key, u64(e.end), db=batches.counters)
        for key, value in ((b"next_batch", e.batch + 1), (b"next_product", e.product_id + 1)):
            if value > 1 and value > (_get_u64(txn, key, batches.meta) or 0):
                txn.put(key, u64(value), db=batches.meta)
        if e.record and e.committed:
            last[e.batch] = e
    for e in last.values():
        if txn.get(u64(e.batch), db=batches.records) is not None:
            continue
        rec = BatchRecord(**e.record)
        pid = e.product_id.to_bytes(4, "big")
        if txn.get(e.counter_key, db=batches.products) is None \
                and txn.get(pid, db=batches.product_ids) is None:
            txn.put(e.counter_key, pid, db=batches.products)
            txn.put(pid, json.dumps({"scheme": rec.scheme, "product": rec.product},
                                    ensure_ascii=False).encode(), db=batches.product_ids)
        txn.put(u64(rec.id), rec.to_bytes(), db=batches.records)
        txn.put(e.counter_key + b"\x00" + u64(rec.start), u64(rec.id), db=batches.ranges)
        put_back += 1
    return put_back


def snapshot(txn, batches: Batches) -> list:
    """The index's marks as journal entries (no batch records): a journal rebuilt from it."""
    last_batch = (_get_u64(txn, b"next_batch", batches.meta) or 1) - 1
    out = []
    for key, raw in txn.cursor(db=batches.counters):
        pid = txn.get(key, db=batches.products)
        out.append(journal.Entry(bytes(key), int.from_bytes(raw, "big"), last_batch,
                                 int.from_bytes(pid, "big") if pid else 0, {}))
    return out


def entries_of(txn, batches: Batches) -> list:
    """Every batch of the index as a committed journal entry (with its record), then its
    marks (snapshot): what a restore takes from the index it sets aside."""
    out = []
    for key, value in txn.cursor(db=batches.ranges):
        key = bytes(key)
        counter_key, start = key[:-9], int.from_bytes(key[-8:], "big")
        raw = txn.get(bytes(value), db=batches.records)
        pid = txn.get(counter_key, db=batches.products)
        if raw is None or pid is None:
            continue
        rec = json.loads(raw)
        out.append(journal.Entry(counter_key, start + rec["count"], rec["id"],
                                 int.from_bytes(pid, "big"), rec, True))
    return out + snapshot(txn, batches)


def _rebuild(txn, batches: Batches, path: Path, uuid: str) -> None:
    if path.exists():
        try:   # what it still holds of this index counts: never set marks aside unreplayed
            owner, entries, _, _ = journal.read(path)
        except journal.JournalError:
            owner, entries = None, []
        if owner == uuid:
            replay(txn, batches, entries)
        path.rename(path.with_name(f"{path.name}.damaged-{int(time.time())}"))
    end = journal.create(path, uuid, snapshot(txn, batches))
    txn.put(JOURNAL_END, u64(end), db=batches.meta)


def rebuild_journal(env, batches: Batches, path: Path, uuid: str, why: str) -> None:
    """A new journal holding the index's current marks (the old one kept aside)."""
    run_write(env, lambda txn: _rebuild(txn, batches, path, uuid))
    _log.warning("%s: %s; rebuilt it from the index's counters", path, why)


def adopt(datadir: Path, env, batches: Batches, path: Path) -> None:
    """Give an index made before stamps a uuid, a journal and a stamp, all under the
    writer lock, so two processes opening it at once agree on one uuid."""
    def body(txn):
        if stamp.read(datadir) is not None:
            return None           # another process adopted it meanwhile
        raw = txn.get(stamp.UUID_KEY, db=batches.meta)   # one that committed first wins
        fmt = txn.get(b"format", db=batches.meta)
        fmt = fmt.decode() if fmt else ""
        if raw is None:
            uuid = stamp.new_uuid()
            txn.put(stamp.UUID_KEY, uuid.encode(), db=batches.meta)
            _rebuild(txn, batches, path, uuid)
            return uuid, fmt, None
        # The index names itself: only the stamp was lost (and maybe an older data.mdb was
        # put back). Its journal, if it names the same index, holds reservations the index
        # may lack: replay it, never set it aside (counters would be issued again).
        uuid = raw.decode()
        try:
            owner, entries, read_to, _ = journal.read(path)
        except journal.JournalError as exc:
            if path.exists():
                _log.warning("%s: %s", path, exc)
            _rebuild(txn, batches, path, uuid)
            return uuid, fmt, None
        if owner != uuid:
            raise LineageError(f"{datadir / 'index'} holds index {uuid} and {datadir} has no "
                               f"{stamp.NAME}, but {path} is the journal of index {owner}: put "
                               f"back this directory's journal and stamp, or restore this "
                               f"directory's backup (`tracecode restore BACKUP {datadir}`)")
        put_back = replay(txn, batches, entries)
        if (_get_u64(txn, JOURNAL_END, batches.meta) or 0) > read_to:
            _rebuild(txn, batches, path, uuid)   # shorter than the index's: it lacks marks
        else:
            txn.put(JOURNAL_END, u64(read_to), db=batches.meta)
        return uuid, fmt, (len(entries), put_back)
    done = run_write(env, body)
    if done:   # the stamp after the commit: it never names a uuid the index lacks
        uuid, fmt, replayed = done
        stamp.write(datadir, uuid, fmt)
        if replayed is None:
            _log.warning("%s had no %s (made by an older tracecode): adopted its index, "
                         "rebuilt %s from its counters", datadir, stamp.NAME, path.name)
        else:
            _log.warning("%s had lost its %s: its index %s was given it back after replaying "
                         "%s (%d reservations: counters raised past them, %d batch records "
                         "put back)", datadir, stamp.NAME, uuid, path.name, *replayed)


def attach(datadir: Path, env, batches: Batches, *, readonly: bool) -> journal.Writer | None:
    """Check the index against the stamp and the journal, replay or adopt as needed;
    the journal's writer (None when read-only)."""
    st = stamp.read(datadir)
    inner = index_uuid(env, batches)
    index_dir = datadir / "index"
    restore = f"restore this directory's backup (`tracecode restore BACKUP {datadir}`)"
    if st is not None and inner != st["index"]:
        what = f"index {inner}" if inner else "an index with no identity"
        raise LineageError(f"{index_dir} holds {what}, but {datadir / stamp.NAME} names index "
                           f"{st['index']}: it is not this directory's index; {restore}")
    if readonly:
        if st is None:
            _log.warning("%s has no %s (made by an older tracecode); open it writable once "
                         "to adopt it", datadir, stamp.NAME)
        return None
    path = datadir / journal.NAME
    if st is None:
        adopt(datadir, env, batches, path)
        return journal.Writer(path)
    uuid = st["index"]
    with env.begin() as txn:
        end = _get_u64(txn, JOURNAL_END, batches.meta) or 0
    have = journal.size(path)
    if have < end:
        rebuild_journal(env, batches, path, uuid, "missing" if have < 0 else
                        f"shorter ({have:,} bytes) than the index's record of it ({end:,})")
        return journal.Writer(path)
    try:
        owner, _, _, _ = journal.read(path, have)   # the header only
    except journal.JournalError as exc:
        rebuild_journal(env, batches, path, uuid, f"unreadable ({exc})")
        return journal.Writer(path)
    if owner != uuid:
        raise LineageError(f"{path} is the journal of index {owner}, not of this directory's "
                           f"index {uuid}; put back this directory's journal or {restore}")
    if have > end:
        catch_up(env, batches, path)
    return journal.Writer(path)


def catch_up(env, batches: Batches, path: Path) -> int:
    """Replay the journal past the index's `journal_end` (under the writer lock, so a
    reservation in flight in another process is not mistaken for a missing one)."""
    def body(txn):
        end = _get_u64(txn, JOURNAL_END, batches.meta) or 0
        _, entries, read_to, skipped = journal.read(path, end)
        n = replay(txn, batches, entries)
        txn.put(JOURNAL_END, u64(read_to), db=batches.meta)
        return len(entries), n, skipped
    seen, put_back, skipped = run_write(env, body)
    if skipped:
        _log.warning("%s: %d line(s) past the index's record of it are damaged or not "
                     "tracecode's and were skipped", path, skipped)
    if seen:
        _log.warning("%s held %d reservations the index lacked: counters raised past them, "
                     "%d batch records put back", path, seen, put_back)
    return seen

