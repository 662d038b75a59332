"""The counters' high-water mark of a PostgreSQL index: DIR/highwater.json, kept outside the
database it protects, so that a point-in-time restore (or any rewind of the database) cannot
hand out again counters handed out after the restore point.

A reservation that would move a product's counter past its mark first moves the mark a block
ahead (file written whole: fsync + rename, under DIR/highwater.lock), inside the reservation's
transaction and before its commit, so a counter handed out is always at or under the mark of
the file. One write per block, not per reservation: the block is 4x the reservation (at least
MIN_BLOCK), but never more than 1/64 of the product's capacity (a restore skips at most one
block per product).

At open the store compares the database's identity (PostgreSQL's system identifier and its
timeline: every archive recovery, PITR or promotion starts a new timeline) with the one the
mark was written against. When they differ the database may have gone back in time: every
counter is moved up to its mark (GREATEST, one transaction), the move recorded in tc_meta
(`highwater_applied`), and the file re-stamped. A database that has been protected by a mark
(tc_meta `highwater`) and finds none refuses to issue (HighWaterMissing); a mark that does not
read back whole refuses too (HighWaterDamaged), never read as zero. Verification, events and
the rest work either way."""
from __future__ import annotations

import fcntl
import hashlib
import json
import socket
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from ...errors import TracecodeError
from ..durable import write_atomically

NAME = "highwater.json"
LOCK_NAME = "highwater.lock"
FORMAT = 1
MIN_BLOCK = 1 << 16
META_KEY = "highwater"            # tc_meta: this database's counters are protected by a mark
APPLIED_KEY = "highwater_applied"  # tc_meta: the last move of the counters past the mark


class HighWaterError(TracecodeError):
    """Issuance refused: the counters' high-water mark is missing, damaged or another index's."""


class HighWaterMissing(HighWaterError):
    """This database's counters are protected by a mark, and DIR has none."""


class HighWaterDamaged(HighWaterError):
    """DIR/highwater.json does not read back whole (never taken as zero); `why`: what is wrong."""

    why = ""


class CountersMoved(UserWarning):
    """At open: the counters were moved past the mark (the database went back in time, or failed over)."""


