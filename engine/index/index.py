"""The index: batches, per-code state (sparse), lifecycle events, scans, verdicts.

Databases besides those of batches.py (keys are "code keys": the scheme name,
NUL, the bare code; imported codes use "ext" as the scheme; SSCCs "sscc"):

    state        code key -> status (u8), event seq (u64)     only codes with events
    parent       child key -> parent key                      aggregation, both ways:
    children     parent key -> child key (dupsort)
    code_events  code key -> event seq (dupsort)               for history()
    events       seq (u64) -> JSON event
    event_ids    sender's event id -> seq                    refuses duplicates
    recalls      b"B" batch id | b"L" scheme\\0product\\0lot -> event seq
    imported     code key -> JSON record                       codes issued elsewhere
    scans        seq (u64) -> time, verdict, scanner, place, code key   append-only scan log
    code_scans   code key -> scan seq (dupsort)
    seen         code key -> scan count, first scan time and place, places seen (hashes)
"""
from __future__ import annotations

import bisect
import datetime as _dt
import functools
import json
import struct
import time as _time
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from ..checks import GS1
from ..errors import TracecodeError
from ..issuance import Issuer
from ..scan import Fault, ScanParser
from .batches import Batches, BatchRecord, product_prefix, u64
from .env import run_write
from .lifecycle import ACTIONS, EventError, Status, check_transition
from .scanlog import ScanLog, place_hash, read_seen, unpack_scan

FORMAT = b"1"  # bump when a record layout below changes
_STATE = struct.Struct(">BQ")
_SEEN = struct.Struct("<IdQB8I")  # scanlog.SEEN_DTYPE, read one at a time
MAX_DEPTH = 8           # unit < case < pallet < ... containers followed upwards


class _Refused(Exception):
    def __init__(self, results):
        self.results = results


class Verdict(IntEnum):
    GENUINE = 0
    UNKNOWN = 1
    NOT_COMMISSIONED = 2
    RECALLED = 3
    EXPIRED = 4
    DESTROYED = 5
    ALREADY_SOLD = 6
    SUSPICIOUS = 7


@dataclass
class Answer:
    verdict: Verdict
    reasons: list
    scheme: str | None = None
    code: str | None = None
    product: dict = field(default_factory=dict)
    batch: int | None = None
    lot: str | None = None
    expiry: str | None = None
    status: str | None = None
    first_scan_time: float | None = None
    first_scan_place: str | None = None
    scan_count: int = 0


VERIFY_DTYPE = np.dtype([("verdict", "u1"), ("status", "u1"), ("fault", "u1"), ("batch", "u8"),
                         ("seq", "u8"), ("scan_count", "u4"), ("places", "u1"),
                         ("first_scan_time", "f8"), ("first_seq", "u8")])
# verdict by effective status; COMMISSIONED, SHIPPED, RECEIVED are genuine
_VERDICT_OF_STATUS = np.array([Verdict.NOT_COMMISSIONED, Verdict.GENUINE, Verdict.UNKNOWN,
                               Verdict.GENUINE, Verdict.GENUINE, Verdict.ALREADY_SOLD,
                               Verdict.ALREADY_SOLD, Verdict.RECALLED, Verdict.DESTROYED], np.uint8)


