"""The steps of assets with externally assigned codes (special equipment) on PostgreSQL
(store/port.py: asset_steps, asset_append): one row per (code, step number), appended and
never rewritten. An append names how many steps the caller checked it against; it writes
step number ``expect`` only if the code has exactly that many, and the primary key on
(code, step) makes two racing appends against the same history write one step, not two."""
from __future__ import annotations

from .sqltx import reading, writing

MAX_STEPS = 1 << 32
TABLES = ("tc_asset_steps",)
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tc_asset_steps (
        code bytea NOT NULL, step bigint NOT NULL, record bytea NOT NULL, PRIMARY KEY (code, step))""",
]


def _code(code: str) -> bytes:
    return code.encode("utf-8", "surrogatepass")


class AssetsMixin:
    def asset_steps(self, code: str) -> list:
        with reading(self) as conn:
            return [bytes(r) for (r,) in conn.execute(
                "SELECT record FROM tc_asset_steps WHERE code = %s ORDER BY step", [_code(code)])]

    def asset_append(self, code: str, expect: int, record: bytes) -> bool:
        key = _code(code)
        with writing(self) as conn:
            (have,) = conn.execute("SELECT count(*) FROM tc_asset_steps WHERE code = %s", [key]).fetchone()
            if have != expect:
                return False
            if have >= MAX_STEPS - 1:
                raise ValueError("an asset holds at most 2**32 - 1 steps")
            return conn.execute("INSERT INTO tc_asset_steps VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                                [key, have, bytes(record)]).rowcount == 1

    def asset_append_all(self, appends: list) -> bool:
        """asset_append of each (code, expect, record) in one transaction: all, or none (False;
        a racing append that took a step number first rolls the others back)."""
        if len({code for code, _, _ in appends}) != len(appends):
            raise ValueError("asset_append_all appends one step per code")
        try:
            with writing(self) as conn:
                for code, expect, _ in appends:
                    (have,) = conn.execute("SELECT count(*) FROM tc_asset_steps WHERE code = %s",
                                           [_code(code)]).fetchone()
                    if have != expect:
                        return False
                    if have >= MAX_STEPS - 1:
                        raise ValueError("an asset holds at most 2**32 - 1 steps")
                for code, expect, record in appends:
                    if conn.execute("INSERT INTO tc_asset_steps VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                                    [_code(code), expect, bytes(record)]).rowcount != 1:
                        raise _Raced
                return True
        except _Raced:           # raised inside the transaction: it rolled back
            return False


class _Raced(Exception):
    """Another append took one of the step numbers between the count and the insert."""


Part = AssetsMixin   # the store methods PgStore mixes in (connection.py's contract)
