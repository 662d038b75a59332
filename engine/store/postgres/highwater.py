"""The counters' high-water mark of a PostgreSQL index: DIR/highwater.json, kept outside the
database it protects, so that a point-in-time restore (or any rewind of the database) cannot
hand out again counters handed out after the restore point.

A reservation that would move a product's counter past its mark first moves the mark a block
ahead (file written whole: fsync + rename, under DIR/highwater.lock), inside the reservation's
transaction and before its commit, so a counter handed out is always at or under the mark of
the file. One write per block, not per reservation: the block is 4x the reservation (at least
MIN_BLOCK) and at most 1/64 of the product's capacity, unless the reservation itself is larger
(then the block is the reservation); a restore skips at most one block per product.

Every reservation first reads, in its own transaction, the database's identity (PostgreSQL's
system identifier and its timeline: every archive recovery, PITR or promotion starts a new
timeline) and which directory holds its mark (Mark.write). When the identity is not the one
the mark was stamped with, the database may have gone back in time (a restore, or a promoted
standby that had not replayed the last reservations): every counter is moved up to its mark
(GREATEST) in that transaction, before the reservation's own counter, the move recorded in
tc_meta (`highwater_applied`), and the file re-stamped after the commit. The open does the
same at once. A counter handed out under one this process handed out (the database set back
with no new identity) moves them too.

Which directory holds a database's mark: the file carries a random id of its directory and a
generation; tc_meta `highwater` the same pair. Each process's first reservation moves the
generation on, in the file and then in the database: a moved directory, a new hostname, keep
issuing; a copy of DIR whose generation is behind the database's is refused (two copies issuing
alternately would diverge). A database that has been protected by a mark and finds none refuses
to issue (HighWaterMissing); a mark that does not read back whole refuses too (HighWaterDamaged),
never read as zero. Verification, events and the rest work either way."""
from __future__ import annotations

import fcntl
import hashlib
import json
import socket
import time
import uuid
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


def encode(index: str, marks: dict, ident, dir_id: str | None = None, generation: int = 0) -> bytes:
    """The file's bytes: the index uuid, the database identity it was written against (None:
    not yet checked against one, e.g. after `tracecode restore`), this directory's id and
    generation (None: a restored mark, which takes the database over), the marks and a SHA-256."""
    body = {"format": FORMAT, "index": index, "identity": list(ident) if ident else None,
            "dir": dir_id, "generation": int(generation),
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "marks": sorted([s, k.hex(), int(m)] for (s, k), m in marks.items())}
    return json.dumps({**body, "sha256": hashlib.sha256(_body_bytes(body)).hexdigest()},
                      indent=0).encode()


