"""The analytics' alerts (tracecode.analytics.alerts) in their own LMDB database:

    alerts       alert id (20 hex) -> JSON of the alert

An alert's id is stable (rule, subject, window), so storing the same finding again updates
it — its last time, evidence and severity; its first time the earlier — and never adds a
second one; a closed alert stays closed (who closed it and why kept) unless the finding
comes back with new evidence (a later last_time than when it was closed): then it is open
again (store/alert_merge.py), so new diversion is raised again and fed back into verification.
Made on the first put, as links are. Reads walk the table: alerts are findings
(thousands), not scans; the feed's read (open_codes) walks only an index of the open
coded alerts kept beside them:

    \x01o RULE \x1f ID -> code     (an open alert with a code; gone when closed)
"""
from __future__ import annotations

import json
import time

from ..alert_merge import merged
from .env import run_write
from .ondemand import OnDemandTable

NAME = b"alerts"
VERSION = b"\x00version"   # bumped by every write: a reader rereads only after a change
OPEN_INDEXED = b"\x00open-indexed"   # the open-codes index below is complete (built once)
OPEN = b"\x01o"


def _open_key(a: dict) -> bytes:
    return OPEN + a["rule"].encode() + b"\x1f" + a["id"].encode()


def _index(txn, db, old: dict | None, row: dict) -> None:
    """Keep the open-codes index entry of one alert in step with its status."""
    for a in (old, row):
        if a is not None and a.get("code") and a.get("rule"):
            txn.delete(_open_key(a), db=db)
    if row.get("status") == "open" and row.get("code") and row.get("rule"):
        txn.put(_open_key(row), row["code"].encode(), db=db)


def _enc(alert: dict) -> bytes:
    return json.dumps(alert, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class AlertsTable(OnDemandTable):
    NAME = NAME

    def put(self, alerts: list) -> list[bool]:
        """Store alerts in one write; True for each that is new."""
        for a in alerts:
            if not isinstance(a, dict) or not isinstance(a.get("id"), str) or not a["id"]:
                raise ValueError("an alert is a dict with a non-empty id")
        if not alerts:
            return []
        db, now = self._made(), time.time()

        def body(txn):
            _ensure_index(txn, db)
            fresh = []
            for a in alerts:
                key = a["id"].encode()
                old = txn.get(key, db=db)
                prev = None if old is None else json.loads(old)
                row = merged(prev, a, now)
                txn.put(key, _enc(row), db=db)
                _index(txn, db, prev, row)
                fresh.append(old is None)
            _bump(txn, db)
            return fresh
        return run_write(self.env, body)

    def find(self, rule=None, code=None, open_only=False, subject=None, limit=1000, after=None,
             region=None, since=None, products=None) -> list:
        db = self._existing()
        if db is None:
            return []
        out = []
        wanted = None if products is None else set(products)
        with self.env.begin(db=db) as txn:
            for k, v in txn.cursor():
                if k[:1] in (b"\x00", b"\x01"):
                    continue   # the version and the open-codes index
                a = json.loads(v)
                if ((rule is None or a.get("rule") == rule)
                        and (code is None or a.get("code") == code)
                        and (subject is None or a.get("subject") == subject)
                        and (not open_only or a.get("status") == "open")
                        and (region is None or (a.get("region") or "").startswith(region))
                        and (since is None or (a.get("last_time") or "") >= since)
                        and (wanted is None or a.get("product") in wanted)):
                    out.append(a)
        out.sort(key=lambda a: (a.get("last_time") or "", a["id"]), reverse=True)
        if after is not None:   # a page: those after (last_time, id) in this order
            key = (after[0] or "", after[1])
            out = [a for a in out if (a.get("last_time") or "", a["id"]) < key]
        return out[:limit]

    def close(self, alert_id: str, by: str, note: str = "") -> bool:
        """Close an open alert; False if there is none by that id or it is closed."""
        db, key = self._existing(), alert_id.encode()
        if db is None:
            return False

        def body(txn):
            raw = txn.get(key, db=db)
            if raw is None:
                return False
            a = json.loads(raw)
            if a.get("status") != "open":
                return False
            _ensure_index(txn, db)
            prev = dict(a)
            a.update(status="closed", closed_by=by, closed_at=time.time(), note=note,
                     closed_last_time=a.get("last_time"))
            txn.put(key, _enc(a), db=db)
            _index(txn, db, prev, a)
            _bump(txn, db)
            return True
        return run_write(self.env, body)

    def open_codes(self, rules) -> list[tuple[str, str, str]]:
        """(code, rule, alert id) of every open alert of these rules that names a code: one
        range read per rule of the open-codes index, no alert decoded."""
        db = self._existing()
        if db is None:
            return []
        with self.env.begin(db=db) as txn:
            indexed = txn.get(OPEN_INDEXED) is not None
        if not indexed:   # a table written before the index: build it once
            run_write(self.env, lambda txn: _ensure_index(txn, db))
        out = []
        with self.env.begin(db=db) as txn:
            cur = txn.cursor()
            for rule in rules:
                prefix = OPEN + rule.encode() + b"\x1f"
                if not cur.set_range(prefix):
                    continue
                for k, v in cur:
                    if not k.startswith(prefix):
                        break
                    out.append((v.decode(), rule, k[len(prefix):].decode()))
        return out

    def version(self) -> int:
        """How many writes the table has had (0: none)."""
        db = self._existing()
        if db is None:
            return 0
        with self.env.begin(db=db) as txn:
            raw = txn.get(VERSION)
        return int(raw) if raw else 0


def _ensure_index(txn, db) -> None:
    """Build the open-codes index from the alerts if this table has none yet."""
    if txn.get(OPEN_INDEXED, db=db) is not None:
        return
    for k, v in list(txn.cursor(db=db)):
        if k[:1] not in (b"\x00", b"\x01"):
            _index(txn, db, None, json.loads(v))
    txn.put(OPEN_INDEXED, b"1", db=db)


def _bump(txn, db) -> None:
    raw = txn.get(VERSION, db=db)
    txn.put(VERSION, str(int(raw or 0) + 1).encode(), db=db)
