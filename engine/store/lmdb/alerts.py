"""The analytics' alerts (tracecode.analytics.alerts) in their own LMDB database:

    alerts       alert id (20 hex) -> JSON of the alert

An alert's id is stable (rule, subject, window), so storing the same finding again updates
it — its last time, evidence and severity; its first time the earlier — and never adds a
second one; a closed alert stays closed (who closed it and why kept). Made on the first put,
as links are. Reads walk the table: alerts are findings (thousands), not scans.
"""
from __future__ import annotations

import json
import time

from .env import run_write
from .ondemand import OnDemandTable

NAME = b"alerts"
VERSION = b"\x00version"   # bumped by every write: a reader rereads only after a change
_KEEP = ("status", "closed_by", "closed_at", "note", "created_at")


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
            fresh = []
            for a in alerts:
                key = a["id"].encode()
                old = txn.get(key, db=db)
                row = dict(a)
                if old is None:
                    row.setdefault("status", "open")
                    row["created_at"] = now
                else:
                    prev = json.loads(old)
                    row.update({k: prev[k] for k in _KEEP if k in prev})
                    if prev.get("first_time") and row.get("first_time"):
                        row["first_time"] = min(prev["first_time"], row["first_time"])
                txn.put(key, _enc(row), db=db)
                fresh.append(old is None)
            _bump(txn, db)
            return fresh
        return run_write(self.env, body)

    def find(self, rule=None, code=None, open_only=False, subject=None, limit=1000) -> list:
        db = self._existing()
        if db is None:
            return []
        out = []
        with self.env.begin(db=db) as txn:
            for k, v in txn.cursor():
                if k == VERSION:
                    continue
                a = json.loads(v)
                if ((rule is None or a.get("rule") == rule)
                        and (code is None or a.get("code") == code)
                        and (subject is None or a.get("subject") == subject)
                        and (not open_only or a.get("status") == "open")):
                    out.append(a)
        out.sort(key=lambda a: (a.get("last_time") or "", a["id"]), reverse=True)
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
            a.update(status="closed", closed_by=by, closed_at=time.time(), note=note)
            txn.put(key, _enc(a), db=db)
            _bump(txn, db)
            return True
        return run_write(self.env, body)

    def version(self) -> int:
        """How many writes the table has had (0: none)."""
        db = self._existing()
        if db is None:
            return 0
        with self.env.begin(db=db) as txn:
            raw = txn.get(VERSION)
        return int(raw) if raw else 0


def _bump(txn, db) -> None:
    raw = txn.get(VERSION, db=db)
    txn.put(VERSION, str(int(raw or 0) + 1).encode(), db=db)
