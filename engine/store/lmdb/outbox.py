"""EPCIS subscriptions and their outbox (store/port.py: epcis_since, epcis_last_seq,
subscription_*, lease) in one LMDB database beside the EPCIS events:

    epcis_subscriptions   b"S" id   -> subscription JSON     what the subscriber asked for
                          b"B" id   -> delivery state JSON   bookmark, generation, retries
                          b"L" name -> lease JSON            who delivers, until when

The outbox is the EPCIS event log itself: every stored event has a seq assigned inside its
write transaction (epcis.py: LMDB has one writer, so seq order is commit order), and a
subscription's bookmark is the last seq delivered. Nothing is copied per subscription, so a
receiver that is down for a week costs one bookmark, and moving the bookmark back re-delivers
from any earlier point. The state's generation changes with every rewind or redefinition:
a delivery that began before it cannot move the bookmark (subscription_progress).
"""
from __future__ import annotations

import json
import time

from ..port import LoggedEvent
from .batches import u64
from .env import IndexReadOnly, open_db

MAX_SINCE_SCAN = 20_000   # events one epcis_since reads at most (a bounded read transaction)
STATE_FIELDS = ("bookmark", "attempts", "next_try", "last_error", "last_notified", "delivered")


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _loads(raw) -> dict:
    return json.loads(bytes(raw).decode("utf-8", "surrogatepass"))


def _id_key(prefix: bytes, text) -> bytes:
    if not isinstance(text, str) or not text or len(text.encode("utf-8")) > 200 or "\x00" in text:
        raise ValueError(f"a subscription id or lease name is 1-200 bytes of text, got {str(text)[:40]!r}")
    return prefix + text.encode("utf-8")


_EVENT = b'{"event":'
_EPCS = b',"epcs":'


def split_body(body: bytes) -> tuple[bytes, bytes] | None:
    """(the event's JSON, its EPCs' JSON) of a body as epcis.py writes it ({"event": ...,
    "epcs": ...}, compact), without decoding the event; None for any other layout. The last
    ',"epcs":' is the top level's: inside a JSON string every quote is escaped, and the EPCs
    by role hold no key "epcs".

    >>> split_body(b'{"event":{"a":{"epcs":1}},"epcs":{"epc":["x"]}}')
    (b'{"a":{"epcs":1}}', b'{"epc":["x"]}')
    >>> split_body(b'{"epcs":{},"event":{}}') is None
    True
    """
    if not body.startswith(_EVENT) or not body.endswith(b"}"):
        return None
    i = body.rfind(_EPCS)
    if i < len(_EVENT):
        return None
    return body[len(_EVENT):i], body[i + len(_EPCS):-1]


def _fresh_state(bookmark: int, generation: int) -> dict:
    return {"bookmark": int(bookmark), "generation": generation, "attempts": 0, "next_try": 0.0,
            "last_error": None, "last_notified": None, "delivered": 0}


