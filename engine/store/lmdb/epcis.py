"""EPCIS events and capture jobs (store/port.py: epcis_put, epcis_events, epcis_find,
capture_job_put, capture_job_get) in three LMDB databases:

    epcis        b"E" seq u64 b"h" -> head JSON      what a query filters on (small)
                 b"E" seq u64 b"b" -> body JSON      the event as captured, its EPCs by role
                 b"I" event id     -> seq u64        an id seen again is not stored again
                 b"J" job id       -> job JSON       capture jobs, replaced whole
                 b"K" client + NUL + created + job id -> b""   a client's jobs, by time
                 b"Q" owner + NUL + name -> definition JSON    named queries
                 b"N"              -> next seq u64
                 b"F"              -> the facets backfill's progress (EpcisTables._backfill_facets)
    epcis_epcs   EPC -> seq u64 + role byte (dupsort)   "events of one EPC", in capture order
                 (and the ids of bizTransactions, sources, destinations: port.REF_ROLES)
    epcis_times  eventTime ms (biased u64) + seq u64 -> b""   "events in a time range"
    epcis_recorded  recordTime ms (biased u64) + seq u64 -> b""   "events captured since"

A head holds the fields every query parameter tests (type, bizStep, disposition, readPoint,
bizLocation, times) so a filter never decodes a body: a 100,000-EPC ObjectEvent is read
whole only when it is returned. Keys longer than LMDB takes (an id or EPC over KEY_BYTES)
are kept under their BLAKE2b digest; the head or body says the text itself.
"""
from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import replace
from decimal import Decimal

from ...epcis.facets import comparable
from ..port import EPC_ROLES, ORDER_BY, REF_ROLES, EpcisQuery, EpcisRecord
from .batches import u64
from .env import IndexReadOnly, open_db

KEY_BYTES = 400         # LMDB keys stop at 511 bytes: longer ids and EPCs are digested
MAX_SCAN = 200_000      # index entries one find reads at most; then it answers a page token
_BIAS = 1 << 63         # eventTime in ms, signed, ordered as unsigned bytes
_ROLE = {r: bytes([i]) for i, r in enumerate(EPC_ROLES + REF_ROLES)}
_ROLE_OF = {v[0]: r for r, v in _ROLE.items()}
_HEAD = ("event_id", "event_time", "time_offset", "record_time", "type", "biz_step",
         "disposition", "read_point", "biz_location", "client", "action", "refs", "declared", "facets")
