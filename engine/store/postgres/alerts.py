"""The analytics' alerts on PostgreSQL (store/port.py: alerts_put, alerts_find, alert_close),
the twin of store/lmdb/alerts.py: one row per alert id with its JSON and the columns a find
filters and orders on. Storing a finding again updates it (last time, evidence, severity),
keeps its status, who closed it and why, and its earlier first time (store/alert_merge.py:
a closed alert with new evidence opens again); never a second row."""
from __future__ import annotations

import json
import time

from ..alert_merge import merged
from .sqltx import reading, run_write

TABLES = ("tc_alerts",)
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tc_alerts (
        id text COLLATE "C" PRIMARY KEY, alert bytea NOT NULL, rule text, code text, subject text,
        status text, last_time text COLLATE "C")""",
    "CREATE INDEX IF NOT EXISTS tc_alerts_code ON tc_alerts (code)",
    # the alert feed's read: the open coded alerts of a few rules
    "CREATE INDEX IF NOT EXISTS tc_alerts_open ON tc_alerts (rule, code) WHERE status = 'open'",
]


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
                prev = old.get(a["id"])
                row = merged(prev, a, now)
                _upsert(conn, row)
                fresh.append(prev is None)
                old[a["id"]] = row   # the same id twice in one call: the second updates the first
            _bump(conn)
            return fresh
        return run_write(self, body)

    def alerts_find(self, rule=None, code=None, open_only=False, subject=None, limit=1000, after=None,
                    region=None, since=None, products=None) -> list:
        conds, params = [], []
        for column, value in (("rule", rule), ("code", code), ("subject", subject)):
            if value is not None:
                conds.append(f"{column} = %s")
                params.append(value)
        if open_only:
            conds.append("status = 'open'")
        if since is not None:
            conds.append("last_time >= %s")
            params.append(since)
        # region and product are in the alert's JSON only (no column of their own): read there,
        # in the query, so the newest-first LIMIT applies to what matches
        if region is not None:
            conds.append("starts_with(coalesce(convert_from(alert, 'UTF8')::jsonb ->> 'region', ''), %s)")
            params.append(region)
        if products is not None:
            conds.append("convert_from(alert, 'UTF8')::jsonb ->> 'product' = ANY(%s)")
            params.append(list(products))
        if after is not None:   # a page: those after (last_time, id) in the order below
            conds.append("(last_time, id) < (%s, %s)")
            params += [after[0] or "", after[1]]
        with reading(self) as conn:
            rows = conn.execute(f"SELECT alert FROM tc_alerts{' WHERE ' + ' AND '.join(conds) if conds else ''} "
                                "ORDER BY last_time DESC, id DESC LIMIT %s", params + [int(limit)]).fetchall()
        return [json.loads(bytes(r)) for (r,) in rows]

    def alerts_open_codes(self, rules) -> list[tuple[str, str, str]]:
        """(code, rule, alert id) of the open alerts of these rules that name a code."""
        with reading(self) as conn:
            return [tuple(r) for r in conn.execute(
                "SELECT code, rule, id FROM tc_alerts WHERE status = 'open' AND rule = ANY(%s) "
                "AND code IS NOT NULL ORDER BY last_time DESC, id DESC", [list(rules)]).fetchall()]

    def alert_close(self, alert_id: str, by: str, note: str = "") -> bool:
        def body(conn):
            row = conn.execute("SELECT alert FROM tc_alerts WHERE id = %s FOR UPDATE", [alert_id]).fetchone()
            if row is None:
                return False
            a = json.loads(bytes(row[0]))
            if a.get("status") != "open":
                return False
            a.update(status="closed", closed_by=by, closed_at=time.time(), note=note,
                     closed_last_time=a.get("last_time"))
            _upsert(conn, a)
            _bump(conn)
            return True
        return run_write(self, body)


Part = AlertsMixin   # the store methods PgStore mixes in (connection.py's contract)
