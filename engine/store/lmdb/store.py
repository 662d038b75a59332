"""The LMDB implementation of the storage port (store/port.py): views over read
transactions, the tables of one environment opened once.

Databases besides those of batches.py (code keys: see codekeys.py):

    codes        code key + kind -> state or parent record         only codes with
                 events or scans; layouts and the C kernels in _codes.pyx
    seen         code key -> scan summary (fixed width)             only scanned codes;
                 a table of its own since format 3 (seentable.py)
    children     parent key -> child key (dupsort)                aggregation, the
                 other way round from the parent records
    code_events  code key -> event seq (dupsort)                  for history()
    events       seq (u64) -> JSON event
    event_ids    [client \0] event id -> seq + content digest     duplicates per client;
                 a resend of the same event is recognised
    sscc_users   SSCC key -> client name                          the first to pack into it
    recalls      b"B" batch id | b"L" scheme\\0product\\0lot -> event seq
    imported     code key of an imported code -> JSON record      codes issued elsewhere,
                 and codes others assigned, registered (put_registered, _puts.put_new)
    assets       code key + step no. -> JSON step (assets.py)     special equipment steps
    scans        seq (u64) -> scan record (scanlog.py)            append-only scan log
    public_queries  code key + time -> place (publicq.py)         the public's queries by code
    links        link key -> JSON list of links (links.py)        resolver targets
    epcis, epcis_epcs, epcis_times                                 EPCIS events and capture
                 jobs, by EPC and by eventTime (epcis.py)
"""
from __future__ import annotations

import json
import struct

from ...cache import BoundedCache
from ..port import PUBLIC_SCANNER
from . import _codes, codekeys, publicq
from . import stats as _stats
from .batches import Batches, product_prefix, u64
from .env import IndexReadOnly, open_db, run_write, versions
from .epcis import EpcisTables
from .eventwrite import write_code_records
from .outbox import MAX_SINCE_SCAN, OutboxTables
from .keyorder import visit_order
from .known import KnownProducts
from .assets import AssetsTable
from .links import LinksTable
from .alerts import AlertsTable
from .scanlog import ScanLog, unpack_scan
from . import exportread
from . import scanpurge
from . import seentable

_STATE = struct.Struct("=BQ")   # _codes.State, machine byte order
STATE, PARENT = _codes.STATE, _codes.PARENT   # record kinds under a code key


def _event_id_key(client: str | None, event_id: str) -> bytes:
    """Where an event id is recorded: per client (NUL cannot occur in either part), the
    data directory's own caller (None) under the bare id, as before ids were scoped."""
    return event_id.encode() if client is None else client.encode() + b"\0" + event_id.encode()


def _recall_key(target) -> bytes:
    """b"B" batch id | b"L" scheme \0 product \0 lot: where a recall is recorded."""
    if target[0] == "batch":
        return b"B" + u64(target[1])
    _, scheme, product_key, lot = target
    return b"L" + product_prefix(scheme, product_key) + lot.encode()


RECALL_KEY_CACHE = 16384   # recall targets whose keys are kept (LRU)
BRIEF_EVENTS = 1024        # events kept decoded for histories (each lists at most 100 codes)