NAME_BYTES = 256        # of a named query's name (and of its owner)
NEXT = b"N"
FACETS_MARK = b"F"      # the seq the facets backfill reached (b"S" + u64), FACETS_DONE when it is over
FACETS_DONE = b"done3"  # every event has the facets of facets.VERSION (b"done": of version 1)
FACETS_CHUNK = 5_000    # events given their facets per write transaction
_NO_FILTER = EpcisQuery()


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
        try:   # after the others: a read-only index from before it has the three above
            self.recorded = open_db(env, b"epcis_recorded")
        except IndexReadOnly:
            self.recorded = None
        else:
            self._index_record_times()
        self._backfill_facets()

    def _backfill_facets(self) -> None:
        """Events stored before facets (heads without "facets"), or before this version's
        facets (the sensor and INNER_ ones: facets.VERSION), given theirs once: a chunk of
        FACETS_CHUNK events per write transaction with the seq reached (b"F" = b"S" + seq), so
        a kill -9 loses at most a chunk's work and the next open carries on; b"F" = FACETS_DONE
        after. (An older mark, a bare seq or b"done", starts over from the first event.) An
        event whose facets come out the same is not written. Only the event's own @context is
        known then (the document's was not kept): a field is found by its name as written and
        by GS1's prefixes, not by a document prefix's IRI."""
        if self.main is None or self.env.flags().get("readonly"):
            return
        with self.env.begin() as txn:
            mark, top = txn.get(FACETS_MARK, db=self.main), txn.get(NEXT, db=self.main)
        if mark == FACETS_DONE:
            return
        if top is None:   # a new index: nothing stored before facets
            with self.env.begin(write=True) as txn:
                txn.put(FACETS_MARK, FACETS_DONE, db=self.main)
            return
        from ...epcis.facets import facets_of   # the one definition of an event's facets
        seq = int.from_bytes(mark[1:], "big") if mark and mark[:1] == b"S" and len(mark) == 9 else 1
        end = int.from_bytes(top, "big")
        while True:
            with self.env.begin(write=True) as txn:
                stop = min(end, seq + FACETS_CHUNK)
                for n in range(seq, stop):
                    at = u64(n)
                    raw = txn.get(b"E" + at + b"h", db=self.main)
                    if raw is None:
                        continue
                    head = _loads(raw)
                    facets = facets_of(_loads(txn.get(b"E" + at + b"b", db=self.main)).get("event"))
                    if head.get("facets") != facets:
                        head["facets"] = facets
                        txn.put(b"E" + at + b"h", _dumps(head), db=self.main)
                seq = stop
                txn.put(FACETS_MARK, FACETS_DONE if seq >= end else b"S" + u64(seq), db=self.main)
            if seq >= end:
                return

    def _index_record_times(self) -> None:
        """Events stored before the recordTime index, indexed once (their heads say it)."""
        if self.main is None or self.env.flags().get("readonly"):
            return
        with self.env.begin() as txn:
            if txn.stat(self.recorded)["entries"] or txn.get(NEXT, db=self.main) is None:
                return
        with self.env.begin(write=True) as txn:
            cur = txn.cursor(db=self.main)
            rows = []
            found = cur.set_range(b"E")
            while found and cur.key()[:1] == b"E":
                key = cur.key()
                if key[-1:] == b"h":
                    rows.append((time_key(_loads(cur.value())["record_time"], int.from_bytes(key[1:9], "big")), b""))
                found = cur.next()
            txn.cursor(db=self.recorded).putmulti(rows)

    # -- writes (inside the caller's write transaction) ------------------------------------
    def put(self, txn, records) -> list[bool]:
        """Store the records whose event ids are new; which were."""
        if self.main is None:
            raise IndexReadOnly("the index is read-only: no EPCIS event can be stored")
        main = self.main
        raw = txn.get(NEXT, db=main)
        seq = int.from_bytes(raw, "big") if raw else 1
        out, epc_rows, time_rows, record_rows = [], [], [], []
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
            record_rows.append((time_key(rec.record_time, seq), b""))
            for role, epcs in rec.epcs.items():
                tag = _ROLE[role]   # KeyError: a role the port does not name
                epc_rows += [(text_key(e), at + tag) for e in epcs]
            for role, entries in rec.refs.items():
                if role not in REF_ROLES:
                    raise ValueError(f"{role!r} is not one of {REF_ROLES}")
                tag = _ROLE[role]
                epc_rows += [(text_key(i), at + tag) for i in dict.fromkeys(i for _, i in entries)]
            out.append(True)
            seq += 1
        if epc_rows:
            epc_rows.sort()   # key order: each page touched once
            txn.cursor(db=self.epcs).putmulti(epc_rows, dupdata=True)
        if time_rows:
            txn.cursor(db=self.times).putmulti(time_rows)
            if self.recorded is not None:
                txn.cursor(db=self.recorded).putmulti(record_rows)
        txn.put(NEXT, u64(seq), db=main)
        return out

    def put_job(self, txn, job: dict) -> None:
        if self.main is None:
            raise IndexReadOnly("the index is read-only: no capture job can be stored")
        if not isinstance(job, dict) or not isinstance(job.get("id"), str):
            raise ValueError("a capture job is a dict with an id (text)")
        txn.put(b"J" + text_key(job["id"]), _dumps(job), db=self.main)
        client, created = job.get("client"), job.get("created")
        if isinstance(client, str) and isinstance(created, str) and client and "\x00" not in client + created \
                and "\x00" not in job["id"]:   # listed by client, newest first (the same key when replaced)
            key = b"K" + client.encode("utf-8", "surrogatepass") + b"\x00" + created.encode() + b"\x00" + \
                job["id"].encode("utf-8", "surrogatepass")
            if len(key) <= 511:
                txn.put(key, b"", db=self.main)

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

    def count(self, txn, query: EpcisQuery, most: int) -> int:
        """How many events query selects, counted to most + 1 at most, from the heads alone
        (no event body decoded, unless an EPC key was digested: then its text decides)."""
        if not isinstance(most, int) or isinstance(most, bool) or most < 0:
            raise ValueError(f"most must be a whole number, got {most!r}")
        seen, token = 0, None
        while True:
            got, token = self.find(txn, query, token, most + 1 - seen, make=_counted)
            seen += len(got)
            if seen > most or token is None:
                return seen

    def find(self, txn, query: EpcisQuery, after: str | None, limit: int, make=None) -> tuple[list, str | None]:
        """(records, next token): the named events (event_ids); else by the EPC index when
        the query names EPCs or refs (capture order), else by the time index of order_by
        (eventTime unless recordTime); descending reverses either. make(txn, seq, head):
        what is answered per event (count's: no body read); the record by default."""
        make = make or self._record
        if not isinstance(query, EpcisQuery):
            raise ValueError(f"epcis_find takes an EpcisQuery, got {type(query).__name__}")
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        if query.order_by not in ORDER_BY:
            raise ValueError(f"order_by is one of {ORDER_BY}, not {query.order_by!r}")
        if self.main is None:
            return [], None
        if query.event_ids:
            seqs = self._seqs_of_ids(txn, query.event_ids)
            if query.epcs:   # the named events that also name one of the EPCs (in its roles)
                keyed = self._index_keys(query)
                seqs = [at for at in seqs if self._names_seq(txn, at, keyed)]
            return self._find_sorted(txn, query, seqs, after, limit, make)
        keyed = self._index_keys(query)
        if keyed is not None:
            if query.order_by or query.descending:   # sorted whole (one EPC's events: few)
                seqs = _unique(heapq.merge(*(self._seqs(txn, k, keyed[1], 0) for k in set(keyed[0].values()))))
                return self._find_sorted(txn, query, seqs, after, limit, make)
            return self._find_by_epc(txn, query, keyed, _token(after, "e", 8), limit, make)
        if query.order_by == "recordTime":
            if self.recorded is None:
                return [], None
            kind = "R" if query.descending else "r"
            return self._find_by_time(txn, query, self.recorded, query.ge_record_time, query.lt_record_time,
                                      kind, _token(after, kind, 16), limit, make)
        kind = "T" if query.descending else "t"
        return self._find_by_time(txn, query, self.times, query.ge_event_time, query.lt_event_time,
                                  kind, _token(after, kind, 16), limit, make)

    def _index_keys(self, q: EpcisQuery):
        """({text: key}, role bytes) of the EPC index entries a query reads, None for none."""
        if q.epcs:
            roles = q.epc_roles or EPC_ROLES
            return {e: text_key(e) for e in q.epcs}, {_ROLE[r][0] for r in roles}
        if q.refs:   # one role's ids narrow it; _matches checks the others and the types
            role, pairs = q.refs[0]
            return {i: text_key(i) for _, i in pairs}, {_ROLE[role][0]}
        return None

    def _matches(self, head: dict, q: EpcisQuery) -> bool:
        if not ((not q.event_types or head["type"] in q.event_types)
                and (not q.biz_steps or head["biz_step"] in q.biz_steps)
                and (not q.dispositions or head["disposition"] in q.dispositions)
                and (not q.read_points or head["read_point"] in q.read_points)
                and (not q.biz_locations or head["biz_location"] in q.biz_locations)
                and (not q.actions or head.get("action") in q.actions)
                and (q.declared is None or bool(head.get("declared")) == q.declared)
                and (q.ge_event_time is None or head["event_time"] >= q.ge_event_time)
                and (q.lt_event_time is None or head["event_time"] < q.lt_event_time)
                and (q.ge_record_time is None or head["record_time"] >= q.ge_record_time)
                and (q.lt_record_time is None or head["record_time"] < q.lt_record_time)):
            return False
        refs = head.get("refs") or {}
        for role, pairs in q.refs:
            wanted = set(pairs)
            if not any((t, i) in wanted or (None, i) in wanted for t, i in refs.get(role, ())):
                return False
        if q.fields or q.ranges or q.quantity or q.error_reasons or q.corrective_ids or q.within \
                or q.ge_declaration_time is not None or q.lt_declaration_time is not None:
            return facets_match(head.get("facets") or {}, q)
        return True

    def _seqs(self, txn, key: bytes, roles, start: int):
        """The seqs (u64 bytes, ascending) of key's index entries in roles, from start on."""
        cur = txn.cursor(db=self.epcs)
        if cur.set_range_dup(key, u64(start)) if start else cur.set_key(key):
            for v in cur.iternext_dup():
                if v[8] in roles:
                    yield v[:8]

    def _names_seq(self, txn, at: bytes, keyed) -> bool:
        """Whether the event at seq `at` has an EPC index entry of keyed's keys and roles."""
        wanted, roles = keyed
        cur = txn.cursor(db=self.epcs)
        for key in set(wanted.values()):
            if cur.set_range_dup(key, at):
                for v in cur.iternext_dup():
                    if v[:8] != at:
                        break
                    if v[8] in roles:
                        return True
        return False

    def _seqs_of_ids(self, txn, ids):
        found = {txn.get(b"I" + text_key(i), db=self.main) for i in ids}
        return sorted(bytes(at) for at in found if at is not None)

    def _find_by_epc(self, txn, q, keyed, after: bytes | None, limit, make):
        start = int.from_bytes(after, "big") + 1 if after else 0
        wanted, roles = keyed
        gens = [self._seqs(txn, k, roles, start) for k in set(wanted.values())]
        seqs = gens[0] if len(gens) == 1 else _unique(heapq.merge(*gens))
        # decided once per call, not per event: whether any filter is set, any key digested
        unfiltered = replace(q, epcs=(), epc_roles=(), order_by="", descending=False) == _NO_FILTER
        digested = not all(len(k) <= KEY_BYTES and not k.startswith(b"\x00#") for k in wanted.values())
        out, scanned = [], 0
        for at in seqs:
            scanned += 1
            seq = int.from_bytes(at, "big")
            head = _loads(txn.get(b"E" + at + b"h", db=self.main))
            if unfiltered or self._matches(head, q):
                if not digested:
                    out.append(make(txn, seq, head))
                # a digest's key: the text decides
                elif self._names(rec := self._record(txn, seq, head), wanted, q.epc_roles if q.epcs else None):
                    out.append(rec if make == self._record else make(txn, seq, head))
            if len(out) == limit or scanned >= MAX_SCAN:
                return out, "e" + at.hex()
        return out, None

    @staticmethod
    def _names(rec: EpcisRecord, wanted: dict, roles) -> bool:
        if all(len(k) <= KEY_BYTES and not k.startswith(b"\x00#") for k in wanted.values()):
            return True
        texts = set(wanted)
        if roles is None:   # refs: the head's ids, already matched by text (_matches)
            return True
        return any(texts.intersection(v) for r, v in rec.epcs.items() if not roles or r in roles)

    def _find_sorted(self, txn, q, seqs, after: str | None, limit, make):
        """A bounded set of seqs (ascending bytes), filtered and sorted by q's order; the token
        is the sort key of the last one answered."""
        field = {"eventTime": "event_time", "recordTime": "record_time"}.get(q.order_by)
        rows = []
        for n, at in enumerate(seqs):
            if n >= MAX_SCAN:
                raise ValueError(f"more than {MAX_SCAN:,} events name these: an ordered query needs fewer "
                                 "(narrow it, or leave orderBy and orderDirection out)")
            head = _loads(txn.get(b"E" + at + b"h", db=self.main))
            if self._matches(head, q):
                seq = int.from_bytes(at, "big")
                rows.append((time_key(head[field], seq) if field else at, seq, head))
        rows.sort(key=lambda r: r[0], reverse=q.descending)
        last = _token(after, "s", 16 if field else 8)
        if last is not None:
            rows = [r for r in rows if (r[0] < last if q.descending else r[0] > last)]
        page = rows[:limit]
        out = [make(txn, seq, head) for _, seq, head in page]
        return out, ("s" + bytes(page[-1][0]).hex()) if len(rows) > limit else None

    def _find_by_time(self, txn, q, db, ge: float | None, lt: float | None, kind: str,
                      after: bytes | None, limit, make):
        lo = _ms_key(ge, 0) + u64(0)
        hi = _ms_key(lt, (1 << 64) - 1) if lt is not None else None
        cur = txn.cursor(db=db)
        back = kind.isupper()
        if not back:
            if after is not None:
                lo = max(lo, after)
            found = cur.set_range(lo)
            if found and after is not None and cur.key() == after:
                found = cur.next()
        elif after is not None:
            found = cur.set_range(after)
            found = cur.prev() if found else cur.last()
        elif hi is None:
            found = cur.last()
        else:   # the last key before hi
            found = cur.prev() if cur.set_range(hi + u64(0)) else cur.last()
        step = cur.prev if back else cur.next
        out, scanned = [], 0
        while found:
            key = cur.key()
            if (key < lo) if back else (hi is not None and key[:8] >= hi):
                break
            scanned += 1
            at = key[8:]
            head = _loads(txn.get(b"E" + at + b"h", db=self.main))
            if self._matches(head, q):
                out.append(make(txn, int.from_bytes(at, "big"), head))
            if len(out) == limit or scanned >= MAX_SCAN:
                token = kind + bytes(key).hex()
                return out, token if step() and ((cur.key() >= lo) if back else
                                                 (hi is None or cur.key()[:8] < hi)) else None
            found = step()
        return out, None

    # -- a client's capture jobs, named queries --------------------------------------------
    def jobs(self, txn, client: str, after: str | None, limit: int) -> tuple[list, str | None]:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        if self.main is None:
            return [], None
        if not isinstance(client, str) or not client:
            raise ValueError("capture_jobs needs a client name")
        prefix = b"K" + client.encode("utf-8", "surrogatepass") + b"\x00"
        cur = txn.cursor(db=self.main)
        last = _token(after, "j", None)
        found = cur.set_range(last) if last else cur.set_range(prefix + b"\xff")
        found = cur.prev() if found else cur.last()
        out = []
        while found and cur.key().startswith(prefix):
            job = self.job(txn, bytes(cur.key()[len(prefix):]).decode("utf-8", "surrogatepass").rpartition("\x00")[2])
            if job is not None:
                out.append(job)
            if len(out) == limit:
                key = bytes(cur.key())
                more = cur.prev() and cur.key().startswith(prefix)
                return out, ("j" + key.hex()) if more else None
            found = cur.prev()
        return out, None

    def query_put(self, txn, owner: str, name: str, definition: dict) -> bool:
        if self.main is None:
            raise IndexReadOnly("the index is read-only: no named query can be stored")
        if not isinstance(definition, dict):
            raise ValueError("a named query's definition is a dict")
        key = _query_key(owner, name)
        if txn.get(key, db=self.main) is not None:
            return False
        txn.put(key, _dumps(definition), db=self.main)
        return True

    def query_get(self, txn, owner: str, name: str) -> dict | None:
        if self.main is None:
            return None
        raw = txn.get(_query_key(owner, name), db=self.main)
        return None if raw is None else _loads(raw)

    def query_delete(self, txn, owner: str, name: str) -> bool:
        if self.main is None:
            raise IndexReadOnly("the index is read-only: no named query can be deleted")
        return txn.delete(_query_key(owner, name), db=self.main)

    def queries(self, txn, owner: str | None, after: str | None, limit: int) -> tuple[list, str | None]:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        if self.main is None:
            return [], None
        prefix = b"Q" + (_name_key(owner, "owner") + b"\x00" if owner is not None else b"")
        cur = txn.cursor(db=self.main)
        last = _token(after, "q", None)
        found = cur.set_range(last) if last else cur.set_range(prefix)
        if found and last and cur.key() == last:
            found = cur.next()
        out = []
        while found and cur.key().startswith(prefix):
            who, _, name = bytes(cur.key()[1:]).decode().partition("\x00")
            out.append((who, name, _loads(cur.value())))
            if len(out) == limit:
                key = bytes(cur.key())
                more = cur.next() and cur.key().startswith(prefix)
                return out, ("q" + key.hex()) if more else None
            found = cur.next()
        return out, None


