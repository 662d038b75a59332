"""The scan log: append-only, group-committed.

Verification answers at once and hands its scans to this log (a batch call
as it came, a single scan as a few list appends); a background thread commits
whatever has gathered every `interval` seconds (5 ms by default) in one write transaction, and a caller that finds
MAX_PENDING scans waiting commits them itself (backpressure). A crash (kill -9)
can therefore lose at most the scans of the last interval and never more than
2 x MAX_PENDING (those waiting plus those being written), never a committed
one and never a lifecycle event (those commit before they are acknowledged).
flush() and close() commit what is pending.

When a commit fails (a full disk: IndexFull), the scans go back in the queue and
the writer thread retries with a growing pause (up to MAX_BACKOFF); while commits
fail the queue holds at most MAX_PENDING scans (plus the call that reached it) and
a recording call that would pass that is refused with the commit's error, its scans
neither recorded nor queued. A call that returned was queued; the first commit
that works again (the disk has room) clears the failure.

Writing is one C loop (_codes.record_scans) that runs without the GIL, so
the log commits on one core while verification goes on on another.
"""
from __future__ import annotations

import logging
import struct
import sys
import threading
import zlib

import numpy as np

from . import _codes, publicq
from ..port import PUBLIC_SCANNER
from .codekeys import Keys
from .keyorder import visit_order
from ...errors import TracecodeError
from .env import IndexFull, run_write

MAX_PENDING = 4096
MAX_BACKOFF = 0.5   # seconds between the writer's retries while commits fail
_log = logging.getLogger("tracecode.scanlog")
_SCAN_HEAD = struct.Struct(">dHH")   # a scan record's time, then its source's head
_SOURCE_HEAD = struct.Struct(">HH")
_MAX_TEXT = 0x7FFF   # a scanner's or place's length in a record (the index's bounds are far lower)
# Where a scan happened, besides its place text (added after index format 2, compatibly): the
# place length's top bit says a location block follows the place text: the GB/T 2260 region
# (u32, 0: none), latitude and longitude (NaN: none). Records written before carry no block
# (their place lengths stay below 0x8000) and read with region, lat and lon None.
_LOC_FLAG = 0x8000
_LOC = struct.Struct(">Idd")


def place_hash(place: str | None) -> int:
    return zlib.crc32(place.encode()) | 1 if place is not None else 0  # 0 means "no place"


def source_prefix(scanner, place, region=None, lat=None, lon=None) -> bytes:
    """What scans from one scanner at one place share: the lengths, then the texts, then
    the location block if any of region, lat, lon is given (a scan record starts with its
    time, then this)."""
    s = (scanner or "").encode()
    p = (place or "").encode()
    if region is None and lat is None and lon is None:
        return _SOURCE_HEAD.pack(len(s), len(p)) + s + p
    nan = float("nan")
    return (_SOURCE_HEAD.pack(len(s), len(p) | _LOC_FLAG) + s + p
            + _LOC.pack(int(region or 0), nan if lat is None else lat, nan if lon is None else lon))


def record_source(raw: bytes, at: int = 8) -> tuple:
    """(scanner, place, region, lat, lon, end) of the source a scan record holds from
    offset `at` (after its time); end: the offset of its verdict byte."""
    ls, lp = _SOURCE_HEAD.unpack_from(raw, at)
    at += _SOURCE_HEAD.size
    scanner = raw[at:at + ls].decode() or None
    at += ls
    place = raw[at:at + (lp & _MAX_TEXT)].decode() or None
    at += lp & _MAX_TEXT
    region = lat = lon = None
    if lp & _LOC_FLAG:
        r, la, lo = _LOC.unpack_from(raw, at)
        at += _LOC.size
        region = f"{r:06d}" if r else None
        lat = None if la != la else la
        lon = None if lo != lo else lo
    return scanner, place, region, lat, lon, at


def _merge(old: _Pending, new: _Pending) -> _Pending:
    """Scans that failed to commit, put back before those queued since."""
    out = _Pending()
    for part in (old, new):
        remap = [out.source(*name) for name in part.source_ids]
        out.calls += [(k, v, remap[src], when) for k, v, src, when in part.calls]
        out.keys += part.keys
        out.verdicts += part.verdicts
        out.sources += [remap[src] for src in part.sources]
        out.times += part.times
        out.count += part.count
    return out