class OutboxTables:
    """The subscriptions database of one environment, and the event log read in seq order
    through the EPCIS tables (a read-only index from before subscriptions reads none)."""

    def __init__(self, env, events):
        self.env = env
        self.events = events   # EpcisTables: E seq h/b, N
        try:
            self.db = open_db(env, b"epcis_subscriptions")
        except IndexReadOnly:
            self.db = None

    def _writable(self):
        if self.db is None:
            raise IndexReadOnly("the index is read-only: no subscription can be stored")
        return self.db

    # -- the event log in commit order -------------------------------------------------------
    def since(self, txn, query, after: int, limit: int, scan: int) -> tuple[list, int]:
        """(at most limit records with seq > after that match query, in seq order; the last
        seq read, so a bookmark moves past events that did not match). At most scan events
        are read per call; a body is decoded only for a head that matches."""
        matched, last = self._scan(txn, query, after, limit, scan, raw=False)
        return [rec for _, _, rec in matched], last

    def _scan(self, txn, query, after: int, limit: int, scan: int, raw: bool) -> tuple[list, int]:
        """([(seq, head, body bytes if raw else EpcisRecord)] matching query, the last seq read)."""
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError(f"a bookmark is a non-negative integer, got {after!r}")
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        main = self.events.main
        if main is None:
            return [], after
        wanted = set(query.epcs) if query is not None and query.epcs else None
        ids = set(query.event_ids) if query is not None and query.event_ids else None
        roles = set(query.epc_roles) if wanted and query.epc_roles else None
        cur = txn.cursor(db=main)
        out, last, scanned, body = [], after, 0, None
        found = cur.set_range(b"E" + u64(after + 1))
        while found and len(out) < limit and scanned < scan:
            key = cur.key()
            if key[:1] != b"E":
                break
            if key[9:] == b"b":   # each seq has a body (b) then its head (h): the head decides
                body = cur.value()
            elif key[9:] == b"h":
                seq = int.from_bytes(key[1:9], "big")
                head = _loads(cur.value())
                scanned += 1
                last = seq
                if query is None or ((ids is None or head["event_id"] in ids) and self.events._matches(head, query)):
                    rec = self.events._record(txn, seq, head) if not raw or wanted is not None else None
                    if wanted is None or any(wanted.intersection(v) for r, v in rec.epcs.items()
                                             if roles is None or r in roles):
                        out.append((seq, head, bytes(body) if raw else rec))
            found = cur.next()
        return out, last

    def log(self, txn, query, after: int, limit: int, scan: int, with_epcs: bool = True) -> tuple[list, int]:
        """since, with each event as its JSON (LoggedEvent): the bodies are not decoded, so a
        delivery costs what the bytes cost (a body not laid out as epcis.py writes it is);
        with_epcs=False: the EPCs are not read either (epcs {})."""
        from .epcis import _loads as _body_loads
        recs, last = [], after
        matched, last = self._scan(txn, query, after, limit, scan, raw=True)
        for seq, head, body in matched:
            parts = split_body(body)
            if parts is None:   # another layout: decoded and encoded again
                whole = _body_loads(body)
                event = json.dumps(whole["event"], ensure_ascii=False, separators=(",", ":")).encode(
                    "utf-8", "surrogatepass")
                epcs = whole["epcs"]
            else:
                event, epcs = parts[0], _loads(parts[1]) if with_epcs else {}
            recs.append(LoggedEvent(seq, head["event_id"], head.get("client"), event, epcs))
        return recs, last

    def last_seq(self, txn) -> int:
        main = self.events.main
        raw = None if main is None else txn.get(b"N", db=main)
        return int.from_bytes(raw, "big") - 1 if raw else 0

    # -- subscriptions ----------------------------------------------------------------------
    def put(self, txn, sub: dict, bookmark: int | None) -> dict:
        db = self._writable()
        if not isinstance(sub, dict) or not isinstance(sub.get("id"), str):
            raise ValueError("a subscription is a dict with an id (text)")
        key = _id_key(b"S", sub["id"])
        raw = txn.get(b"B" + key[1:], db=db)
        state = _loads(raw) if raw else None
        if state is None or bookmark is not None:
            gen = (state["generation"] + 1) if state else 1
            state = _fresh_state(self.last_seq(txn) if bookmark is None else bookmark, gen)
            txn.put(b"B" + key[1:], _dumps(state), db=db)
        txn.put(key, _dumps(sub), db=db)
        return {**sub, "state": state}

    def get(self, txn, sub_id: str) -> dict | None:
        if self.db is None:
            return None
        key = _id_key(b"S", sub_id)
        raw = txn.get(key, db=self.db)
        if raw is None:
            return None
        return {**_loads(raw), "state": _loads(txn.get(b"B" + key[1:], db=self.db))}

    def all(self, txn) -> list:
        if self.db is None:
            return []
        cur = txn.cursor(db=self.db)
        out = []
        found = cur.set_range(b"S")
        while found and cur.key()[:1] == b"S":
            out.append({**_loads(cur.value()),
                        "state": _loads(txn.get(b"B" + bytes(cur.key())[1:], db=self.db))})
            found = cur.next()
        return out

    def delete(self, txn, sub_id: str) -> bool:
        db = self._writable()
        key = _id_key(b"S", sub_id)
        if txn.get(key, db=db) is None:
            return False
        txn.delete(key, db=db)
        txn.delete(b"B" + key[1:], db=db)
        return True

    def rewind(self, txn, sub_id: str, bookmark: int) -> dict | None:
        db = self._writable()
        if not isinstance(bookmark, int) or bookmark < 0:
            raise ValueError(f"a bookmark is a non-negative integer, got {bookmark!r}")
        key = b"B" + _id_key(b"S", sub_id)[1:]
        raw = txn.get(key, db=db)
        if raw is None:
            return None
        old = _loads(raw)
        state = {**_fresh_state(bookmark, old["generation"] + 1), "last_notified": old["last_notified"],
                 "delivered": old["delivered"]}
        txn.put(key, _dumps(state), db=db)
        return state

    def progress(self, txn, sub_id: str, generation: int, changes: dict, lease=None) -> bool:
        db = self._writable()
        if lease is not None:   # fenced: in the same transaction as the write
            held = txn.get(_id_key(b"L", lease[0]), db=db)
            held = None if held is None else _loads(held)
            if held is None or held["holder"] != lease[1] or held["until"] <= time.time():
                return False
        key = b"B" + _id_key(b"S", sub_id)[1:]
        raw = txn.get(key, db=db)
        if raw is None:
            return False
        state = _loads(raw)
        if state["generation"] != generation:
            return False
        unknown = set(changes) - set(STATE_FIELDS)
        if unknown:
            raise ValueError(f"subscription_progress sets {', '.join(STATE_FIELDS)}, not {sorted(unknown)}")
        state.update(changes)
        txn.put(key, _dumps(state), db=db)
        return True

    # -- the delivery lease -----------------------------------------------------------------
    def lease(self, txn, name: str, holder: str, ttl: float, now: float | None = None) -> bool:
        db = self._writable()
        if not isinstance(holder, str) or not holder:
            raise ValueError("a lease holder is non-empty text")
        if not ttl > 0:
            raise ValueError(f"a lease lasts a positive number of seconds, got {ttl!r}")
        now = time.time() if now is None else now
        key = _id_key(b"L", name)
        raw = txn.get(key, db=db)
        if raw is not None:
            held = _loads(raw)
            if held["holder"] != holder and held["until"] > now:
                return False
        txn.put(key, _dumps({"holder": holder, "until": now + ttl}), db=db)
        return True

    def release(self, txn, name: str, holder: str) -> None:
        db = self._writable()
        key = _id_key(b"L", name)
        raw = txn.get(key, db=db)
        if raw is not None and _loads(raw)["holder"] == holder:
            txn.delete(key, db=db)