def read(path: Path) -> dict | None:
    """The file as {index, identity, marks: {(scheme, key): mark}, dir, generation}; None when there is none.
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
        ident, dir_id, generation = doc["identity"], doc.get("dir"), doc.get("generation", 0)
        if not isinstance(generation, int) or generation < 0 or not isinstance(dir_id, (str, type(None))):
            raise ValueError(f"directory id {dir_id!r} / generation {generation!r} unreadable")
        return {"index": str(doc["index"]), "identity": tuple(ident) if ident else None, "marks": marks,
                "dir": dir_id, "generation": generation}
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


# the database's state every reservation reads in its transaction: standby or not, its identity
# (system identifier, timeline) and which directory keeps its mark. Returned by the counter's
# own statement (batches.py: no round trip more), or on its own by the guard.
STATE_COLUMNS = (
    "pg_is_in_recovery(), (SELECT system_identifier FROM pg_control_system())::text, "
    "CASE WHEN pg_is_in_recovery() THEN NULL ELSE "
    "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, "
    f"(SELECT value FROM tc_meta WHERE key = '{META_KEY}')")


def _holder_of(raw) -> dict | None:
    """tc_meta `highwater` as {dir, generation, file}; None for none (or one written before
    directories had ids: claimable)."""
    if raw is None:
        return None
    try:
        doc = json.loads(bytes(raw))
        return doc if isinstance(doc, dict) and isinstance(doc.get("dir"), str) else None
    except ValueError:
        return None


class _Recheck(Exception):
    """Inside a reservation: the database is not the one (or not held as) this process last
    checked: run again, through the guard."""


class _WentBack(_Recheck):
    """Inside a reservation: the database handed out a counter under one this process handed
    out (it went back in time under a live store): run again, moving the counters first."""


class Mark:
    """A data directory's mark, as one process holds it (store.highwater)."""

    def __init__(self, datadir: Path, index: str):
        self.path, self.lock_path = Path(datadir) / NAME, Path(datadir) / LOCK_NAME
        self.index = index
        self.marks: dict = {}       # (scheme, product key) -> counter the file covers up to
        self.identity = None        # the database identity this process last saw committed
        self.claimed = None         # (dir id, generation) of the database's holder row, as last seen
        self.refusal: HighWaterError | None = None
        self.applied: dict | None = None   # what a move past the mark did (for the restore to say)
        self._seen: dict = {}       # (scheme, product key) -> highest end this process reserved
        self._went_back = False
        self._recheck = True        # the next reservation runs the guard (the first one always)

    @property
    def state_columns(self) -> str:
        return STATE_COLUMNS

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

    def _missing(self) -> HighWaterMissing:
        return HighWaterMissing(
            f"this PostgreSQL index's counters are protected by a high-water mark, and "
            f"{self.path} is missing: issuance refused (a restored database could hand "
            f"out counters again). Put the file back, or give it to `tracecode restore "
            f"BACKUP DIR --high-water FILE`")

    def write(self, store, body):
        """store.write(body) for a reservation: each run first checks the database against the
        mark (guard); what must wait for the commit (the identity stamp, the claim as ours) is
        done after it, so a run that is rolled back and run again leaves nothing assumed."""
        state: dict = {}

        def guarded(view):
            state.clear()
            state["view"] = view
            if self._recheck or self.refusal is not None:
                self._guard(view, state)
                view.memo["highwater_guarded"] = True   # checked in this transaction already
            return body(view)
        while True:
            try:
                out = store.write(guarded)
                break
            except _Recheck as why:
                self._recheck = True
                if isinstance(why, _WentBack):
                    self._went_back = True   # the next run moves the counters past the mark first
        self._settle(state)
        return out

    def _guard(self, view, state: dict) -> None:
        if self.refusal is not None:
            raise self.refusal
        in_recovery, sysid, timeline, raw = view.conn.execute("SELECT " + STATE_COLUMNS).fetchone()
        if in_recovery:
            return   # a standby: the reservation fails as read-only anyway
        ident, db = (sysid, int(timeline)), _holder_of(raw)
        if (not self._went_back and ident == self.identity and db is not None
                and (db["dir"], db["generation"]) == self.claimed):
            return   # the common case: the database this process checked, held by this DIR
        with self._locked():
            doc = self._read_own()
            if doc is None:
                raise self._missing()
            # the holder row locked, so two directories claiming at once are told apart
            view.conn.execute("INSERT INTO tc_meta (key, value) VALUES (%s, '') ON CONFLICT DO NOTHING",
                              (META_KEY,))
            db = _holder_of(view.conn.execute("SELECT value FROM tc_meta WHERE key = %s FOR UPDATE",
                                              (META_KEY,)).fetchone()[0])
            mine = doc["dir"]
            if db is not None and mine is not None and (db["dir"] != mine or db["generation"] > doc["generation"]):
                raise self._elsewhere(db)
            move = self._went_back or ident != doc["identity"]
            if not move and self.claimed is not None and db is not None and db["dir"] == mine \
                    and db["generation"] == doc["generation"]:
                state.update(ident=ident, claimed=(mine, doc["generation"]))   # another process of this DIR claimed
                return
            marks = merge(doc["marks"], self.marks)
            if move:   # the database may have gone back in time: every counter past its mark
                state["moved"] = _move(view, marks, self.identity or doc["identity"], ident, self.path)
            # claim the database for this DIR: a new generation in the file first, then in the
            # database (a copy of DIR still at an older generation is refused from now on)
            mine = mine or uuid.uuid4().hex
            generation = max(doc["generation"], db["generation"] if db and db["dir"] == mine else 0) + 1
            write_atomically(self.path, encode(self.index, marks, doc["identity"], mine, generation))
            self.marks = marks
            view.meta_put(META_KEY, json.dumps({"dir": mine, "generation": generation,
                                                "file": f"{socket.gethostname()}:{self.path}"}).encode())
            state.update(ident=ident, claimed=(mine, generation))

    def _settle(self, state: dict) -> None:
        """After the reservation's commit: what it checked or claimed is now so."""
        view = state.get("view")
        for key, end in view.memo.get("highwater_seen", ()) if view is not None else ():
            if end > self._seen.get(key, 0):
                self._seen[key] = end
        if "ident" not in state:
            return
        moved = state.get("moved")
        if moved is not None:   # the counters are past the mark in the database: stamp the file
            with self._locked():
                doc = self._read_own()
                if doc is not None:
                    self.marks = merge(doc["marks"], self.marks)
                    write_atomically(self.path, encode(self.index, self.marks, state["ident"],
                                                       doc["dir"], doc["generation"]))
            self.applied = moved
            if moved["products_moved"]:   # the operator hears of it once, from the run that did it
                warnings.warn(f"the database is not the one {self.path} was last written against "
                              f"(restored, or failed over): moved the counters of "
                              f"{moved['products_moved']:,} products past their high-water marks, "
                              f"{moved['counters_skipped']:,} counters skipped", CountersMoved, stacklevel=4)
        self.identity, self.claimed = state["ident"], state["claimed"]
        self._went_back = self._recheck = False

    def cover(self, view, scheme: str, product_key: bytes, end: int, count: int, capacity: int,
              db=None) -> None:
        """Called in the reservation's transaction once its counters [end - count, end) are
        known; db: the STATE_COLUMNS the counter's statement returned."""
        if self.refusal is not None:
            raise self.refusal
        if db is not None and not db[0] and not view.memo.get("highwater_guarded"):
            holder = _holder_of(db[3])
            if (db[1], int(db[2])) != self.identity or holder is None \
                    or (holder["dir"], holder["generation"]) != self.claimed:
                raise _Recheck()   # a new server (failover), or another process claimed
        key = (scheme, product_key)
        if end - count < self._seen.get(key, 0):
            raise _WentBack()   # under a counter this process handed out: never again
        if end > self.marks.get(key, 0):
            want = min(end + block_of(count, capacity), capacity)
            with self._locked():
                doc = self._read_own()
                if doc is None:
                    raise self._missing()
                marks = merge(doc["marks"], self.marks, {key: max(want, end)})
                write_atomically(self.path, encode(self.index, marks, doc["identity"], doc["dir"],
                                                   doc["generation"]))
            self.marks = marks
        view.memo.setdefault("highwater_seen", []).append((key, end))

    def _elsewhere(self, holder: dict) -> HighWaterError:
        return HighWaterError(
            f"this PostgreSQL index's counters are marked by another copy of this data directory "
            f"(last at {holder.get('file')}, generation {holder['generation']}), not by {self.path}: "
            f"issuance refused here (two copies of a mark would diverge). Issue through that "
            f"directory; a directory restored takes the mark over with "
            f"`tracecode restore BACKUP DIR --high-water FILE`")

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
            ident = identity(store)
            if doc is None:
                if protected is not None:
                    self.refusal = self._missing()
                elif ident is not None:
                    write_atomically(self.path, encode(self.index, {}, ident, uuid.uuid4().hex, 0))
                return
            self.marks = doc["marks"]
        if ident is not None and doc["identity"] != ident:
            try:   # moved past now, so the operator hears of it at the open (and a restore can say)
                self.write(store, lambda view: None)
            except HighWaterError as exc:
                self.refusal = exc


def _move(view, marks: dict, was, now, path) -> dict:
    """Every counter moved up to its mark, in the view's transaction; the move recorded in tc_meta."""
    keys = sorted(marks)   # one order of row locks for every mover
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
    return record


def attach(store, datadir, index: str) -> Mark:
    """Give a PgStore its data directory's mark and check it against the database."""
    mark = Mark(Path(datadir), index)
    mark.check_at_open(store)
    store.highwater = mark
    return mark