# A scan record's verdict byte is Verdict - VERDICT_BIAS (0 GENUINE ... 7 SUSPICIOUS): the
# numbering Verdict had when index format 2 was written, kept so those indexes read as
# they are, with no rewrite of their scans.
VERDICT_BIAS = 1


def unpack_scan(raw: bytes) -> dict:
    """A scan record: the chunk's prefix, the verdict (u8), the seq of the code's
    previous scan (u64, machine order, 0: none) and the code key (empty: unknown code)."""
    when = _SCAN_HEAD.unpack_from(raw)[0]
    scanner, place, region, lat, lon, at = record_source(raw)
    return {"time": when, "scanner": scanner, "place": place,
            "region": region, "lat": lat, "lon": lon,
            "verdict": raw[at] + VERDICT_BIAS,
            "prev": int.from_bytes(raw[at + 1:at + 9], sys.byteorder), "key": raw[at + 9:]}


class _Pending:
    """Scans waiting for a commit: whole calls as they came (Keys, verdicts), and
    single scans gathered row by row, so one scan costs a few list appends."""

    def __init__(self):
        self.calls: list = []      # (keys, verdicts, source, when)
        self.keys: list = []       # single scans: key bytes (b"": unknown), verdict, source, time
        self.verdicts = bytearray()
        self.sources: list = []
        self.times: list = []
        self.source_ids: dict = {}  # (scanner, place, region, lat, lon) -> source id
        self.count = 0

    def source(self, scanner, place, region=None, lat=None, lon=None) -> int:
        source = (scanner, place, region, lat, lon)
        sid = self.source_ids.get(source)
        if sid is None:  # a record packs each length in 15 bits: past that, no commit could succeed
            for name, value in (("scanner", scanner), ("place", place)):
                if value is not None and len(value.encode()) > _MAX_TEXT:
                    raise ValueError(f"{name} is over {_MAX_TEXT:,} bytes; the scan log cannot hold it")
            sid = self.source_ids[source] = len(self.source_ids)
        return sid


