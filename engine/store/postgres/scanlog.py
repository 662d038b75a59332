"""The scan log on PostgreSQL: queued, written by a writer thread with COPY in group commits.

Recording returns once the scans are queued; every scan_interval (5 ms) the writer commits
what gathered in ONE transaction: the scans COPYed into a temporary table, then moved into
tc_scans (each naming the code's previous scan) and each code's summary in tc_codes (count,
first scan, last seq, places) upserted in one statement. The loss bound is the LMDB scan
log's: a crash (kill -9 of this process) loses at most the scans of the last interval and
never more than 2 x MAX_PENDING (those waiting plus those being written), never a committed
scan and never an event. A queue of MAX_PENDING is committed by the caller that filled it
(backpressure); while commits fail the queue stays bounded and a call that would pass the
bound is refused with the commit's error. A commit whose acknowledgement was lost with the
connection is retried (store.write) and may then log those scans twice: at most one
interval's scans, only on a connection lost during COMMIT.

tc_scans is partitioned by day (days since the epoch of the scan's time): partitions are
made ahead as needed (today and tomorrow at open, any other day before its first scan), and
retention (purge_before) drops whole days' partitions, deleting only in a partial day.
"""
from __future__ import annotations

import logging
import math
import threading
import zlib

import numpy as np

from ...errors import TracecodeError
from ..errors import IndexFull
from ..port import PUBLIC_SCANNER
from .records import MAX_PLACES, split_refs

MAX_PENDING = 4096
MAX_BACKOFF = 0.5
DAY = 86400
_log = logging.getLogger("tracecode.scanlog")

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS tc_scans (seq bigint NOT NULL, day integer NOT NULL, "
    "time double precision NOT NULL, ref bytea, verdict smallint NOT NULL, scanner text, place text, "
    "place_hash bigint NOT NULL DEFAULT 0, region text, lat double precision, lon double precision, "
    "prev bigint NOT NULL DEFAULT 0, PRIMARY KEY (day, seq)) PARTITION BY RANGE (day)",
    "CREATE INDEX IF NOT EXISTS tc_scans_ref ON tc_scans (ref, seq)",
    "CREATE INDEX IF NOT EXISTS tc_scans_seq ON tc_scans (seq)",
    "CREATE INDEX IF NOT EXISTS tc_scans_scanner ON tc_scans (scanner)",
]

_BATCH = ("CREATE TEMP TABLE IF NOT EXISTS tc_scan_batch (seq bigint, time double precision, ref bytea, "
          "verdict smallint, scanner text, place text, place_hash bigint, region text, lat double precision, "
          "lon double precision) ON COMMIT DELETE ROWS")
_MOVE = """INSERT INTO tc_scans (seq, day, time, ref, verdict, scanner, place, place_hash, region, lat, lon, prev)
SELECT b.seq, floor(b.time / 86400)::int, b.time, b.ref, b.verdict, b.scanner, b.place, b.place_hash,
       b.region, b.lat, b.lon,
       CASE WHEN b.ref IS NULL THEN 0
            ELSE coalesce(lag(b.seq) OVER (PARTITION BY b.ref ORDER BY b.seq), c.last_seq, 0) END
FROM tc_scan_batch b LEFT JOIN tc_codes c ON c.ref = b.ref"""
# places: the old ones first, then the new, distinct, at most MAX_PLACES
_MERGE_PLACES = f"""(SELECT coalesce(array_agg(x ORDER BY o), '{{}}') FROM (SELECT x, min(o) o FROM
    unnest(c.places || excluded.places) WITH ORDINALITY u(x, o) GROUP BY x ORDER BY min(o) LIMIT {MAX_PLACES}) z)"""
_SUMMARY = f"""INSERT INTO tc_codes AS c (ref, scan_count, first_time, first_seq, last_seq, places)
SELECT ref, count(*), (array_agg(time ORDER BY seq))[1], min(seq), max(seq),
       coalesce((array_agg(DISTINCT place_hash) FILTER (WHERE place_hash <> 0))[1:{MAX_PLACES}], '{{}}')
FROM tc_scan_batch WHERE ref IS NOT NULL GROUP BY ref
ON CONFLICT (ref) DO UPDATE SET scan_count = c.scan_count + excluded.scan_count,
    first_time = coalesce(c.first_time, excluded.first_time),
    first_seq = CASE WHEN c.first_seq = 0 THEN excluded.first_seq ELSE c.first_seq END,
    last_seq = excluded.last_seq, places = {_MERGE_PLACES}"""


