"""The links of products (GS1 Digital Link resolver targets) on PostgreSQL (store/port.py:
links_get, links_put, links_keys): one row per link key, its list of links kept whole (a
put replaces it in one statement, so a reader sees the old list or the new one)."""
from __future__ import annotations

import json

from ..linkkeys import checked_key
from .sqltx import reading, writing

TABLES = ("tc_links",)
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tc_links (
        key text COLLATE "C" PRIMARY KEY, links bytea NOT NULL)""",
]


class LinksMixin:
    def links_get(self, key: str) -> list[dict]:
        key = checked_key(key)
        with reading(self) as conn:
            row = conn.execute("SELECT links FROM tc_links WHERE key = %s", [key]).fetchone()
        return json.loads(bytes(row[0])) if row else []

    def links_put(self, key: str, links: list[dict]) -> None:
        key = checked_key(key)
        if not isinstance(links, list) or not all(isinstance(x, dict) for x in links):
            raise ValueError("links must be a list of dicts")
        # encoded before the transaction: a value JSON cannot hold writes nothing
        value = json.dumps(links, ensure_ascii=False, separators=(",", ":")).encode() if links else None
        with writing(self) as conn:
            if value is None:
                conn.execute("DELETE FROM tc_links WHERE key = %s", [key])
            else:
                conn.execute("INSERT INTO tc_links VALUES (%s, %s) "
                             "ON CONFLICT (key) DO UPDATE SET links = excluded.links", [key, value])

    def links_keys(self, prefix: str = "") -> list[str]:
        with reading(self) as conn:   # a range from the prefix: the key index, in byte order
            return [k for (k,) in conn.execute(
                "SELECT key FROM tc_links WHERE key >= %s AND starts_with(key, %s) ORDER BY key",
                [prefix, prefix])]


Part = LinksMixin   # the store methods PgStore mixes in (connection.py's contract)
