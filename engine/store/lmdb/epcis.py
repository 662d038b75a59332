"""EPCIS events and capture jobs (store/port.py: epcis_put, epcis_events, epcis_find,
capture_job_put, capture_job_get) in three LMDB databases:

    epcis        b"E" seq u64 b"h" -> head JSON      what a query filters on (small)
                 b"E" seq u64 b"b" -> body JSON      the event as captured, its EPCs by role
                 b"I" event id     -> seq u64        an id seen again is not stored again
                 b"J" job id       -> job JSON       capture jobs, replaced whole
                 b"N"              -> next seq u64
    epcis_epcs   EPC -> seq u64 + role byte (dupsort)   "events of one EPC", in capture order
    epcis_times  eventTime ms (biased u64) + seq u64 -> b""   "events in a time range"

A head holds the fields every query parameter tests (type, bizStep, disposition, readPoint,
bizLocation, times) so a filter never decodes a body: a 100,000-EPC ObjectEvent is read
whole only when it is returned. Keys longer than LMDB takes (an id or EPC over KEY_BYTES)
are kept under their BLAKE2b digest; the head or body says the text itself.
"""
from __future__ import annotations

import hashlib
import heapq
import json

from ..port import EPC_ROLES, EpcisQuery, EpcisRecord
from .batches import u64
from .env import IndexReadOnly, open_db

KEY_BYTES = 400         # LMDB keys stop at 511 bytes: longer ids and EPCs are digested
MAX_SCAN = 200_000      # index entries one find reads at most; then it answers a page token
_BIAS = 1 << 63         # eventTime in ms, signed, ordered as unsigned bytes
_ROLE = {r: bytes([i]) for i, r in enumerate(EPC_ROLES)}
_ROLE_OF = {v[0]: r for r, v in _ROLE.items()}
_HEAD = ("event_id", "event_time", "time_offset", "record_time", "type", "biz_step",
         "disposition", "read_point", "biz_location", "client")
NEXT = b"N"


def _dumps(value) -> bytes:
    # events come from JSON that may carry lone surrogates (\ud800): kept, not refused here
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def _loads(raw: bytes):
    return json.loads(bytes(raw).decode("utf-8", "surrogatepass"))


def text_key(text: str) -> bytes:
    """The key of an id or EPC: its UTF-8, or a digest of it when too long for LMDB."""
    if not isinstance(text, str) or not text:
        raise ValueError("an EPCIS event id or EPC must be non-empty text")
    raw = text.encode("utf-8", "surrogatepass")
    return raw if len(raw) <= KEY_BYTES else b"\x00#" + hashlib.blake2b(raw, digest_size=32).digest()


def time_key(event_time: float, seq: int) -> bytes:
    return u64(round(event_time * 1000) + _BIAS) + u64(seq)


def _ms_key(t: float | None, default: int) -> bytes:
    return u64(default if t is None else max(0, min((1 << 64) - 1, round(t * 1000) + _BIAS)))


def _head(rec: EpcisRecord) -> dict:
    return {k: getattr(rec, k) for k in _HEAD}