def place_hash(place):
    return zlib.crc32(place.encode()) | 1 if place is not None else 0


class _Pending:
    def __init__(self):
        self.calls = []    # (refs as bytes (b"": none), verdicts, source, when)
        self.count = 0


class ScanWriter:
    def __init__(self, store, interval: float):
        self.store, self.interval = store, interval
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._pending = _Pending()
        self._committing = 0
        self._failure = None
        self._stop = False
        self._wake = threading.Event()
        self._thread = None
        self._days = set()

    def _admit(self, n):
        waiting = self._pending.count + self._committing
        if self._failure is not None and waiting + n > MAX_PENDING:
            kind = IndexFull if isinstance(self._failure, IndexFull) else TracecodeError
            raise kind(f"scans are not being recorded: {waiting:,} wait for a commit that "
                       f"fails ({self._failure}); these {n:,} were not recorded")

    def add(self, refs: list, verdicts, source, when):
        with self._lock:
            self._admit(len(refs))
            self._pending.calls.append((refs, np.asarray(verdicts, np.uint8).tolist(), source, when))
            self._pending.count += len(refs)
            full = self._pending.count >= MAX_PENDING
            if self._thread is None and not self._stop:
                self._thread = threading.Thread(target=self._run, name="tracecode-pg-scanlog", daemon=True)
                self._thread.start()
        if full:
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - kept in self._failure; refused calls report it
                pass

    def _run(self):
        delay = self.interval
        while not self._stop:
            self._wake.wait(delay)
            try:
                self.flush()
                delay = self.interval
            except Exception as exc:  # noqa: BLE001 - logged, retried with a growing pause
                _log.warning("scan log commit failed, retrying: %s", exc)
                delay = min(max(delay * 2, 0.01), MAX_BACKOFF)

    def ensure_days(self, days) -> None:
        new = sorted(set(days) - self._days)
        if not new:
            return
        with self.store.tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (0x7463_7363_616E,))
            for d in new:
                conn.execute(f"CREATE TABLE IF NOT EXISTS tc_scans_d{int(d)} PARTITION OF tc_scans "
                             f"FOR VALUES FROM ({int(d)}) TO ({int(d) + 1})")
        self._days.update(new)

    def flush(self) -> int:
        with self._flushing:   # one commit at a time: seqs and prev chains in order
            with self._lock:
                pending, self._pending = self._pending, _Pending()
                self._committing += pending.count
            if not pending.count:
                with self._lock:
                    self._committing -= pending.count
                return 0
            try:
                self.ensure_days({math.floor(when / DAY) for _, _, _, when in pending.calls})
                self.store.write(lambda view: self._write(view, pending))
            except BaseException as exc:
                with self._lock:   # nothing committed: the next flush takes them again
                    self._committing -= pending.count
                    pending.calls.extend(self._pending.calls)
                    pending.count += self._pending.count
                    self._pending = pending
                    self._failure = exc
                raise
            with self._lock:
                self._committing -= pending.count
                self._failure = None
            return pending.count

    @staticmethod
    def _write(view, pending):
        conn = view.conn
        seq = view.next_seq("scan", pending.count)
        conn.execute(_BATCH)
        with conn.cursor().copy("COPY tc_scan_batch (seq, time, ref, verdict, scanner, place, place_hash, "
                                "region, lat, lon) FROM STDIN") as cp:
            for refs, verdicts, (scanner, place, ph, region, lat, lon), when in pending.calls:
                for ref, verdict in zip(refs, verdicts):
                    cp.write_row((seq, when, ref or None, verdict, scanner, place, ph, region, lat, lon))
                    seq += 1
        conn.execute(_MOVE)
        conn.execute(_SUMMARY)

    def close(self):
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()


def _source(scanner, place, region, lat, lon):
    region = None if region is None else f"{region:06d}" if isinstance(region, int) else str(region)
    return (scanner, place, place_hash(place), region, lat, lon)