class LmdbView:
    """A ReadView over one LMDB transaction (read, or the write transaction of an event
    resolving its codes: the same reads, inside it)."""

    __slots__ = ("_s", "_txn", "_env", "_own")

    def __init__(self, store: "LmdbStore", txn, own: bool = False):
        self._s, self._txn, self._env, self._own = store, txn, store.env, own

    # A class, not @contextmanager: the single verify() pays for this once per scan.
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._own:   # a read transaction of our own: ended here, nothing to commit
            self._txn.abort()

    def known_products(self):
        return self._s.known.refresh(self._txn)

    def product_id(self, scheme, product_key):
        return self._s.batches.product_id(self._txn, scheme, product_key)

    def table_mark(self, scheme, product_key):
        # the product's counter: it moves with every batch issued, in any process
        return self._txn.get(product_prefix(scheme, product_key)[:-1], db=self._s.batches.counters)

    def batch_table(self, scheme, product_key):
        return self._s.batches.table(self._txn, scheme, product_key)

    def batch(self, batch_id):
        return self._s.batches.get(batch_id, self._txn)

    def recall_seq(self, targets):
        key, txn, db = self._s.recall_key, self._txn, self._s.db_recalls
        seqs = [txn.get(key(t), db=db) for t in targets]
        return max([int.from_bytes(q, "big") for q in seqs if q] or [0])

    def code_records(self, refs, place_hash, status, seq, scan_count, places, first_scan_time, first_seq):
        s = self._s
        _codes.read_codes(self._env, self._txn, s.db_codes, refs.buf, refs.off, place_hash,
                          status, seq, scan_count, places, first_scan_time, first_seq,
                          order=visit_order(refs), seen_db=s.db_seen)

    def code_record(self, ref):
        return _codes.read_code(self._env, self._txn, self._s.db_codes, ref, 0, self._s.db_seen)

    def imported_values(self, buf, off, found):
        return _codes.get_values(self._env, self._txn, self._s.db_imported, buf, off, found)

    def imported_distinct(self, buf, off, found, which):
        """imported_values with each distinct record once: which[j] is the one the j-th
        found key has (registered codes share a few records: no bytes object per code)."""
        return _codes.get_values(self._env, self._txn, self._s.db_imported, buf, off, found, which)

    def imported_one(self, ref):
        return self._txn.get(ref, db=self._s.db_imported) if len(ref) <= _codes.KEY_LIMIT else None

    def scan_place(self, seq):
        raw = self._txn.get(u64(seq), db=self._s.db_scans)
        return unpack_scan(raw)["place"] if raw is not None else None

    def parent_of(self, ref):
        return self._txn.get(ref + PARENT, db=self._s.db_codes)

    def children(self, ref):
        cur = self._txn.cursor(db=self._s.db_children)
        return list(cur.iternext_dup()) if cur.set_key(ref) else []

    def parents(self, refs):
        got = self._txn.cursor(db=self._s.db_codes).getmulti(sorted(k + PARENT for k in refs))
        return {k[:-len(PARENT)]: v for k, v in got}

    def holding(self, refs):
        return {k for k, _ in self._txn.cursor(db=self._s.db_children).getmulti(sorted(refs))}

    def sscc_user(self, ref):
        if self._s.db_sscc_users is None:   # an index from before SSCC users: nobody recorded
            return None
        raw = self._txn.get(ref, db=self._s.db_sscc_users)
        return raw.decode() if raw is not None else None

    def product_of(self, product_id):
        return self._s.batches.product_of(self._txn, product_id)

    def events_of(self, ref, max_codes: int | None = None):
        """The events of a code, in seq order (JSON decoded). max_codes: each lists at most
        that many of its codes, and codes_total when it had more; an event never changes
        once written, so these short forms are kept per store (BRIEF_EVENTS, LRU; read
        transactions only: a write's may yet be rolled back) and a 200,000-code commission
        is decoded once, not on every query of each of its codes."""
        txn, s = self._txn, self._s
        cur = txn.cursor(db=s.db_code_events)
        if not cur.set_key(ref):
            return []
        if max_codes is None:
            return [json.loads(txn.get(seq, db=s.db_events)) for seq in cur.iternext_dup()]
        out = []
        for seq in cur.iternext_dup():
            ev = s.brief_events.get((seq, max_codes)) if self._own else None
            if ev is None:
                ev = json.loads(txn.get(seq, db=s.db_events))
                codes = ev.get("codes") or []
                if len(codes) > max_codes:
                    ev["codes_total"], ev["codes"] = len(codes), codes[:max_codes]
                if self._own:
                    s.brief_events[(seq, max_codes)] = ev
            out.append({**ev, "codes": list(ev.get("codes") or [])})   # the caller's to change
        return out

    def code_event_seqs(self, refs):
        cur = self._txn.cursor(db=self._s.db_code_events)
        return [[int.from_bytes(v, "big") for v in cur.iternext_dup()] if cur.set_key(bytes(r)) else []
                for r in refs]

    def events_at(self, seqs):
        txn, db = self._txn, self._s.db_events
        got = ((s, txn.get(u64(s), db=db)) for s in seqs)
        return {s: json.loads(raw) for s, raw in got if raw is not None}

    def scans_of(self, ref):
        """(seq, scan record) of a code's logged scans, newest first: each names the one before."""
        txn, s = self._txn, self._s
        out, seq = [], self.code_record(ref)[6]
        while seq:
            sc = unpack_scan(txn.get(u64(seq), db=s.db_scans))
            out.append((seq, sc))
            seq = sc["prev"]
        return out

    def public_queries(self, ref, bound):
        return publicq.read(self._txn, self._s.db_public_queries, ref, bound)

    # -- inside a write (events) -------------------------------------------------------------
    def event_seen(self, client, event_id):
        seen = self._txn.get(_event_id_key(client, event_id), db=self._s.db_event_ids)
        return None if seen is None else (int.from_bytes(seen[:8], "big"), seen[8:])

    def nested(self, body):
        with self._env.begin(write=True, parent=self._txn) as child:
            return body(LmdbView(self._s, child))

    def _next_seq(self, name=b"next_event"):
        meta = self._s.batches.meta
        raw = self._txn.get(name, db=meta)
        seq = int.from_bytes(raw, "big") if raw else 1
        self._txn.put(name, u64(seq + 1), db=meta)
        return seq

    def epcis_put(self, records):
        return self._s.epcis.put(self._txn, records)

    def restore_states(self, states, undone=None):
        txn, db = self._txn, self._s.db_codes
        for ref, status, seq in sorted(states, key=lambda s: bytes(s[0])):
            if status is None:
                txn.delete(bytes(ref) + STATE, db=db)
            else:
                txn.put(bytes(ref) + STATE, _STATE.pack(status, seq), db=db)
        raw = txn.get(u64(undone), db=self._s.db_events) if undone else None
        if raw is not None:
            txn.put(u64(undone), json.dumps({**json.loads(raw), "undone": True}, ensure_ascii=False).encode(),
                    db=self._s.db_events)
            self._s.brief_events.clear()   # events are cached as never changing: this one did

    def apply_event(self, plan):
        txn, s = self._txn, self._s
        seq = self._next_seq()
        at = u64(seq)
        order = sorted(plan.refs)   # written in key order: each page touched once
        if plan.state is not None:
            value = _STATE.pack(plan.state, seq)
            txn.cursor(db=s.db_codes).putmulti([(k + STATE, value) for k in order])
        txn.cursor(db=s.db_code_events).putmulti([(k, at) for k in order], dupdata=True)
        parent = plan.parent
        if plan.link == "pack":   # in key order, in one C call each
            txn.cursor(db=s.db_codes).putmulti([(k + PARENT, parent) for k in order])
            txn.cursor(db=s.db_children).putmulti([(parent, k) for k in order], dupdata=True)
        for k in plan.refs if plan.link == "unpack" else ():
            txn.delete(k + PARENT, db=s.db_codes)
            txn.delete(parent, k, db=s.db_children)
        if parent is not None:
            if plan.parent_state_if_new is not None and txn.get(parent + STATE, db=s.db_codes) is None:
                txn.put(parent + STATE, _STATE.pack(plan.parent_state_if_new, seq), db=s.db_codes)
            txn.put(parent, at, db=s.db_code_events, dupdata=True)
            if plan.bind_user is not None:   # the first user stays
                txn.put(parent, plan.bind_user.encode(), db=s.db_sscc_users, overwrite=False)
        for target in plan.recalls:
            txn.put(s.recall_key(target), at, db=s.db_recalls)
        txn.put(at, _event_json(seq, plan), db=s.db_events)
        txn.put(_event_id_key(plan.client, plan.event_id), at + plan.digest, db=s.db_event_ids)
        return seq

    def apply_events(self, plans):
        """Many plans in one pass: each table's records of all of them in one sorted write
        (a case's 24 codes cost their share of a call's write, not a write of their own;
        the codes' records by C loops, eventwrite.py).
        That is what apply_event of each in turn writes only when no key is in two plans and
        none unpacks or recalls (deletes, and states over whole batches): otherwise one by one."""
        keys, count = set(), 0
        for p in plans:
            if p.recalls or p.link == "unpack":
                return [self.apply_event(p) for p in plans]
            keys.update(p.refs)
            count += len(p.refs) + (p.parent is not None)
            if p.parent is not None:
                keys.add(p.parent)
        if len(keys) != count or len(plans) < 2:
            return [self.apply_event(p) for p in plans]
        txn, s = self._txn, self._s
        first = self._next_seq()
        txn.put(b"next_event", u64(first + len(plans)), db=s.batches.meta)
        write_code_records(txn, s, plans, first)   # the refs' records, in C
        codes, events, users, records, ids = [], [], [], [], []   # the plans' and parents' own
        for seq, p in enumerate(plans, first):
            at, parent = u64(seq), p.parent
            if parent is not None:
                events.append((parent, at))
                if p.parent_state_if_new is not None and txn.get(parent + STATE, db=s.db_codes) is None:
                    codes.append((parent + STATE, _STATE.pack(p.parent_state_if_new, seq)))
                if p.bind_user is not None:
                    users.append((parent, p.bind_user.encode()))
            records.append((at, _event_json(seq, p)))
            ids.append((_event_id_key(p.client, p.event_id), at + p.digest))
        if codes:
            txn.cursor(db=s.db_codes).putmulti(sorted(codes))
        if events:
            txn.cursor(db=s.db_code_events).putmulti(sorted(events), dupdata=True)
        if users:   # the first user stays
            txn.cursor(db=s.db_sscc_users).putmulti(sorted(users), overwrite=False)
        txn.cursor(db=s.db_events).putmulti(records)
        txn.cursor(db=s.db_event_ids).putmulti(sorted(ids))
        return list(range(first, first + len(plans)))