class VerifyBatch:
    """verify_many's result: numpy records (``records``: verdict, status, batch,
    scan_count...) and, on demand, one Answer per scan (iterate, or index)."""

    def __init__(self, index, parsed, keys, records, batches, imported):
        self.records = records
        self._index, self._parsed, self._keys = index, parsed, keys
        self._batches, self._imported = batches, imported

    def __len__(self):
        return len(self.records)

    @property
    def verdicts(self) -> np.ndarray:
        return self.records["verdict"]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i) -> Answer:
        r, p = self.records[i], self._parsed.records[i]
        scheme = self._parsed.scheme_names[p["scheme"]] if p["scheme"] >= 0 else None
        code = p["code"].decode() or None
        verdict, status = Verdict(int(r["verdict"])), Status(int(r["status"]))
        if self._keys[i] is None:
            why = "never issued" if r["fault"] == Fault.OK else f"unreadable: {Fault(int(r['fault'])).name}"
            return Answer(verdict, [why], scheme=scheme, code=code)
        ans = Answer(verdict, [], scheme=scheme, code=code, batch=int(r["batch"]) or None,
                     status=status.name.lower(), scan_count=int(r["scan_count"]))
        batch = self._batches.get(int(r["batch"]))
        if batch is not None:
            ans.product, ans.lot, ans.expiry = batch.product, batch.lot, batch.expiry
        else:
            rec = self._imported.get(i, {})
            ans.product, ans.lot, ans.expiry = rec.get("product", {}), rec.get("lot"), rec.get("expiry")
            ans.reasons.append("imported code")
        if r["first_seq"]:
            ans.first_scan_time = float(r["first_scan_time"])
            with self._index.env.begin() as txn:
                ans.first_scan_place = self._index._scan_place(txn, int(r["first_seq"]))
        if verdict == Verdict.EXPIRED:
            ans.reasons.append(f"expired {ans.expiry}")
        elif verdict == Verdict.SUSPICIOUS:
            ans.reasons.append(f"scanned at {int(r['places'])} places "
                               f"(at most {self._index.max_places} expected)")
        elif verdict != Verdict.GENUINE:
            ans.reasons.append("issued but never commissioned" if status == Status.ISSUED
                               else f"code is {status.name.lower()}")
        return ans


_STATUS_VERDICT = {Status.RECALLED: Verdict.RECALLED, Status.DESTROYED: Verdict.DESTROYED,
                   Status.DECOMMISSIONED: Verdict.UNKNOWN, Status.ISSUED: Verdict.NOT_COMMISSIONED,
                   Status.SOLD: Verdict.ALREADY_SOLD, Status.DISPENSED: Verdict.ALREADY_SOLD}


def _check_expiry(expiry) -> None:
    """Refuse an expiry verification could not read later: YYYYMMDD or YYMMDD only."""
    if expiry is None:
        return
    exp = str(expiry)
    try:
        if len(exp) not in (6, 8) or not exp.isdigit():
            raise ValueError
        _expiry_date(exp)
    except ValueError:
        raise ValueError(f"expiry {exp!r} is not a YYYYMMDD or YYMMDD date") from None


def code_key(scheme: str, code: str) -> bytes:
    return scheme.encode() + b"\x00" + code.encode()


def _expired(expiry: str | None, today: _dt.date) -> bool:
    return bool(expiry) and _expiry_date(expiry) < today


@functools.lru_cache(maxsize=4096)
def _expiry_date(expiry: str) -> _dt.date:
    if len(expiry) == 6:  # GS1 YYMMDD, DD 00 = end of month
        y, m, d = 2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:6])
    else:
        y, m, d = int(expiry[:4]), int(expiry[4:6]), int(expiry[6:8])
    if d == 0:
        d = 28
        while True:
            try:
                _dt.date(y, m, d + 1)
                d += 1
            except ValueError:
                break
    return _dt.date(y, m, d)


