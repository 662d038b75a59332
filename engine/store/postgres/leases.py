"""Named leases on PostgreSQL (store/port.py: lease, lease_release): one row per name with
its holder and expiry, taken with one conditional upsert (taken when the name is free, its
lease expired, or it is the holder's own). Time is the database's clock, read in the
statement, so nodes whose clocks disagree still agree on who holds a lease."""
from __future__ import annotations

from .sqltx import writing

TABLES = ("tc_leases",)
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tc_leases (
        name text COLLATE "C" PRIMARY KEY, holder text NOT NULL, until double precision NOT NULL)""",
]
_NOW = "extract(epoch FROM clock_timestamp())::double precision"


def lease_name(text, what: str = "a lease name") -> str:
    if not isinstance(text, str) or not text or "\x00" in text or len(text.encode("utf-8")) > 200:
        raise ValueError(f"a subscription id or lease name is 1-200 bytes of text, got {str(text)[:40]!r}")
    return text


def held_sql(share: bool = False) -> str:
    """The statement finding lease (name, holder) current; FOR SHARE keeps it until commit."""
    return f"SELECT 1 FROM tc_leases WHERE name = %s AND holder = %s AND until > {_NOW}" + (
        " FOR SHARE" if share else "")


class LeasesMixin:
    def lease(self, name: str, holder: str, ttl: float) -> bool:
        name = lease_name(name)
        if not isinstance(holder, str) or not holder or "\x00" in holder:
            raise ValueError("a lease holder is non-empty text")
        if not isinstance(ttl, (int, float)) or not ttl > 0:
            raise ValueError(f"a lease lasts a positive number of seconds, got {ttl!r}")
        with writing(self) as conn:
            row = conn.execute(
                f"INSERT INTO tc_leases (name, holder, until) VALUES (%s, %s, {_NOW} + %s) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until "
                f"WHERE tc_leases.holder = excluded.holder OR tc_leases.until <= {_NOW} RETURNING 1",
                [name, holder, float(ttl)]).fetchone()
        return row is not None

    def lease_release(self, name: str, holder: str) -> None:
        with writing(self) as conn:
            conn.execute("DELETE FROM tc_leases WHERE name = %s AND holder = %s", [lease_name(name), holder])


Part = LeasesMixin   # the store methods PgStore mixes in (connection.py's contract)