class ScanLog:
    """The scan log of one LMDB store (LmdbStore.scan_log: the port's record_scans)."""

    def __init__(self, store, interval: float = 0.005):
        self.store = store   # the LmdbStore whose tables (codes, scans, meta) it writes
        self.interval = interval
        self._pending = _Pending()
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()   # one commit at a time: flush() waits for one under way
        self._wake = threading.Event()
        self._stop = False
        self._thread = None
        self._failure: BaseException | None = None   # why the last commit failed; None: it worked
        self._committing = 0   # scans taken out of the queue by a commit under way

    @property
    def failure(self) -> BaseException | None:
        """The error of the last commit if it failed (scans are waiting), else None."""
        return self._failure

    @property
    def pending(self) -> int:
        """Scans queued or being committed."""
        with self._lock:
            return self._pending.count + self._committing

    def _admit(self, n: int) -> None:
        """Under the lock: refuse n more scans while commits fail and the queue is at its bound."""
        failure = self._failure
        waiting = self._pending.count + self._committing
        if failure is not None and waiting + n > MAX_PENDING:
            kind = IndexFull if isinstance(failure, IndexFull) else TracecodeError
            raise kind(f"scans are not being recorded: {waiting:,} wait for a commit that "
                       f"fails ({failure}); these {n:,} were not recorded")

    def add(self, keys: Keys, verdicts, scanner, place, when, region=None, lat=None, lon=None) -> None:
        """Queue one call's scans: code keys (empty for unknown codes), verdicts (uint8);
        region an int or 6-digit text (checked by the caller), lat/lon floats or None."""
        with self._lock:
            self._admit(len(keys))
            p = self._pending
            src = p.source(scanner, place, region, lat, lon)
            p.calls.append((keys, np.asarray(verdicts, np.uint8), src, when))
            p.count += len(keys)
            full = self._started()
        if full:
            self._commit_queued()

    def add_one(self, key: bytes | None, verdict: int, scanner, place, when,
                region=None, lat=None, lon=None) -> None:
        """Queue one scan (the single-scan path)."""
        with self._lock:
            self._admit(1)
            p = self._pending
            src = p.source(scanner, place, region, lat, lon)  # first: a refusal leaves the queue as it was
            p.keys.append(key or b"")
            p.verdicts.append(verdict)
            p.sources.append(src)
            p.times.append(when)
            p.count += 1
            full = self._started()
        if full:
            self._commit_queued()

    def _started(self) -> bool:
        """Start the writer thread if needed (under the lock); True when full."""
        if self._thread is None and not self._stop:
            self._thread = threading.Thread(target=self._run, name="tracecode-scanlog", daemon=True)
            self._thread.start()
        return self._pending.count >= MAX_PENDING

    def _commit_queued(self) -> None:
        """A caller's commit of a full queue: its own scans are queued already, so a
        failure (recorded by flush, retried by the writer) is not this call's error."""
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - kept in self._failure, refused calls report it
            pass

    def _run(self):
        delay = self.interval
        while not self._stop:
            self._wake.wait(delay)
            self._wake.clear()
            try:
                self.flush()
                delay = self.interval
            except Exception:  # noqa: BLE001 - the scans went back in the queue: retry, slower
                delay = min(delay * 2, MAX_BACKOFF)

    def flush(self) -> int:
        """Commit the pending scans now; returns how many. A commit under way (the writer
        thread's) is waited for first, so on return every scan queued before is committed."""
        with self._commit_lock:
            return self._flush()

    def _flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, _Pending()
            self._committing += pending.count
        if pending.count:
            try:
                run_write(self.store.env, lambda txn: self._write(txn, pending))
            except BaseException as exc:
                with self._lock:  # nothing was committed: the next flush takes them again
                    self._pending = _merge(pending, self._pending)
                    self._committing -= pending.count
                    first, self._failure = self._failure is None, exc
                if first:  # once per failure, not every retry
                    _log.error("could not commit %d scans, keeping them and retrying: %s",
                               pending.count, exc)
                raise
            with self._lock:
                self._committing -= pending.count
                recovered, self._failure = self._failure is not None, None
            if recovered:
                _log.warning("scans commit again (%d committed)", pending.count)
        return pending.count

    def _write(self, txn, p: _Pending):
        """All pending scans in one C loop: the scan records appended and each
        code's Seen record updated (count, first scan, last scan, places)."""
        st = self.store
        meta = st.batches.meta
        raw = txn.get(b"next_scan", db=meta)
        first = int.from_bytes(raw, "big") if raw else 1
        sizes = [len(c[1]) for c in p.calls]
        if len(p.calls) == 1 and not p.keys:   # one call's keys as they are (its read sorted them)
            keys = p.calls[0][0]
        else:
            keys = Keys.concat([c[0] for c in p.calls] + [Keys.packed(p.keys)])
        verdicts = np.concatenate([c[1] for c in p.calls] + [np.frombuffer(p.verdicts, np.uint8)])
        verdicts -= VERDICT_BIAS  # the stored byte (a copy: the queue keeps Verdicts for a retry)
        sources = np.concatenate([np.repeat(np.array([c[2] for c in p.calls], np.int32), sizes),
                                  np.array(p.sources, np.int32)])
        times = np.concatenate([np.repeat(np.array([c[3] for c in p.calls], np.float64), sizes),
                                np.array(p.times, np.float64)])
        names = list(p.source_ids)  # in id order
        prefixes = [source_prefix(*name) for name in names]
        prefix_off = np.cumsum([0] + [len(x) for x in prefixes]).astype(np.int64)
        _codes.record_scans(st.env, txn, st.db_codes, st.db_scans, first, keys.buf, keys.off,
                            verdicts, sources, np.frombuffer(b"".join(prefixes), np.uint8), prefix_off,
                            np.array([place_hash(name[1]) for name in names], np.uint32), times,
                            order=visit_order(keys), seen_db=st.db_seen)
        txn.put(b"next_scan", (first + len(verdicts)).to_bytes(8, "big"), db=meta)
        public = [sid for sid, name in enumerate(names) if name[0] == PUBLIC_SCANNER]
        if public and st.db_public_queries is not None:   # the public window's queries, by code
            for row in np.flatnonzero(np.isin(sources, public)).tolist():
                publicq.put(txn, st.db_public_queries, bytes(keys.buf[keys.off[row]:keys.off[row + 1]]),
                            float(times[row]), first + row, names[sources[row]][1])

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