def _scan(row) -> dict:
    seq, when, scanner, place, region, lat, lon, verdict, prev, ref = row
    return {"time": when, "scanner": scanner or None, "place": place or None, "region": region, "lat": lat,
            "lon": lon, "verdict": verdict, "prev": prev, "key": bytes(ref) if ref is not None else b""}


_COLS = "seq, time, scanner, place, region, lat, lon, verdict, prev, ref"


# the export's chunk: the scans after a seq, their sources (as LMDB's records: "" reads None)
# numbered by dense_rank over the chunk's distinct sources, in the order _SINCE_SOURCES lists them
_CHUNK = ("WITH c AS (SELECT seq, time, verdict, NULLIF(scanner, '') AS scanner, NULLIF(place, '') AS place, "
          "region, lat, lon, ref FROM tc_scans WHERE seq > %s ORDER BY seq LIMIT %s), "
          "r AS (SELECT c.*, dense_rank() OVER (ORDER BY scanner, place, region, lat, lon) - 1 AS sid FROM c) ")
_SINCE = (_CHUNK + "SELECT array_agg(seq ORDER BY seq), array_agg(time ORDER BY seq), "
          "array_agg(verdict ORDER BY seq), array_agg(sid ORDER BY seq), "
          "array_agg(COALESCE(ref, ''::bytea) ORDER BY seq) FROM r")
_SINCE_SOURCES = _CHUNK + "SELECT DISTINCT scanner, place, region, lat, lon, sid FROM r ORDER BY sid"


class Part:
    def record_scans(self, refs, verdicts, scanner, place, when, *, region=None, lat=None, lon=None) -> None:
        self.scan_log.add(split_refs(refs), verdicts, _source(scanner, place, region, lat, lon), when)

    def record_scan(self, ref, verdict, scanner, place, when, *, region=None, lat=None, lon=None) -> None:
        self.scan_log.add([ref or b""], [verdict], _source(scanner, place, region, lat, lon), when)

    def flush_scans(self) -> int:
        return self.scan_log.flush()

    def scans_since(self, after_seq: int, limit: int) -> dict:
        """Committed scans with seq > after_seq in seq order, as the export reads them
        (the LMDB store's columns: seq, time, verdict, source into sources, keys)."""
        from ..codekeys import Keys
        # one row per column (arrays), each scan's source numbered in SQL: no per-scan Python
        with self.tx(read_only=True) as conn:
            cols = conn.execute(_SINCE, (after_seq, limit), binary=True).fetchone()
            sources = conn.execute(_SINCE_SOURCES, (after_seq, limit), binary=True).fetchall()
        seq, time, verdict, src, refs = cols if cols[0] is not None else ([], [], [], [], [])
        return {"seq": np.array(seq, np.int64), "time": np.array(time, np.float64),
                "verdict": np.array(verdict, np.uint8), "source": np.array(src, np.int32),
                "sources": [tuple(r[:5]) for r in sources], "keys": Keys.packed(refs)}

    def export_last_seqs(self) -> tuple[int, int]:
        """(the last scan seq, the last event seq) ever given, purged or not; 0 when none."""
        with self.tx(read_only=True) as conn:
            got = dict(conn.execute("SELECT name, next FROM tc_seq WHERE name IN ('scan', 'event')").fetchall())
        return got.get("scan", 1) - 1, got.get("event", 1) - 1

    def purge_before(self, when: float, *, dry_run: bool = False) -> dict:
        """Every scan before `when`: whole days' partitions dropped, a partial day deleted,
        the summaries of the codes they were in mended, in one transaction."""
        self.scan_log.flush()
        cut = math.floor(when / DAY)   # days below cut lie wholly before when

        def drop_whole_days(conn):
            for (name, day) in conn.execute(
                    "SELECT c.relname, substring(c.relname from 11)::int FROM pg_inherits i JOIN pg_class c "
                    "ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'tc_scans' "
                    "AND c.relname ~ '^tc_scans_d[0-9]+$'").fetchall():
                if day < cut:
                    conn.execute(f"DROP TABLE {name}")
                    self.scan_log._days.discard(day)
        return self._purge("time < %s", when, dry_run, drop_whole_days)

    def purge_scanner(self, scanner: str, *, dry_run: bool = False) -> dict:
        if not scanner or scanner == PUBLIC_SCANNER:
            raise ValueError("name a scanner: the public window's queries name nobody and are not "
                             "purged by scanner")
        self.scan_log.flush()
        return self._purge("scanner = %s", scanner, dry_run)

    def _purge(self, match: str, value, dry_run: bool, before_delete=None) -> dict:
        """Delete the scans `match` (a fixed SQL condition with one parameter, value) selects
        and mend the summaries of the codes they were in, in one transaction; dry_run: only
        count them. before_delete(conn) runs first (purge_before drops whole days)."""
        def body(view):
            conn = view.conn
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS tc_purged (ref bytea PRIMARY KEY) ON COMMIT DROP")
            conn.execute(f"INSERT INTO tc_purged SELECT DISTINCT ref FROM tc_scans WHERE {match} "
                         "AND ref IS NOT NULL ON CONFLICT DO NOTHING", (value,))
            scans = conn.execute(f"SELECT count(*) FROM tc_scans WHERE {match}", (value,)).fetchone()[0]
            codes = conn.execute("SELECT count(*) FROM tc_purged").fetchone()[0]
            if dry_run:
                raise _DryRun({"scans": scans, "codes": codes})
            if before_delete is not None:
                before_delete(conn)
            conn.execute(f"DELETE FROM tc_scans WHERE {match}", (value,))
            mend(conn)
            return {"scans": scans, "codes": codes}
        try:
            return self.write(body)
        except _DryRun as dry:
            return dry.result