_COMPARE = {"EQ": lambda f, v: v in f.get("q", ()), "GT": lambda f, v: "qmax" in f and f["qmax"] > v,
            "GE": lambda f, v: "qmax" in f and f["qmax"] >= v, "LT": lambda f, v: "qmin" in f and f["qmin"] < v,
            "LE": lambda f, v: "qmin" in f and f["qmin"] <= v}


_ORDER = {"GT": lambda x, v: x > v, "GE": lambda x, v: x >= v, "LT": lambda x, v: x < v, "LE": lambda x, v: x <= v}


def facets_match(f: dict, q: EpcisQuery) -> bool:
    """Whether an event's facets (EpcisRecord.facets) hold every facet filter of q; the
    PostgreSQL store's SQL (postgres/epcis.py where) says the same."""
    for kind, name, texts in q.fields:
        found = (f.get(kind) or {}).get(name)
        if found is None or (texts and not set(texts).intersection(found)):
            return False
    for op, value in q.quantity:
        if not _COMPARE[op](f, value):
            return False
    for kind, name, op, as_, value in q.ranges:
        bound = Decimal(value) if as_ == "n" else value
        if not any(x is not None and _ORDER[op](x, bound)
                   for x in (comparable(t, as_) for t in (f.get(kind) or {}).get(name) or ())):
            return False
    err = f.get("err")
    if q.error_reasons or q.corrective_ids or q.ge_declaration_time is not None or q.lt_declaration_time is not None:
        if err is None:
            return False
        t = err.get("t")
        if q.error_reasons and err.get("r") not in q.error_reasons:
            return False
        if q.corrective_ids and not set(q.corrective_ids).intersection(err.get("c") or ()):
            return False
        if q.ge_declaration_time is not None and (t is None or t < q.ge_declaration_time):
            return False
        if q.lt_declaration_time is not None and (t is None or t >= q.lt_declaration_time):
            return False
    return all(f.get(short) in glns for short, glns in q.within)


def _name_key(text, what: str) -> bytes:
    if not isinstance(text, str) or not text or "\x00" in text:
        raise ValueError(f"a named query's {what} must be non-empty text without NUL")
    raw = text.encode("utf-8")
    if len(raw) > NAME_BYTES:
        raise ValueError(f"a named query's {what} is over {NAME_BYTES} bytes of UTF-8")
    return raw


def _query_key(owner: str, name: str) -> bytes:
    return b"Q" + _name_key(owner, "owner") + b"\x00" + _name_key(name, "name")


def _counted(txn, seq: int, head: dict) -> int:
    return seq   # EpcisTables.count: the event counted, its body not read


def _unique(sorted_items):
    prev = None
    for x in sorted_items:
        if x != prev:
            yield x
            prev = x


def _token(after: str | None, kind: str, size: int | None) -> bytes | None:
    """The index key a page token names; ValueError for one this query did not give."""
    if after is None or after == "":
        return None
    try:
        raw = bytes.fromhex(after[1:]) if isinstance(after, str) and after[:1] == kind else b""
    except ValueError:
        raw = b""
    if (len(raw) != size) if size is not None else not raw:
        raise ValueError(f"{str(after)[:40]!r} is not a page token of this query")
    return raw
