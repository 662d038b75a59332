"""EPCIS subscriptions and their outbox on PostgreSQL (store/port.py: epcis_since, epcis_log,
epcis_last_seq, subscription_*), the twin of store/lmdb/outbox.py:

    tc_epcis_subscriptions   id -> the subscription JSON and its delivery state JSON

The outbox is the event log itself (epcis.py: tc_epcis_events by seq, seqs assigned under the
tc_epcis_seq row lock, so seq order is commit order and a snapshot sees a prefix of the log).
A subscription's bookmark is the last seq delivered; its state's generation changes with
every rewind or redefinition, and subscription_progress writes only for the generation it
names and, given a lease, only while that lease is its holder's (checked, FOR SHARE, in the
same transaction as the write: leases.py).
"""
from __future__ import annotations

from ..port import LoggedEvent
from .epcis import _RECORD_COLUMNS, dumps, loads, record_of, where
from .leases import held_sql, lease_name
from .sqltx import reading, writing

MAX_SINCE_SCAN = 20_000   # seqs one epcis_since reads at most (a bounded statement)
STATE_FIELDS = ("bookmark", "attempts", "next_try", "last_error", "last_notified", "delivered")
TABLES = ("tc_epcis_subscriptions",)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tc_epcis_subscriptions (
        id text COLLATE "C" PRIMARY KEY, sub bytea NOT NULL, state bytea NOT NULL)""",
]


def _fresh_state(bookmark: int, generation: int) -> dict:
    return {"bookmark": int(bookmark), "generation": generation, "attempts": 0, "next_try": 0.0,
            "last_error": None, "last_notified": None, "delivered": 0}


def _sub_id(text) -> str:
    return lease_name(text, "a subscription id")


def _check_bookmark(after, what="a bookmark"):
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise ValueError(f"{what} is a non-negative integer, got {after!r}")


def last_seq(conn) -> int:
    return conn.execute("SELECT coalesce(max(seq), 0) FROM tc_epcis_events").fetchone()[0]


def _scan(conn, query, after: int, limit: int, columns: str) -> tuple[list, int]:
    """(rows with seq > after matching query, in seq order, at most limit; the last seq read).
    One statement over at most MAX_SINCE_SCAN seqs, in the read's snapshot with the log's
    end, so the last seq read is a point every earlier commit is before."""
    _check_bookmark(after)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    conds, params = where(query)
    conds = ["e.seq > %s", "e.seq <= %s"] + conds
    rows = conn.execute(f"SELECT {columns} FROM tc_epcis_events e WHERE {' AND '.join(conds)} "
                        "ORDER BY e.seq LIMIT %s", [after, after + MAX_SINCE_SCAN] + params + [limit]).fetchall()
    if len(rows) == limit:
        return rows, rows[-1][0]
    return rows, max(after, min(after + MAX_SINCE_SCAN, last_seq(conn)))


class OutboxMixin:
    """The port's outbox and subscription verbs (PgStore composes it)."""

    def epcis_since(self, query, after: int, limit: int = 1000) -> tuple[list, int]:
        with reading(self) as conn:
            rows, last = _scan(conn, query, after, limit, _RECORD_COLUMNS)
        return [record_of(*r) for r in rows], last

    def epcis_log(self, query, after: int, limit: int = 1000, with_epcs: bool = True) -> tuple[list, int]:
        # the event JSON as stored, never decoded; the head only for its id and client
        columns = "e.seq, e.head, e.event_json" + (", e.epcs_json" if with_epcs else "")
        with reading(self) as conn:
            rows, last = _scan(conn, query, after, limit, columns)
        out = []
        for r in rows:
            head = loads(r[1])
            out.append(LoggedEvent(r[0], head["event_id"], head.get("client"), bytes(r[2]),
                                   loads(r[3]) if with_epcs else {}))
        return out, last

    def epcis_last_seq(self) -> int:
        with reading(self) as conn:
            return last_seq(conn)

    def subscription_put(self, sub: dict, bookmark: int | None = None) -> dict:
        if not isinstance(sub, dict) or not isinstance(sub.get("id"), str):
            raise ValueError("a subscription is a dict with an id (text)")
        sid = _sub_id(sub["id"])
        if bookmark is not None:
            _check_bookmark(bookmark)
        with writing(self) as conn:
            row = conn.execute("SELECT state FROM tc_epcis_subscriptions WHERE id = %s FOR UPDATE", [sid]).fetchone()
            state = loads(row[0]) if row else None
            if state is None or bookmark is not None:
                generation = state["generation"] + 1 if state else 1
                state = _fresh_state(last_seq(conn) if bookmark is None else bookmark, generation)
            conn.execute("INSERT INTO tc_epcis_subscriptions (id, sub, state) VALUES (%s, %s, %s) "
                         "ON CONFLICT (id) DO UPDATE SET sub = excluded.sub, state = excluded.state",
                         [sid, dumps(sub), dumps(state)])
        return {**sub, "state": state}

    def subscription_get(self, sub_id: str) -> dict | None:
        with reading(self) as conn:
            row = conn.execute("SELECT sub, state FROM tc_epcis_subscriptions WHERE id = %s",
                               [_sub_id(sub_id)]).fetchone()
        return None if row is None else {**loads(row[0]), "state": loads(row[1])}

    def subscriptions(self) -> list:
        with reading(self) as conn:
            rows = conn.execute("SELECT sub, state FROM tc_epcis_subscriptions ORDER BY id").fetchall()
        return [{**loads(s), "state": loads(t)} for s, t in rows]

    def subscription_delete(self, sub_id: str) -> bool:
        with writing(self) as conn:
            return conn.execute("DELETE FROM tc_epcis_subscriptions WHERE id = %s", [_sub_id(sub_id)]).rowcount > 0

    def subscription_rewind(self, sub_id: str, bookmark: int) -> dict | None:
        _check_bookmark(bookmark)
        with writing(self) as conn:
            row = conn.execute("SELECT state FROM tc_epcis_subscriptions WHERE id = %s FOR UPDATE",
                               [_sub_id(sub_id)]).fetchone()
            if row is None:
                return None
            old = loads(row[0])
            state = {**_fresh_state(bookmark, old["generation"] + 1), "last_notified": old["last_notified"],
                     "delivered": old["delivered"]}
            conn.execute("UPDATE tc_epcis_subscriptions SET state = %s WHERE id = %s", [dumps(state), sub_id])
        return state

    def subscription_progress(self, sub_id: str, generation: int, changes: dict,
                              lease: tuple[str, str] | None = None) -> bool:
        sid = _sub_id(sub_id)
        unknown = set(changes) - set(STATE_FIELDS)
        with writing(self) as conn:
            if lease is not None:   # fenced: the lease row locked until this write commits
                if conn.execute(held_sql(share=True), [lease_name(lease[0]), lease[1]]).fetchone() is None:
                    return False
            row = conn.execute("SELECT state FROM tc_epcis_subscriptions WHERE id = %s FOR UPDATE", [sid]).fetchone()
            if row is None:
                return False
            state = loads(row[0])
            if state["generation"] != generation:
                return False
            if unknown:
                raise ValueError(f"subscription_progress sets {', '.join(STATE_FIELDS)}, not {sorted(unknown)}")
            state.update(changes)
            conn.execute("UPDATE tc_epcis_subscriptions SET state = %s WHERE id = %s", [dumps(state), sid])
        return True


Part = OutboxMixin   # the store methods PgStore mixes in (connection.py's contract)
