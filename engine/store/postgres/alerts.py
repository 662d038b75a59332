"""The analytics' alerts on PostgreSQL (store/port.py: alerts_put, alerts_find, alert_close),
the twin of store/lmdb/alerts.py: one row per alert id with its JSON and the columns a find
filters and orders on. Storing a finding again updates it (last time, evidence, severity),
keeps its status, who closed it and why, and its earlier first time; never a second row."""
from __future__ import annotations

import json
import time

from .sqltx import reading, run_write

TABLES = ("tc_alerts",)
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tc_alerts (
        id text COLLATE "C" PRIMARY KEY, alert bytea NOT NULL, rule text, code text, subject text,
        status text, last_time text COLLATE "C")""",
    "CREATE INDEX IF NOT EXISTS tc_alerts_code ON tc_alerts (code)",
]
_KEEP = ("status", "closed_by", "closed_at", "note", "created_at")


def _enc(alert: dict) -> bytes:
    return json.dumps(alert, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _text(value):
    return None if value is None else str(value)


def _upsert(conn, row: dict) -> None:
    conn.execute("INSERT INTO tc_alerts VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                 "alert = excluded.alert, rule = excluded.rule, code = excluded.code, "
                 "subject = excluded.subject, status = excluded.status, last_time = excluded.last_time",
                 [row["id"], _enc(row), _text(row.get("rule")), _text(row.get("code")), _text(row.get("subject")),
                  _text(row.get("status")), _text(row.get("last_time")) or ""])


def _bump(conn) -> None:
    """alerts_version moves: the core's named counter (tc_seq), in the write's transaction."""
    conn.execute("INSERT INTO tc_seq AS s (name, next) VALUES ('alerts', 2) ON CONFLICT (name) "
                 "DO UPDATE SET next = s.next + 1")


class AlertsMixin:
    def alerts_version(self) -> int:
        """A number every alerts_put and alert_close moves (tracecode.app.alertfeed rereads then)."""
        with reading(self) as conn:
            row = conn.execute("SELECT next FROM tc_seq WHERE name = 'alerts'").fetchone()
        return row[0] if row else 1

    def alerts_put(self, alerts: list) -> list[bool]:
        for a in alerts:
            if not isinstance(a, dict) or not isinstance(a.get("id"), str) or not a["id"]:
                raise ValueError("an alert is a dict with a non-empty id")
        if not alerts:
            return []
        now = time.time()

        def body(conn):
            ids = [a["id"] for a in alerts]
            old = {i: json.loads(bytes(v)) for i, v in conn.execute(
                "SELECT id, alert FROM tc_alerts WHERE id = ANY(%s) FOR UPDATE", [ids])}
            fresh = []
            for a in alerts:
                prev, row = old.get(a["id"]), dict(a)
                if prev is None:
                    row.setdefault("status", "open")
                    row["created_at"] = now
                else:
                    row.update({k: prev[k] for k in _KEEP if k in prev})
                    if prev.get("first_time") and row.get("first_time"):
                        row["first_time"] = min(prev["first_time"], row["first_time"])
                _upsert(conn, row)
                fresh.append(prev is None)
                old[a["id"]] = row   # the same id twice in one call: the second updates the first
            _bump(conn)
            return fresh
        return run_write(self, body)

    def alerts_find(self, rule=None, code=None, open_only=False, subject=None, limit=1000) -> list:
        conds, params = [], []
        for column, value in (("rule", rule), ("code", code), ("subject", subject)):
            if value is not None:
                conds.append(f"{column} = %s")
                params.append(value)
        if open_only:
            conds.append("status = 'open'")
        with reading(self) as conn:
            rows = conn.execute(f"SELECT alert FROM tc_alerts{' WHERE ' + ' AND '.join(conds) if conds else ''} "
                                "ORDER BY last_time DESC, id DESC LIMIT %s", params + [int(limit)]).fetchall()
        return [json.loads(bytes(r)) for (r,) in rows]

    def alert_close(self, alert_id: str, by: str, note: str = "") -> bool:
        def body(conn):
            row = conn.execute("SELECT alert FROM tc_alerts WHERE id = %s FOR UPDATE", [alert_id]).fetchone()
            if row is None:
                return False
            a = json.loads(bytes(row[0]))
            if a.get("status") != "open":
                return False
            a.update(status="closed", closed_by=by, closed_at=time.time(), note=note)
            _upsert(conn, a)
            _bump(conn)
            return True
        return run_write(self, body)


Part = AlertsMixin   # the store methods PgStore mixes in (connection.py's contract)