class EpcisTables:
    """The EPCIS databases of one environment, opened with the store (a read-only index
    from before them has none: it reads as empty)."""

    def __init__(self, env):
        self.env = env
        try:
            self.main = open_db(env, b"epcis")
            self.epcs = open_db(env, b"epcis_epcs", dupsort=True)
            self.times = open_db(env, b"epcis_times")
        except IndexReadOnly:
            self.main = self.epcs = self.times = None

    # -- writes (inside the caller's write transaction) ------------------------------------
    def put(self, txn, records) -> list[bool]:
        """Store the records whose event ids are new; which were."""
        if self.main is None:
            raise IndexReadOnly("the index is read-only: no EPCIS event can be stored")
        main = self.main
        raw = txn.get(NEXT, db=main)
        seq = int.from_bytes(raw, "big") if raw else 1
        out, epc_rows, time_rows = [], [], []
        for rec in records:
            if not isinstance(rec, EpcisRecord):
                raise ValueError(f"epcis_put takes EpcisRecords, got {type(rec).__name__}")
            id_key = b"I" + text_key(rec.event_id)
            if txn.get(id_key, db=main) is not None:
                out.append(False)
                continue
            at = u64(seq)
            txn.put(id_key, at, db=main)
            txn.put(b"E" + at + b"h", _dumps(_head(rec)), db=main)
            txn.put(b"E" + at + b"b", _dumps({"event": rec.event, "epcs": rec.epcs}), db=main)
            time_rows.append((time_key(rec.event_time, seq), b""))
            for role, epcs in rec.epcs.items():
                tag = _ROLE[role]   # KeyError: a role the port does not name
                epc_rows += [(text_key(e), at + tag) for e in epcs]
            out.append(True)
            seq += 1
        if epc_rows:
            epc_rows.sort()   # key order: each page touched once
            txn.cursor(db=self.epcs).putmulti(epc_rows, dupdata=True)
        if time_rows:
            txn.cursor(db=self.times).putmulti(time_rows)
        txn.put(NEXT, u64(seq), db=main)
        return out

    def put_job(self, txn, job: dict) -> None:
        if self.main is None:
            raise IndexReadOnly("the index is read-only: no capture job can be stored")
        if not isinstance(job, dict) or not isinstance(job.get("id"), str):
            raise ValueError("a capture job is a dict with an id (text)")
        txn.put(b"J" + text_key(job["id"]), _dumps(job), db=self.main)

    # -- reads -----------------------------------------------------------------------------
    def job(self, txn, job_id: str) -> dict | None:
        if self.main is None:
            return None
        raw = txn.get(b"J" + text_key(job_id), db=self.main)
        return None if raw is None else _loads(raw)

    def _record(self, txn, seq: int, head: dict | None = None) -> EpcisRecord:
        at = u64(seq)
        if head is None:
            head = _loads(txn.get(b"E" + at + b"h", db=self.main))
        body = _loads(txn.get(b"E" + at + b"b", db=self.main))
        return EpcisRecord(event=body["event"], epcs=body["epcs"], seq=seq, **head)

    def by_ids(self, txn, ids) -> list:
        if self.main is None:
            return [None] * len(ids)
        out = []
        for eid in ids:
            at = txn.get(b"I" + text_key(eid), db=self.main)
            out.append(None if at is None else self._record(txn, int.from_bytes(at, "big")))
        return out

    def find(self, txn, query: EpcisQuery, after: str | None, limit: int) -> tuple[list, str | None]:
        """(records, next token): by the EPC index when the query names EPCs (capture
        order), else by the time index (eventTime order)."""
        if not isinstance(query, EpcisQuery):
            raise ValueError(f"epcis_find takes an EpcisQuery, got {type(query).__name__}")
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        if self.main is None:
            return [], None
        if query.epcs:
            return self._find_by_epc(txn, query, _token(after, "e", 8), limit)
        return self._find_by_time(txn, query, _token(after, "t", 16), limit)

    def _matches(self, head: dict, q: EpcisQuery) -> bool:
        return ((not q.event_types or head["type"] in q.event_types)
                and (not q.biz_steps or head["biz_step"] in q.biz_steps)
                and (not q.dispositions or head["disposition"] in q.dispositions)
                and (not q.read_points or head["read_point"] in q.read_points)
                and (not q.biz_locations or head["biz_location"] in q.biz_locations)
                and (q.ge_event_time is None or head["event_time"] >= q.ge_event_time)
                and (q.lt_event_time is None or head["event_time"] < q.lt_event_time)
                and (q.ge_record_time is None or head["record_time"] >= q.ge_record_time)
                and (q.lt_record_time is None or head["record_time"] < q.lt_record_time))

    def _find_by_epc(self, txn, q, after: bytes | None, limit):
        start = int.from_bytes(after, "big") + 1 if after else 0
        roles = {_ROLE[r][0] for r in q.epc_roles} if q.epc_roles else None
        wanted = {e: text_key(e) for e in q.epcs}

        def seqs(key):
            cur = txn.cursor(db=self.epcs)
            if cur.set_range_dup(key, u64(start)) if start else cur.set_key(key):
                for v in cur.iternext_dup():
                    if roles is None or v[8] in roles:
                        yield v[:8]

        out, scanned = [], 0
        for at in _unique(heapq.merge(*(seqs(k) for k in set(wanted.values())))):
            scanned += 1
            seq = int.from_bytes(at, "big")
            head = _loads(txn.get(b"E" + at + b"h", db=self.main))
            if self._matches(head, q):
                rec = self._record(txn, seq, head)
                if self._names(rec, wanted, q.epc_roles):   # a digest's key: the text decides
                    out.append(rec)
            if len(out) == limit or scanned >= MAX_SCAN:
                return out, "e" + at.hex()
        return out, None

    @staticmethod
    def _names(rec: EpcisRecord, wanted: dict, roles) -> bool:
        if all(len(k) <= KEY_BYTES and not k.startswith(b"\x00#") for k in wanted.values()):
            return True
        texts = set(wanted)
        return any(texts.intersection(v) for r, v in rec.epcs.items() if not roles or r in roles)

    def _find_by_time(self, txn, q, after: bytes | None, limit):
        lo = _ms_key(q.ge_event_time, 0) + u64(0)
        hi = _ms_key(q.lt_event_time, (1 << 64) - 1) if q.lt_event_time is not None else None
        cur = txn.cursor(db=self.times)
        if after is not None:
            lo = max(lo, after)
        found = cur.set_range(lo)
        if found and after is not None and cur.key() == after:
            found = cur.next()
        out, scanned = [], 0
        while found:
            key = cur.key()
            if hi is not None and key[:8] >= hi:
                break
            scanned += 1
            at = key[8:]
            head = _loads(txn.get(b"E" + at + b"h", db=self.main))
            if self._matches(head, q):
                out.append(self._record(txn, int.from_bytes(at, "big"), head))
            if len(out) == limit or scanned >= MAX_SCAN:
                return out, ("t" + bytes(key).hex()) if cur.next() else None
            found = cur.next()
        return out, None


def _unique(sorted_items):
    prev = None
    for x in sorted_items:
        if x != prev:
            yield x
            prev = x


def _token(after: str | None, kind: str, size: int) -> bytes | None:
    """The index key a page token names; ValueError for one this query did not give."""
    if after is None or after == "":
        return None
    try:
        raw = bytes.fromhex(after[1:]) if isinstance(after, str) and after[:1] == kind else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise ValueError(f"{str(after)[:40]!r} is not a page token of this query")
    return raw