class _DryRun(Exception):
    def __init__(self, result):
        self.result = result


def mend(conn) -> None:
    """The prev chains and summaries of the codes in tc_purged, from the scans they have left."""
    conn.execute("UPDATE tc_scans s SET prev = z.p FROM (SELECT seq, day, coalesce(lag(seq) OVER "
                 "(PARTITION BY ref ORDER BY seq), 0) p FROM tc_scans WHERE ref IN (SELECT ref FROM tc_purged)) z "
                 "WHERE s.seq = z.seq AND s.day = z.day AND s.prev <> z.p")
    conn.execute(f"""UPDATE tc_codes c SET scan_count = coalesce(z.n, 0), first_time = z.t,
        first_seq = coalesce(z.f, 0), last_seq = coalesce(z.l, 0), places = coalesce(z.pl, '{{}}')
        FROM tc_purged p LEFT JOIN (SELECT ref, count(*) n, (array_agg(time ORDER BY seq))[1] t, min(seq) f,
            max(seq) l, (SELECT array_agg(x ORDER BY o) FROM (SELECT x, min(o) o FROM
              unnest(array_agg(place_hash ORDER BY seq)) WITH ORDINALITY u(x, o) WHERE x <> 0 GROUP BY x
              ORDER BY min(o) LIMIT {MAX_PLACES}) w) pl
          FROM tc_scans WHERE ref IN (SELECT ref FROM tc_purged) GROUP BY ref) z ON z.ref = p.ref
        WHERE c.ref = p.ref""")


class ViewPart:
    __slots__ = ()

    def scan_place(self, seq):
        row = self.conn.execute("SELECT place FROM tc_scans WHERE seq = %s", (seq,)).fetchone()
        return (row[0] or None) if row else None

    def scans_of(self, ref):
        rows = self.conn.execute(f"SELECT {_COLS} FROM tc_scans WHERE ref = %s ORDER BY seq DESC",
                                 (bytes(ref),)).fetchall()
        return [(r[0], _scan(r)) for r in rows]

    def public_queries(self, ref, bound):
        ref = bytes(ref)
        n = self.conn.execute("SELECT count(*) FROM (SELECT 1 FROM tc_scans WHERE ref = %s AND scanner = %s "
                              "LIMIT %s) z", (ref, PUBLIC_SCANNER, bound + 1)).fetchone()[0]
        if not n:
            return 0, None, None
        t, place = self.conn.execute("SELECT time, place FROM tc_scans WHERE ref = %s AND scanner = %s "
                                     "ORDER BY seq LIMIT 1", (ref, PUBLIC_SCANNER)).fetchone()
        return n, t, place


def opened(store) -> None:
    import time
    store.scan_log = ScanWriter(store, store.scan_interval)
    today = math.floor(time.time() / DAY)
    store.scan_log.ensure_days({today, today + 1})


def closing(store) -> None:
    store.scan_log.close()