class Index:
    """Issuance, lifecycle and verification over one LMDB environment."""

    def __init__(self, env, schemes: dict, master_key, *, record_scans: bool = True,
                 flush_interval: float = 0.005, max_places: int = 3):
        self.env = env
        self.schemes = schemes
        self.master_key = master_key
        self.batches = Batches(env)
        dbs = ("state", "parent", "events", "event_ids", "recalls", "imported", "scans", "seen")
        for name in dbs:
            setattr(self, f"db_{name}", env.open_db(name.encode()))
        self.db_children = env.open_db(b"children", dupsort=True)
        self.db_code_events = env.open_db(b"code_events", dupsort=True)
        self.db_code_scans = env.open_db(b"code_scans", dupsort=True)
        self._check_format()
        self.parser = ScanParser(schemes, master_key)
        self.max_places = max_places
        self.record_scans = record_scans
        self.log = ScanLog(self, flush_interval)
        self._tables: dict = {}
        self._batch_cache: dict = {}
        self._recall_cache: dict = {}

    def _check_format(self):
        """Stamp a new index with its record format; refuse one written in another."""
        def stamp(txn):
            have = txn.get(b"format", db=self.batches.meta)
            if have is None:
                txn.put(b"format", FORMAT, db=self.batches.meta)
            elif have != FORMAT:
                raise TracecodeError(f"this index uses record format {have.decode()}; this "
                                     f"tracecode reads format {FORMAT.decode()}")
        run_write(self.env, stamp)

    def close(self):
        self.log.close()

    # -- issuance --------------------------------------------------------------------------
    def issuer(self, scheme: str, product: dict) -> Issuer:
        sch = self.schemes[scheme] if isinstance(scheme, str) else scheme
        return self.parser.issuer(sch, sch.product_values(product))

    def issue(self, scheme: str, product: dict, count: int, **details) -> BatchRecord:
        """Reserve counters and record the batch (committed before this returns)."""
        iss = self.issuer(scheme, product)
        attrs = iss.scheme.attribute_values(details.pop("attributes", None))
        for k in ("lot", "expiry"):
            if details.get(k) is None and k in attrs:
                details[k] = attrs[k]
        _check_expiry(details.get("expiry"))
        return self.batches.reserve(iss.scheme.name, iss.product_key, iss.product, count,
                                    iss.capacity, attributes=attrs, **details)

    # -- imported codes ----------------------------------------------------------------------
    @staticmethod
    def _ext_key(text: str) -> bytes:
        return b"ext\x00" + "".join(str(text).split()).replace("-", "").upper().encode()

    def import_codes(self, codes, **record) -> int:
        """Store codes issued by other systems, per code; they then verify like ours.

        `codes` is any iterable of text (a file object works: one code per line);
        `record` (product, lot, expiry, approval_number, source...) goes with each.
        """
        _check_expiry(record.get("expiry"))
        value = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
        n = 0
        chunk = []

        def flush():
            run_write(self.env, lambda txn: txn.cursor(db=self.db_imported).putmulti(
                [(self._ext_key(c), value) for c in chunk]))
        for line in codes:
            line = line.strip()
            if line:
                chunk.append(line)
                n += 1
            if len(chunk) >= 100_000:
                flush()
                chunk = []
        if chunk:
            flush()
        return n

    # -- resolving codes ---------------------------------------------------------------------
    def _table(self, txn, scheme, product_key):
        """A product's batch table, cached until its counter moves (other processes
        issue into the same environment, so the counter is read in this txn)."""
        key = (scheme, product_key)
        mark = txn.get(product_prefix(scheme, product_key)[:-1], db=self.batches.counters)
        cached = self._tables.get(key)
        if cached is None or cached[0] != mark:
            table = self.batches.table(txn, scheme, product_key)
            cached = self._tables[key] = (mark, table, tuple(a.tolist() for a in table))
        return cached[1]

    def _table_lists(self, txn, scheme, product_key):
        """The same table as Python lists, for bisect on the single-scan path."""
        self._table(txn, scheme, product_key)
        return self._tables[(scheme, product_key)][2]

    def _resolve(self, txn, texts):
        """Parse texts; for each, its code key, batch id (0 none) and imported record.

        Returns (parse results, keys as an object array (None: unknown), batch ids,
        batch records by id, imported records by row). Vectorised per scheme and
        product; only scans of no batch of ours are looked up one by one.
        """
        parsed = self.parser.parse_many(texts)
        rec = parsed.records
        count = len(rec)
        batch_ids = np.zeros(count, np.uint64)
        keys = np.full(count, None, dtype=object)
        for scheme, iss, members in parsed.groups:  # per distinct product the parser found
            rows = np.arange(count)[members]
            rows = rows[parsed.counter_ok[rows]]
            if not len(rows):
                continue
            batch_ids[rows] = self.batches.find(txn, scheme.name, iss.product_key, parsed.counter[rows],
                                                self._table(txn, scheme.name, iss.product_key))
            mine = rows[batch_ids[rows] != 0]
            if len(mine):  # code keys built as bytes rows (np.char would drop the NUL)
                prefix = np.frombuffer(scheme.name.encode() + b"\x00", np.uint8)
                buf = np.empty((len(mine), len(prefix) + scheme.length), np.uint8)
                buf[:, :len(prefix)] = prefix
                buf[:, len(prefix):] = rec["code"][mine].astype(f"S{scheme.length}").view(
                    np.uint8).reshape(len(mine), scheme.length)
                keys[mine] = buf.view(f"S{buf.shape[1]}").ravel().tolist()
        imported = {}
        for i in np.flatnonzero(batch_ids == 0).tolist():
            code = rec["code"][i].decode() if rec["code"][i] else texts[i] \
                if isinstance(texts[i], str) else texts[i].decode("utf-8", "replace")
            raw = txn.get(self._ext_key(code), db=self.db_imported)
            if raw is not None:
                keys[i] = self._ext_key(code)
                imported[i] = json.loads(raw)
        records = {int(b): self._batch(txn, int(b)) for b in np.unique(batch_ids).tolist() if b}
        return parsed, keys, batch_ids, records, imported

    def _state(self, txn, key):
        raw = txn.get(key, db=self.db_state)
        return _STATE.unpack(raw) if raw else (Status.ISSUED, 0)

    def _effective(self, txn, key, batch_id=0, batch=None):
        """(status, seq) after the code's own events, its containers' and recalls."""
        status, seq = self._state(txn, key)
        k = key
        for _ in range(MAX_DEPTH):
            k = txn.get(k, db=self.db_parent)
            if k is None:
                break
            s2, q2 = self._state(txn, k)
            if q2 > seq:
                status, seq = s2, q2
        recall = self._recall_seq(txn, batch_id, batch)
        if recall > seq and status != Status.DESTROYED:
            status, seq = Status.RECALLED, recall
        return Status(status), seq

    def _recall_seq(self, txn, batch_id, batch) -> int:
        """The event seq of the latest recall of the code's batch or lot, 0 if none."""
        seqs = [txn.get(rk, db=self.db_recalls) for rk in self._recall_keys(batch_id, batch)]
        return max([int.from_bytes(q, "big") for q in seqs if q] or [0])

    def _recall_keys(self, batch_id, batch):
        """Where a recall of the code's batch or lot would be recorded (cached per batch)."""
        if not batch_id:
            return ()
        hit = self._recall_cache.get(batch_id)
        if hit is None:
            hit = [b"B" + u64(batch_id)]
            if batch is not None and batch.lot:
                pk = self.schemes[batch.scheme].product_key(batch.product)
                hit.append(b"L" + product_prefix(batch.scheme, pk) + batch.lot.encode())
            self._recall_cache[batch_id] = hit
        return hit

    # -- verification ------------------------------------------------------------------------
    def verify(self, scan, *, scanner: str | None = None, place: str | None = None,
               when: float | None = None, record: bool | None = None,
               today: _dt.date | None = None) -> Answer:
        """The verdict on one scan, with its reasons; recorded in the scan log by default.

        The single-scan path: no numpy, one parse, one FF1 decryption, a handful
        of LMDB gets in one read transaction.
        """
        when = _time.time() if when is None else when
        raw = scan.encode("utf-8", "surrogatepass") if isinstance(scan, str) else bytes(scan)
        fault, _, si, _, _, code = self.parser._core.parse_one(raw)
        key, batch_id, batch, imported, scheme = None, 0, None, None, None
        with self.env.begin() as txn:
            if fault == Fault.OK and si >= 0:
                sch = self.parser.schemes[si]
                scheme = sch.name
                found = self.parser.product_of(sch, code)
                if isinstance(found, Exception):
                    fault = Fault.INVALID_FIELD
                else:
                    iss = found
                    counter = iss.counter(code)
                    if counter is not None and counter < sch.capacity:
                        starts, ends, ids = self._table_lists(txn, sch.name, iss.product_key)
                        pos = bisect.bisect_right(starts, counter) - 1
                        if pos >= 0 and counter < ends[pos]:
                            batch_id = ids[pos]
                            batch = self._batch(txn, batch_id)
                            key = sch.name.encode() + b"\x00" + code
            if key is None:
                text = code.decode() if code else raw.decode("utf-8", "replace")
                ext = self._ext_key(text)
                hit = txn.get(ext, db=self.db_imported)
                if hit is not None:
                    key, imported = ext, json.loads(hit)
            ans = self._answer(txn, scheme, code.decode() or None, fault, key, batch_id, batch,
                               imported, place, today or _dt.date.fromtimestamp(when))
        if self.record_scans if record is None else record:
            self.log.add([key], [int(ans.verdict)], scanner, place, when)
        return ans

    def _batch(self, txn, batch_id):
        hit = self._batch_cache.get(batch_id)
        if hit is None:
            hit = self._batch_cache[batch_id] = self.batches.get(batch_id, txn)
        return hit

    def verify_many(self, scans, *, scanner=None, place=None, when=None, record=None,
                    today: _dt.date | None = None) -> "VerifyBatch":
        """Verdicts on many scans: one read transaction, one (group-committed) log write.

        Vectorised: parsing, FF1 and batch lookup run over arrays; state, seen and
        container lookups are sorted getmulti calls; only codes inside containers,
        imported codes and codes scanned before take a per-code step.
        """
        when = _time.time() if when is None else when
        today = today or _dt.date.fromtimestamp(when)
        with self.env.begin() as txn:
            parsed, keys, batch_ids, records, imported = self._resolve(txn, scans)
            out = self._verdicts(txn, parsed, keys, batch_ids, records, imported, place, today)
        if self.record_scans if record is None else record:
            self.log.add(keys.tolist(), out.records["verdict"], scanner, place, when)
        return out

    def _verdicts(self, txn, parsed, keys, batch_ids, records, imported, place, today):
        n = len(keys)
        res = np.zeros(n, VERIFY_DTYPE)
        res["batch"] = batch_ids
        res["fault"] = parsed.records["fault"]
        known = np.flatnonzero(keys != None)  # noqa: E711 - elementwise
        res["verdict"][:] = Verdict.UNKNOWN
        if len(known):
            karr = np.array(keys[known].tolist(), dtype="S")
            order = np.argsort(karr, kind="stable")
            sorted_keys = karr[order]
            klist = sorted_keys.tolist()

            def lookup(db, keys=None):
                found = txn.cursor(db=db).getmulti(klist if keys is None else keys)
                if not found:
                    return np.zeros(0, np.intp), []
                ks, vs = zip(*found)
                rows = known[order[np.searchsorted(sorted_keys, np.array(ks, dtype="S"))]]
                return rows, vs

            rows, vs = lookup(self.db_state)
            if len(rows):
                st = np.frombuffer(b"".join(vs), dtype=[("s", "u1"), ("q", ">u8")])
                res["status"][rows] = st["s"]
                res["seq"][rows] = st["q"]
            # batch and lot recalls, per batch: later than the code's own event wins
            for bid, batch in records.items():
                recall = self._recall_seq(txn, bid, batch)
                if recall:
                    hit = (batch_ids == bid) & (res["seq"] < recall) & (res["status"] != Status.DESTROYED)
                    res["status"][hit], res["seq"][hit] = Status.RECALLED, recall
            # inside a container: the careful path. Only a code with a state record
            # (commissioned at least) can have been packed.
            with_state = sorted_keys[np.isin(order, np.searchsorted(known, rows))] \
                if len(rows) else sorted_keys[:0]
            inside, _ = lookup(self.db_parent, with_state.tolist()) if len(with_state) \
                else (np.zeros(0, np.intp), [])
            for i in inside.tolist():
                status, seq = self._effective(txn, keys[i], int(batch_ids[i]), records.get(int(batch_ids[i])))
                res["status"][i], res["seq"][i] = status, seq
            rows, vs = lookup(self.db_seen)
            if len(rows):
                seen = read_seen(vs)
                res["scan_count"][rows] = seen["count"]
                res["first_scan_time"][rows] = seen["first_time"]
                res["first_seq"][rows] = seen["first_seq"]
                h = place_hash(place)
                new = (~(seen["places"] == h).any(axis=1) & (seen["n"] < 255)) if h else False
                res["places"][rows] = seen["n"] + new
            res["verdict"][known] = _VERDICT_OF_STATUS[res["status"][known]]
            ours = known[batch_ids[known] != 0]
            # imported codes need no commissioning here
            theirs = known[(batch_ids[known] == 0) & (res["status"][known] == Status.ISSUED)]
            res["verdict"][theirs] = Verdict.GENUINE
            genuine = res["verdict"] == Verdict.GENUINE
            expired = np.zeros(n, bool)
            for bid, batch in records.items():
                if _expired(batch.expiry, today):
                    expired[ours[batch_ids[ours] == bid]] = True
            for i, rec in imported.items():
                expired[i] = _expired(rec.get("expiry"), today)
            res["verdict"][genuine & expired] = Verdict.EXPIRED
            if place is not None:
                res["places"][known[res["scan_count"][known] == 0]] = 1
                res["verdict"][genuine & ~expired & (res["places"] > self.max_places)] = Verdict.SUSPICIOUS
        res["scan_count"] += keys != None  # noqa: E711 - this scan counts
        return VerifyBatch(self, parsed, keys, res, records, imported)

    def _answer(self, txn, scheme, code, fault, key, batch_id, batch, imported, place, today):
        if key is None:
            why = "never issued" if fault == Fault.OK else f"unreadable: {Fault(fault).name}"
            return Answer(Verdict.UNKNOWN, [why], scheme=scheme, code=code)
        ans = Answer(Verdict.GENUINE, [], scheme=scheme, code=code, batch=batch_id or None)
        if batch is not None:
            ans.product, ans.lot, ans.expiry = batch.product, batch.lot, batch.expiry
        else:
            ans.product = imported.get("product", {})
            ans.lot, ans.expiry = imported.get("lot"), imported.get("expiry")
            ans.reasons.append("imported code")
        status, _ = self._effective(txn, key, batch_id, batch)
        ans.status = status.name.lower()
        count, places, ans.first_scan_time, ans.first_scan_place = self._seen(txn, key)
        ans.scan_count = count + 1
        verdict = _STATUS_VERDICT.get(status)
        if batch is None and status == Status.ISSUED:
            verdict = None  # imported codes need no commissioning here
        if verdict is not None:
            ans.verdict = verdict
            ans.reasons.append("issued but never commissioned" if status == Status.ISSUED
                               else f"code is {status.name.lower()}")
        elif _expired(ans.expiry, today):
            ans.verdict = Verdict.EXPIRED
            ans.reasons.append(f"expired {ans.expiry}")
        elif place is not None and len(places | {place_hash(place)}) > self.max_places:
            ans.verdict = Verdict.SUSPICIOUS
            ans.reasons.append(f"scanned at {len(places) + 1} places (at most {self.max_places} expected)")
        return ans

    def _seen(self, txn, key):
        """(scan count, place hashes, first scan time, first scan place) of a code."""
        raw = txn.get(key, db=self.db_seen)
        if raw is None:
            return 0, set(), None, None
        count, first_time, first_seq, n, *places = _SEEN.unpack(raw)  # struct: no numpy per scan
        return count, set(places[:n]), first_time, self._scan_place(txn, first_seq)

    def _scan_place(self, txn, seq: int):
        raw = txn.get(u64(seq), db=self.db_scans)
        return unpack_scan(raw)["place"] if raw is not None else None

    # -- lifecycle -------------------------------------------------------------------------
    def apply(self, events, *, atomic: bool = False):
        """Apply lifecycle events in order; returns one result per event.

        Each event is all-or-nothing over its codes. With atomic=False (default)
        invalid events are rejected with their reason and the valid ones
        applied; with atomic=True one invalid event refuses the whole call.
        A result is {"id", "ok", "seq" or "error"}.
        """
        def body(txn):
            results = []
            for ev in events:
                try:  # a nested transaction: an event is applied whole or not at all
                    with self.env.begin(write=True, parent=txn) as child:
                        seq = self._apply_one(child, ev)
                    results.append({"id": ev.get("id"), "ok": True, "seq": seq})
                except (EventError, TracecodeError, ValueError, KeyError) as exc:
                    results.append({"id": ev.get("id"), "ok": False, "error": str(exc)})
            if atomic and not all(r["ok"] for r in results):
                raise _Refused(results)
            return results
        try:
            return run_write(self.env, body)
        except _Refused as refused:
            return [r if not r["ok"] else {"id": r["id"], "ok": False,
                                           "error": "not applied: another event in the call is invalid"}
                    for r in refused.results]

    def _next_seq(self, txn, name=b"next_event"):
        raw = txn.get(name, db=self.batches.meta)
        seq = int.from_bytes(raw, "big") if raw else 1
        txn.put(name, u64(seq + 1), db=self.batches.meta)
        return seq

    @staticmethod
    def _sscc_key(text):
        """The key of an SSCC-18 written as 18 digits or as (00) + 18 digits, else None
        (cheap for the common case: a trace code, which is neither)."""
        t = text.strip() if isinstance(text, str) else str(text)
        if t.startswith("(00)"):
            t = t[4:]
        if len(t) == 18 and t.isdigit() and GS1.is_valid(t):
            return b"sscc\x00" + t.encode()
        return None

    def _keys_of(self, txn, codes, event_id):
        """Code keys of event codes (our codes, imported ones or SSCCs) and their batch
        ids (0: not ours), or EventError."""
        out = [None] * len(codes)
        bids = [0] * len(codes)
        todo = []
        for i, c in enumerate(codes):
            k = self._sscc_key(c)
            if k is not None:
                out[i] = k
            else:
                todo.append(i)
        if todo:
            texts = [codes[i] for i in todo]
            parsed, keys, batch_ids, records, imported = self._resolve(txn, texts)
            for j, i in enumerate(todo):
                if keys[j] is None:
                    raise EventError(f"unknown code {codes[i]!r}: never issued or imported",
                                     event_id=event_id, code=codes[i])
                out[i] = keys[j]
                bids[i] = int(batch_ids[j])
        return out, bids

    def _statuses(self, txn, keys, batch_ids):
        """Effective status of each code, in bulk: sorted getmulti for own states,
        containers only for codes with a state, recalls once per batch."""
        uniq = sorted(set(keys))
        own = dict(txn.cursor(db=self.db_state).getmulti(uniq))
        with_state = [k for k in uniq if k in own]
        packed = {k for k, _ in txn.cursor(db=self.db_parent).getmulti(with_state)} if with_state else set()
        recalled = {b: self._recall_seq(txn, b, self._batch(txn, b)) for b in set(batch_ids) if b}
        out = []
        for k, b in zip(keys, batch_ids):
            if k in packed:
                out.append(self._effective(txn, k, b, self._batch(txn, b) if b else None)[0])
                continue
            raw = own.get(k)
            status, seq = _STATE.unpack(raw) if raw else (Status.ISSUED, 0)
            if recalled.get(b, 0) > seq and status != Status.DESTROYED:
                status = Status.RECALLED
            out.append(Status(status))
        return out

    def _apply_one(self, txn, ev):
        eid = ev.get("id")
        if not eid:
            raise EventError("every event needs an id (unique per sender)")
        eid_key = str(eid).encode()
        if txn.get(eid_key, db=self.db_event_ids) is not None:
            raise EventError(f"duplicate event id {eid!r}", event_id=eid)
        action = ACTIONS.get(ev.get("action"))
        if action is None:
            raise EventError(f"unknown action {ev.get('action')!r}; actions: {', '.join(ACTIONS)}",
                             event_id=eid)
        codes = list(ev.get("codes") or [])
        targets = []
        if action.name == "recall" and (ev.get("batch") or ev.get("lot")):
            targets = self._recall_targets(txn, ev)
        elif not codes:
            raise EventError(f"event {eid!r} names no codes", event_id=eid)
        keys, bids = self._keys_of(txn, codes, eid)
        if len(set(keys)) != len(keys):
            dup = next(c for c, k in zip(codes, keys) if keys.count(k) > 1)
            raise EventError(f"{dup} is listed twice in event {eid!r}", event_id=eid, code=dup)
        parent = None
        if action.epcis_type == "AggregationEvent":
            if not ev.get("parent"):
                raise EventError(f"{action.name} needs a parent (an SSCC or a case's code)", event_id=eid)
            parent = self._keys_of(txn, [ev["parent"]], eid)[0][0]
        statuses = self._statuses(txn, keys, bids)
        for k, text, status in zip(keys, codes, statuses):
            if action.name == "pack" and k.startswith(b"sscc\x00") and status == Status.ISSUED:
                status = Status.COMMISSIONED
            check_transition(action, status, text, eid)
        seq = self._next_seq(txn)
        if action.to is not None:  # a state change: written in bulk, sorted
            value = _STATE.pack(action.to, seq)
            txn.cursor(db=self.db_state).putmulti([(k, value) for k in sorted(keys)])
            txn.cursor(db=self.db_code_events).putmulti([(k, u64(seq)) for k in sorted(keys)],
                                                        dupdata=True)
        for k, text in zip(keys, codes) if action.to is None else ():
            if action.name == "pack":
                if txn.get(k, db=self.db_parent) is not None:
                    raise EventError(f"{text} is already packed; unpack it first", event_id=eid, code=text)
                if k == parent:
                    raise EventError(f"{text} cannot contain itself", event_id=eid, code=text)
                txn.put(k, parent, db=self.db_parent)
                txn.put(parent, k, db=self.db_children, dupdata=True)
            elif action.name == "unpack":
                if txn.get(k, db=self.db_parent) != parent:
                    raise EventError(f"{text} is not in {ev['parent']}", event_id=eid, code=text)
                txn.delete(k, db=self.db_parent)
                txn.delete(parent, k, db=self.db_children)
            txn.put(k, u64(seq), db=self.db_code_events, dupdata=True)
        if parent is not None:
            if txn.get(parent, db=self.db_state) is None:  # a new logistic unit comes alive
                txn.put(parent, _STATE.pack(Status.COMMISSIONED, seq), db=self.db_state)
            txn.put(parent, u64(seq), db=self.db_code_events, dupdata=True)
        for rk in targets:
            txn.put(rk, u64(seq), db=self.db_recalls)
        record = {"seq": seq, "id": eid, "action": action.name, "type": action.epcis_type,
                  "epcis_action": action.epcis_action, "bizStep": action.biz_step,
                  "disposition": action.disposition, "codes": [k.decode() for k in keys],
                  "parent": parent.decode() if parent else None, "time": ev.get("time", _time.time()),
                  "place": ev.get("place"), "batch": ev.get("batch"), "lot": ev.get("lot"),
                  "reason": ev.get("reason")}
        txn.put(u64(seq), json.dumps(record, ensure_ascii=False).encode(), db=self.db_events)
        txn.put(eid_key, u64(seq), db=self.db_event_ids)
        return seq

    def _recall_targets(self, txn, ev):
        if ev.get("batch"):
            batch = self.batches.get(int(ev["batch"]), txn)
            if batch is None:
                raise EventError(f"no batch {ev['batch']}", event_id=ev.get("id"))
            return [b"B" + u64(batch.id)]
        scheme = self.schemes[ev["scheme"]]
        product = scheme.product_values(ev.get("product") or {})
        return [b"L" + product_prefix(scheme.name, scheme.product_key(product)) + str(ev["lot"]).encode()]

    # -- history ---------------------------------------------------------------------------
    def history(self, code) -> list:
        """Every event and scan of a code and of the containers it is in, in time order."""
        with self.env.begin() as txn:
            key = self._keys_of(txn, [code], None)[0][0]
            chain = [key]
            k = key
            for _ in range(MAX_DEPTH):
                k = txn.get(k, db=self.db_parent)
                if k is None:
                    break
                chain.append(k)
            items = []
            for k in chain:
                cur = txn.cursor(db=self.db_code_events)
                if cur.set_key(k):
                    for seq in cur.iternext_dup():
                        ev = json.loads(txn.get(seq, db=self.db_events))
                        ev["kind"], ev["via"] = "event", None if k == key else k.decode()
                        items.append(ev)
                cur = txn.cursor(db=self.db_code_scans)
                if cur.set_key(k):
                    for seq in cur.iternext_dup():
                        sc = unpack_scan(txn.get(seq, db=self.db_scans))
                        items.append({"kind": "scan", "time": sc["time"], "scanner": sc["scanner"],
                                      "place": sc["place"], "verdict": Verdict(sc["verdict"]).name,
                                      "via": None if k == key else k.decode()})
        seen, unique = set(), []
        for item in items:  # a pack event is on the unit and on its container: once
            tag = (item["kind"], item.get("seq", id(item)))
            if tag not in seen:
                seen.add(tag)
                unique.append(item)
        return sorted(unique, key=lambda e: (e["time"], e.get("seq", 0)))