def _body_bytes(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def encode(index: str, marks: dict, ident) -> bytes:
    """The file's bytes: the index uuid, the database identity it was written against (None:
    not yet checked against one, e.g. after `tracecode restore`), the marks and a SHA-256."""
    body = {"format": FORMAT, "index": index, "identity": list(ident) if ident else None,
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "marks": sorted([s, k.hex(), int(m)] for (s, k), m in marks.items())}
    return json.dumps({**body, "sha256": hashlib.sha256(_body_bytes(body)).hexdigest()},
                      indent=0).encode()


def read(path: Path) -> dict | None:
    """The file as {index, identity, marks: {(scheme, key): mark}}; None when there is none.
    HighWaterDamaged for anything that is not the whole file this module wrote."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    return read_bytes(raw, path)


def read_bytes(raw: bytes, path) -> dict:
    """The file's contents read and checked (read's work, without the file)."""
    try:
        doc = json.loads(raw)
        digest = doc.pop("sha256")
        if hashlib.sha256(_body_bytes(doc)).hexdigest() != digest:
            raise ValueError("its SHA-256 does not match its contents")
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, this tracecode reads {FORMAT}")
        marks = {}
        for scheme, key, mark in doc["marks"]:
            if not isinstance(mark, int) or mark < 0:
                raise ValueError(f"mark {mark!r} of {scheme} is not a counter")
            marks[(str(scheme), bytes.fromhex(key))] = mark
        ident = doc["identity"]
        return {"index": str(doc["index"]), "identity": tuple(ident) if ident else None, "marks": marks}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        damaged = HighWaterDamaged(f"{path} is damaged ({exc}): issuance is refused until it is put "
                                   f"back from a copy (`tracecode restore ... --high-water FILE`)")
        damaged.why = str(exc)
        raise damaged from None


def merge(*mark_maps: dict) -> dict:
    out: dict = {}
    for marks in mark_maps:
        for key, mark in marks.items():
            if mark > out.get(key, -1):
                out[key] = mark
    return out


def block_of(count: int, capacity: int) -> int:
    return max(count, min(max(4 * count, MIN_BLOCK), capacity // 64))


def identity(store):
    """(system identifier, timeline) of the primary the store writes to; None on a standby."""
    with store.tx(read_only=True) as conn:
        if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            return None
        row = conn.execute(
            "SELECT (SELECT system_identifier FROM pg_control_system())::text, "
            "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int").fetchone()
    return (row[0], int(row[1]))


class Mark:
    """A data directory's mark, as one process holds it (store.highwater)."""

    def __init__(self, datadir: Path, index: str):
        self.path, self.lock_path = Path(datadir) / NAME, Path(datadir) / LOCK_NAME
        self.index = index
        self.marks: dict = {}       # (scheme, product key) -> counter the file covers up to
        self.identity = None
        self.refusal: HighWaterError | None = None
        self.applied: dict | None = None   # what this open moved (for the restore to say)
        self._flagged = False
        # which directory keeps this database's mark: one per database (copies would diverge)
        self.holder = json.dumps({"file": f"{socket.gethostname()}:{self.path.resolve()}"}).encode()

    @contextmanager
    def _locked(self):
        with open(self.lock_path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def _read_own(self):
        doc = read(self.path)
        if doc is not None and doc["index"] != self.index:
            raise HighWaterError(f"{self.path} is the mark of index {doc['index']}, not of this "
                                 f"directory's {self.index}: issuance refused")
        return doc

    def cover(self, view, scheme: str, product_key: bytes, end: int, count: int, capacity: int) -> None:
        """Called in the reservation's transaction once its counters [end - count, end) are known."""
        if self.refusal is not None:
            raise self.refusal
        key = (scheme, product_key)
        if end <= self.marks.get(key, 0):
            return   # the common case: inside the block the file already covers
        want = min(end + block_of(count, capacity), capacity)
        with self._locked():
            doc = self._read_own()
            have = doc["marks"] if doc else {}
            marks = merge(have, self.marks, {key: max(want, end)})
            write_atomically(self.path, encode(self.index, marks, doc["identity"] if doc else self.identity))
        self.marks = marks
        if not self._flagged:   # the database now knows a mark protects it, and where
            got = bytes(view.conn.execute(
                "INSERT INTO tc_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                "SET value = tc_meta.value RETURNING value", (META_KEY, self.holder)).fetchone()[0])
            if got != self.holder:
                raise self._elsewhere(got)
            self._flagged = True

    def _elsewhere(self, holder: bytes) -> HighWaterError:
        where = json.loads(holder).get("file")
        return HighWaterError(
            f"this PostgreSQL index's counters are marked in {where}, not in {self.path}: issuance "
            f"refused here (one data directory keeps a database's mark; a copy of it would "
            f"diverge). Issue through that directory; a directory restored or moved takes the "
            f"mark over with `tracecode restore BACKUP DIR --high-water FILE`")

    def check_at_open(self, store) -> None:
        try:
            self._check_at_open(store)
        except OSError as exc:   # a read-only DIR: verification goes on, issuance cannot be marked
            self.refusal = HighWaterError(
                f"{self.path} cannot be written ({exc.strerror or exc}): the counters' high-water "
                f"mark cannot be kept, so issuance is refused here")

    def _check_at_open(self, store) -> None:
        with self._locked():
            try:
                doc = self._read_own()
            except HighWaterError as exc:
                self.refusal = exc
                return
            protected = store.meta_get(META_KEY)
            self._flagged = protected == self.holder
            if protected is not None and not self._flagged and doc is not None and doc["identity"] is not None:
                self.refusal = self._elsewhere(protected)
                return
            ident = self.identity = identity(store)
            if doc is None:
                if protected is not None:
                    self.refusal = HighWaterMissing(
                        f"this PostgreSQL index's counters are protected by a high-water mark, and "
                        f"{self.path} is missing: issuance refused (a restored database could hand "
                        f"out counters again). Put the file back, or give it to `tracecode restore "
                        f"BACKUP DIR --high-water FILE`")
                elif ident is not None:
                    write_atomically(self.path, encode(self.index, {}, ident))
                return
            self.marks = doc["marks"]
            if ident is None or doc["identity"] == ident:
                return   # a standby (issuance fails there anyway), or the database the mark knows
            self.applied = a = move_past(store, doc["marks"], doc["identity"], ident, self.path, self.holder)
            self._flagged = True
            write_atomically(self.path, encode(self.index, doc["marks"], ident))
            if a["products_moved"]:   # the operator hears of it once, at the open that did it
                warnings.warn(f"the database is not the one {self.path} was last written against "
                              f"(restored, or failed over): moved the counters of "
                              f"{a['products_moved']:,} products past their high-water marks, "
                              f"{a['counters_skipped']:,} counters skipped", CountersMoved, stacklevel=2)


def move_past(store, marks: dict, was, now, path, holder: bytes) -> dict:
    """Every counter moved up to its mark, in one transaction; the move recorded in tc_meta."""
    keys = list(marks)

    def body(view):
        rows = view.conn.execute(
            "SELECT c.scheme, c.product_key, c.next FROM tc_counters c JOIN unnest(%s::text[], "
            "%s::bytea[]) AS m(scheme, product_key) USING (scheme, product_key)",
            ([s for s, _ in keys], [k for _, k in keys])).fetchall()
        have = {(s, bytes(k)): n for s, k, n in rows}
        moved = [(s, k, marks[(s, k)], have.get((s, k), 0)) for s, k in keys
                 if marks[(s, k)] > have.get((s, k), 0)]
        if moved:
            view.conn.execute(
                "INSERT INTO tc_counters AS c (scheme, product_key, next) SELECT * FROM "
                "unnest(%s::text[], %s::bytea[], %s::bigint[]) ON CONFLICT (scheme, product_key) "
                "DO UPDATE SET next = GREATEST(c.next, excluded.next)",
                ([m[0] for m in moved], [m[1] for m in moved], [m[2] for m in moved]))
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "file": str(path),
                  "identity_before": list(was) if was else None, "identity_now": list(now),
                  "products_moved": len(moved), "counters_skipped": sum(m[2] - m[3] for m in moved)}
        view.meta_put(APPLIED_KEY, json.dumps(record).encode())
        view.meta_put(META_KEY, holder)   # this directory keeps the mark from now on
        return record
    return store.write(body)


def attach(store, datadir, index: str) -> Mark:
    """Give a PgStore its data directory's mark and check it against the database."""
    mark = Mark(Path(datadir), index)
    mark.check_at_open(store)
    store.highwater = mark
    return mark
