"""Named EPCIS queries on PostgreSQL (store/port.py: queries_put/get/delete/list): one row
per (owner, name), kept as UTF-8 bytes so pages run in the byte order the port names."""
from __future__ import annotations

from .epcis import dumps, loads
from .sqltx import reading, writing

NAME_BYTES = 256
TABLES = ("tc_epcis_queries",)
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tc_epcis_queries (
        owner bytea NOT NULL, name bytea NOT NULL, definition bytea NOT NULL,
        PRIMARY KEY (owner, name))""",
]


def _name(text, what: str) -> bytes:
    if not isinstance(text, str) or not text or "\x00" in text:
        raise ValueError(f"a named query's {what} must be non-empty text without NUL")
    raw = text.encode("utf-8")
    if len(raw) > NAME_BYTES:
        raise ValueError(f"a named query's {what} is over {NAME_BYTES} bytes of UTF-8")
    return raw


class QueriesMixin:
    def queries_put(self, owner: str, name: str, definition: dict) -> bool:
        key = [_name(owner, "owner"), _name(name, "name")]
        if not isinstance(definition, dict):
            raise ValueError("a named query's definition is a dict")
        with writing(self) as conn:
            return conn.execute("INSERT INTO tc_epcis_queries VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                                key + [dumps(definition)]).rowcount == 1

    def queries_get(self, owner: str, name: str) -> dict | None:
        with reading(self) as conn:
            row = conn.execute("SELECT definition FROM tc_epcis_queries WHERE owner = %s AND name = %s",
                               [_name(owner, "owner"), _name(name, "name")]).fetchone()
        return None if row is None else loads(row[0])

    def queries_delete(self, owner: str, name: str) -> bool:
        with writing(self) as conn:
            return conn.execute("DELETE FROM tc_epcis_queries WHERE owner = %s AND name = %s",
                                [_name(owner, "owner"), _name(name, "name")]).rowcount > 0

    def queries_list(self, owner=None, after=None, limit: int = 100):
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        conds, params = [], []
        if owner is not None:
            conds.append("owner = %s")
            params.append(_name(owner, "owner"))
        if after:
            try:
                if after[:1] != "q":
                    raise ValueError
                last = [bytes.fromhex(p) for p in after[1:].split("/")]
                if len(last) != 2:
                    raise ValueError
            except (ValueError, TypeError):
                raise ValueError(f"{str(after)[:40]!r} is not a page token of this query") from None
            conds.append("(owner, name) > (%s, %s)")
            params += last
        with reading(self) as conn:
            rows = conn.execute(f"SELECT owner, name, definition FROM tc_epcis_queries"
                                f"{' WHERE ' + ' AND '.join(conds) if conds else ''} "
                                "ORDER BY owner, name LIMIT %s", params + [limit + 1]).fetchall()
        out = [(bytes(o).decode(), bytes(n).decode(), loads(d)) for o, n, d in rows[:limit]]
        if len(rows) <= limit:
            return out, None
        o, n, _ = rows[limit - 1]
        return out, f"q{bytes(o).hex()}/{bytes(n).hex()}"


Part = QueriesMixin   # the store methods PgStore mixes in (connection.py's contract)