def _event_json(seq: int, plan) -> bytes:
    """The stored event: its seq first, then the record (as plan.encoded when the domain
    encoded it: json.dumps's own separators, so the bytes are those of dumping the dict)."""
    if plan.encoded is not None and len(plan.encoded) > 2:
        return b'{"seq": %d, ' % seq + plan.encoded[1:]
    return json.dumps({"seq": seq, **plan.record}, ensure_ascii=False).encode()


class LmdbStore:
    """The tables of one LMDB environment (the index of a data directory)."""

    def __init__(self, env, schemes: dict, *, scan_interval: float = 0.005):
        self.env = env
        self.batches = Batches(env)
        for name in ("codes", "events", "event_ids", "recalls", "imported", "scans"):
            setattr(self, f"db_{name}", open_db(env, name.encode()))
        try:
            self.db_sscc_users = open_db(env, b"sscc_users")
        except IndexReadOnly:  # an index from before SSCC users, read-only: nobody recorded
            self.db_sscc_users = None
        self.db_children = open_db(env, b"children", dupsort=True)
        self.db_public_queries = publicq.open_table(env)   # the public window's queries by code
        self.db_code_events = open_db(env, b"code_events", dupsort=True)
        self.db_seen = seentable.open_table(env)   # scan summaries (None: read-only, format 2)
        self.known = KnownProducts(self.batches, schemes)
        self._db_idempotency = None   # opened by the first server that issues with keys
        self._registry = None         # the registries' tables, opened on first use
        self.links = LinksTable(env)  # products' links, the table made by the first put
        self.alerts = AlertsTable(env)   # the analytics' alerts, made by the first put
        self.assets = AssetsTable(env)   # opened on its first append, as links are
        self.epcis = EpcisTables(env)  # opened here: a write must not open a table (open_db)
        self.outbox = OutboxTables(env, self.epcis)   # EPCIS subscriptions (outbox.py)
        self.recall_keys = BoundedCache(RECALL_KEY_CACHE)   # RecallTarget -> its key
        self.brief_events = BoundedCache(BRIEF_EVENTS)      # (seq, max codes) -> short event
        self.scan_log = ScanLog(self, scan_interval)   # its writer thread starts with a scan

    def reading(self) -> LmdbView:
        """A view of one read transaction: `with store.reading() as view:`."""
        return LmdbView(self, self.env.begin(), own=True)

    def write(self, body):
        """body(view) in one write transaction, committed (run_write: a full map grows and
        the whole body runs again; IndexFull with nothing written past the limit)."""
        return run_write(self.env, lambda txn: body(LmdbView(self, txn)))

    def stamp_format(self, fmt: bytes) -> bytes:
        """The record format the store holds; a new store is stamped with fmt first (only
        a new one needs a write to open: a read-only one must not)."""
        with self.env.begin() as txn:
            have = txn.get(b"format", db=self.batches.meta)
        if have is None:
            def stamp(txn):
                held = txn.get(b"format", db=self.batches.meta)
                if held is None:
                    txn.put(b"format", fmt, db=self.batches.meta)
                return held or fmt
            have = run_write(self.env, stamp)
        return have

    def upgrade_format(self, have: bytes, fmt: bytes) -> bytes:
        """Format `have` rewritten as `fmt` where this store knows how (2 -> 3: the scan
        summaries moved to their own table, seentable.py); returns the format held after."""
        if have == seentable.FROM and fmt == seentable.TO:
            if self.db_seen is None:
                raise IndexReadOnly(f"the index at {self.env.path()} uses record format 2 and is "
                                    f"read-only: open it writable once to move its scan summaries "
                                    f"to format 3")
            return seentable.upgrade(self.env, self.batches.meta, self.db_codes, self.db_seen)
        return have

    def put_imported(self, codes: list, value: bytes) -> None:
        """Codes issued elsewhere, each with the record value (JSON), in one commit."""
        db = self.db_imported
        run_write(self.env, lambda txn: txn.cursor(db=db).putmulti([(codekeys.ext(c), value) for c in codes]))

    def put_registered(self, codes, value: bytes, order=None):
        """Codes others assigned (an S array of compact codes), each with the record value, in
        one commit, keyed as imported codes (codekeys.ext's layout: b"ext\\0" + the code); a
        key already there keeps its record. Returns a uint8 array: 1 where the key was there
        before (nothing written for it)."""
        import numpy as np

        from . import _puts
        codes = np.asarray(codes)
        if codes.dtype.kind != "S":
            raise TypeError(f"codes must be a numpy S array, got {codes.dtype}")
        matrix, lens = codekeys.Keys.ext(codes)
        keys = matrix[np.arange(matrix.shape[1]) < lens[:, None]]       # the keys packed, in row order
        lens = np.ascontiguousarray(lens, np.int64)
        starts = np.zeros(len(codes), np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        existed = np.zeros(len(codes), np.uint8)
        raw = np.frombuffer(value, np.uint8)
        db = self.db_imported
        run_write(self.env, lambda txn: _puts.put_new(self.env, txn, db, np.ascontiguousarray(keys), starts, lens,
                                                      raw, existed, order))
        return existed

    @staticmethod
    def _registered_key(code: str) -> bytes:
        return b"ext\x00" + code.encode("utf-8", "surrogatepass")

    def registered_one(self, code: str):
        ref = self._registered_key(code)
        if len(ref) > _codes.KEY_LIMIT:
            return None
        with self.env.begin() as txn:
            return txn.get(ref, db=self.db_imported)

    def asset_steps(self, code: str) -> list:
        """The steps recorded for an asset's compact code, oldest first (JSON bytes each)."""
        return self.assets.steps(self._registered_key(code))

    def asset_append(self, code: str, expect: int, record: bytes) -> bool:
        """Append a step if the asset still has ``expect`` steps (False: it has more)."""
        return self.assets.append(self._registered_key(code), expect, record)

    def asset_append_all(self, appends: list) -> bool:
        """asset_append of each (code, expect, record) in one write: all, or none (False)."""
        return self.assets.append_all([(self._registered_key(c), e, r) for c, e, r in appends])

    def recall_key(self, target) -> bytes:
        hit = self.recall_keys.get(target)
        if hit is None:
            hit = self.recall_keys[target] = _recall_key(target)
        return hit

    def view(self, txn) -> LmdbView:
        """The reads of a view inside a write transaction of this store (events)."""
        return LmdbView(self, txn)

    def stats(self) -> dict:
        return _stats.index_stats(self)

    def bytes_in_use(self, part: str | None = None) -> int:
        return _stats.part_bytes(self.env, part)

    def batches_after(self, after_id: int = 0):
        return _stats.batches_after(self.batches, after_id)

    def reserve(self, scheme, product_key, product, count, capacity, *, also=None, **details):
        return self.batches.reserve(scheme, product_key, product, count, capacity, also=also, **details)

    def issued(self, scheme, product_key) -> int:
        return self.batches.issued(scheme, product_key)

    def versions(self) -> dict:
        return versions()

    def batch(self, batch_id: int):
        return self.batches.get(batch_id)

    def next_batch_id(self) -> int:
        """The id the next batch will get (the last one's + 1)."""
        with self.env.begin(db=self.batches.records) as txn:
            cur = txn.cursor()
            return int.from_bytes(cur.key(), "big") + 1 if cur.last() else 1

    # -- the scan log (scanlog.py: group commit, its loss bound and backpressure) -----------
    def record_scans(self, refs, verdicts, scanner, place, when, *, region=None, lat=None,
                     lon=None) -> None:
        self.scan_log.add(refs, verdicts, scanner, place, when, region, lat, lon)

    def record_scan(self, ref, verdict: int, scanner, place, when, *, region=None, lat=None,
                    lon=None) -> None:
        self.scan_log.add_one(ref, verdict, scanner, place, when, region, lat, lon)

    def flush_scans(self) -> int:
        return self.scan_log.flush()

    def scans_since(self, after_seq: int, limit: int) -> dict:
        return exportread.scans_since(self, after_seq, limit)

    def events_since(self, after_seq: int, limit: int) -> list:
        return exportread.events_since(self, after_seq, limit)

    def export_last_seqs(self) -> tuple[int, int]:
        return exportread.last_seqs(self)

    def purge_scanner(self, scanner: str, *, dry_run: bool = False) -> dict:
        if not scanner or scanner == PUBLIC_SCANNER:
            raise ValueError("name a scanner: the public window's queries name nobody and are not "
                             "purged by scanner")
        self.scan_log.flush()   # its queued scans are in the log before they are looked for
        if dry_run:
            with self.env.begin() as txn:
                return scanpurge.purge(self, txn, scanner, write=False)
        return run_write(self.env, lambda txn: scanpurge.purge(self, txn, scanner))

    def purge_before(self, when: float, *, dry_run: bool = False) -> dict:
        self.scan_log.flush()
        if dry_run:
            with self.env.begin() as txn:
                return scanpurge.purge_before(self, txn, when, write=False)
        return run_write(self.env, lambda txn: scanpurge.purge_before(self, txn, when))

    def close(self) -> None:
        """Commit the pending scans and stop the scan log's writer (the environment is
        its opener's to close)."""
        self.scan_log.close()

    def registry(self):
        """The product registries' tables (registry.py), made on first use: IndexReadOnly on
        a read-only index that never had them, IndexFull on a full disk."""
        if self._registry is None:
            from .registry import Store as RegistryTables   # it imports the registry's records
            self._registry = RegistryTables(self.env)
        return self._registry

    # -- idempotency keys: (client, key) -> a JSON entry, in their own table -----------------
    def _idempotency(self):
        if self._db_idempotency is None:
            self._db_idempotency = open_db(self.env, b"idempotency")
        return self._db_idempotency

    @staticmethod
    def _idempotency_key(client: str, key: str) -> bytes:
        return client.encode() + b"\x00" + key.encode()

    def idempotency_get(self, client: str, key: str) -> dict | None:
        with self.env.begin(db=self._idempotency()) as txn:
            raw = txn.get(self._idempotency_key(client, key))
        return json.loads(raw) if raw else None

    def idempotency_put(self, client: str, key: str, entry: dict) -> None:
        """Durable when it returns; IndexFull (nothing written) on a full disk."""
        db, k, value = self._idempotency(), self._idempotency_key(client, key), json.dumps(entry).encode()
        run_write(self.env, lambda txn: txn.put(k, value, db=db))

    # -- the analytics' alerts (alerts.py): id -> JSON, idempotent by id ---------------------
    def alerts_put(self, alerts: list) -> list[bool]:
        return self.alerts.put(alerts)

    def alerts_find(self, rule: str | None = None, code: str | None = None,
                    open_only: bool = False, subject: str | None = None, limit: int = 1000,
                    after: tuple | None = None, region: str | None = None, since: str | None = None,
                    products=None) -> list:
        return self.alerts.find(rule, code, open_only, subject, limit, after, region, since, products)

    def alert_close(self, alert_id: str, by: str, note: str = "") -> bool:
        return self.alerts.close(alert_id, by, note)

    def alerts_version(self) -> int:
        return self.alerts.version()

    def alerts_open_codes(self, rules) -> list[tuple[str, str, str]]:
        return self.alerts.open_codes(rules)

    # -- the links of products (links.py): key -> a JSON list, replaced whole ---------------
    def links_get(self, key: str) -> list[dict]:
        return self.links.get(key)

    def links_put(self, key: str, links: list[dict]) -> None:
        """Durable when it returns; an empty list deletes; IndexFull (nothing written) on a
        full disk."""
        self.links.put(key, links)

    def links_keys(self, prefix: str = "") -> list[str]:
        return self.links.keys(prefix)

    # -- EPCIS events and capture jobs (epcis.py) --------------------------------------------
    def epcis_put(self, records) -> list[bool]:
        records = list(records)
        return run_write(self.env, lambda txn: self.epcis.put(txn, records))

    def epcis_events(self, ids) -> list:
        with self.env.begin() as txn:
            return self.epcis.by_ids(txn, list(ids))

    def epcis_find(self, query, after=None, limit: int = 100):
        with self.env.begin() as txn:
            return self.epcis.find(txn, query, after, limit)

    def epcis_count(self, query, most: int) -> int:
        with self.env.begin() as txn:   # one snapshot: the count of one moment
            return self.epcis.count(txn, query, most)

    def capture_job_put(self, job: dict) -> None:
        run_write(self.env, lambda txn: self.epcis.put_job(txn, job))

    def capture_job_get(self, job_id: str) -> dict | None:
        with self.env.begin() as txn:
            return self.epcis.job(txn, job_id)

    def capture_jobs(self, client: str, after=None, limit: int = 100):
        with self.env.begin() as txn:
            return self.epcis.jobs(txn, client, after, limit)

    def queries_put(self, owner: str, name: str, definition: dict) -> bool:
        return run_write(self.env, lambda txn: self.epcis.query_put(txn, owner, name, definition))

    def queries_get(self, owner: str, name: str) -> dict | None:
        with self.env.begin() as txn:
            return self.epcis.query_get(txn, owner, name)

    def queries_delete(self, owner: str, name: str) -> bool:
        return run_write(self.env, lambda txn: self.epcis.query_delete(txn, owner, name))

    def queries_list(self, owner=None, after=None, limit: int = 100):
        with self.env.begin() as txn:
            return self.epcis.queries(txn, owner, after, limit)

    # -- EPCIS subscriptions and their outbox (outbox.py) -------------------------------------
    def epcis_since(self, query, after: int, limit: int = 1000) -> tuple[list, int]:
        with self.env.begin() as txn:
            return self.outbox.since(txn, query, after, limit, MAX_SINCE_SCAN)

    def epcis_log(self, query, after: int, limit: int = 1000, with_epcs: bool = True) -> tuple[list, int]:
        with self.env.begin() as txn:
            return self.outbox.log(txn, query, after, limit, MAX_SINCE_SCAN, with_epcs)

    def epcis_last_seq(self) -> int:
        with self.env.begin() as txn:
            return self.outbox.last_seq(txn)

    def subscription_put(self, sub: dict, bookmark: int | None = None) -> dict:
        return run_write(self.env, lambda txn: self.outbox.put(txn, sub, bookmark))

    def subscription_get(self, sub_id: str) -> dict | None:
        with self.env.begin() as txn:
            return self.outbox.get(txn, sub_id)

    def subscriptions(self) -> list:
        with self.env.begin() as txn:
            return self.outbox.all(txn)

    def subscription_delete(self, sub_id: str) -> bool:
        return run_write(self.env, lambda txn: self.outbox.delete(txn, sub_id))

    def subscription_rewind(self, sub_id: str, bookmark: int) -> dict | None:
        return run_write(self.env, lambda txn: self.outbox.rewind(txn, sub_id, bookmark))

    def subscription_progress(self, sub_id: str, generation: int, changes: dict,
                              lease: tuple[str, str] | None = None) -> bool:
        return run_write(self.env, lambda txn: self.outbox.progress(txn, sub_id, generation, changes, lease))

    def lease(self, name: str, holder: str, ttl: float) -> bool:
        return run_write(self.env, lambda txn: self.outbox.lease(txn, name, holder, ttl))

    def lease_release(self, name: str, holder: str) -> None:
        run_write(self.env, lambda txn: self.outbox.release(txn, name, holder))
