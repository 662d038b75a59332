"""The product registries on PostgreSQL (store/port.py: RegistryStore, RegistryView,
RegistryWriteView), the twin of store/lmdb/registry.py:

    tc_registry_approvals    number -> ApprovalRecord JSON, with the enterprise id and the
                          label code prefix it is found by (indexed)
    tc_registry_batch_links  batch id -> the approval number and packaging level it carries
    tc_registry_codes        code -> NATIONAL_CODE_DTYPE record (fixed width: a batch of them
                          is one numpy array, in and out)
    tc_registry_imports      import seq -> its summary JSON (the audit trail)

National code data arrive and leave as arrays: a write is one COPY (binary) into a
temporary table and one INSERT ... ON CONFLICT from it; a read is one statement with the
codes as one bytea[] parameter. The codes' imported records (what verification finds) go
to the core's tc_imported in the same transaction.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager

import numpy as np

from ...registry.records import ApprovalRecord
from ..port import NATIONAL_CODE_DTYPE
from .sqltx import reading, writing

EXT = b"ext\x00"   # the ref of a code issued elsewhere (core.py: tc_imported)
TABLES = ("tc_registry_approvals", "tc_registry_batch_links", "tc_registry_codes", "tc_registry_imports")
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tc_registry_approvals (
        number text COLLATE "C" PRIMARY KEY, record bytea NOT NULL,
        enterprise_id text COLLATE "C", code_prefix text COLLATE "C")""",
    "CREATE INDEX IF NOT EXISTS tc_registry_approvals_enterprise ON tc_registry_approvals (enterprise_id, number)",
    "CREATE INDEX IF NOT EXISTS tc_registry_approvals_prefix ON tc_registry_approvals (code_prefix, number)",
    """CREATE TABLE IF NOT EXISTS tc_registry_batch_links (
        batch_id bigint PRIMARY KEY, number text NOT NULL, level integer NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tc_registry_codes (code bytea PRIMARY KEY, record bytea NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tc_registry_imports (seq bigint PRIMARY KEY, summary bytea NOT NULL)""",
]


class RegistryView:
    """A RegistryView (port) over one transaction: a snapshot read, or an import's write."""

    __slots__ = ("_store", "_conn")

    def __init__(self, store, conn):
        self._store, self._conn = store, conn

    def approval(self, number):
        row = self._conn.execute("SELECT record FROM tc_registry_approvals WHERE number = %s", [number]).fetchone()
        return None if row is None else ApprovalRecord.from_bytes(bytes(row[0]))

    def numbers_by_enterprise(self, enterprise_id):
        return [n for (n,) in self._conn.execute(
            "SELECT number FROM tc_registry_approvals WHERE enterprise_id = %s ORDER BY number", [enterprise_id])]

    def numbers_by_prefix(self, prefix):
        return [n for (n,) in self._conn.execute(
            "SELECT number FROM tc_registry_approvals WHERE code_prefix = %s ORDER BY number", [prefix])]

    def approvals(self):
        # fetched in pages of 1,000 by number: a registry of any size without one huge result
        last = None
        while True:
            rows = self._conn.execute(
                "SELECT number, record FROM tc_registry_approvals" + (" WHERE number > %s" if last else "")
                + " ORDER BY number LIMIT 1000", [last] if last else []).fetchall()
            for _, raw in rows:
                yield ApprovalRecord.from_bytes(bytes(raw))
            if len(rows) < 1000:
                return
            last = rows[-1][0]

    def batch_links(self, batch_ids):
        ids = [int(b) for b in batch_ids]
        rows = self._conn.execute("SELECT batch_id, number, level FROM tc_registry_batch_links "
                                  "WHERE batch_id = ANY(%s)", [ids]).fetchall()
        return {b: {"number": n, "level": lv} for b, n, lv in rows}

    def national_codes(self, codes):
        codes = np.asarray(codes)
        rows = self._conn.execute("SELECT code, record FROM tc_registry_codes WHERE code = ANY(%s) ORDER BY code",
                                  [codes.tolist()]).fetchall()
        if not rows:
            return np.zeros(0, np.intp), np.zeros(0, NATIONAL_CODE_DTYPE)
        found = np.array([bytes(c) for c, _ in rows], dtype=codes.dtype)
        return (np.searchsorted(codes, found),
                np.frombuffer(b"".join(bytes(r) for _, r in rows), NATIONAL_CODE_DTYPE))

    def imports(self):
        return [json.loads(bytes(s)) for (s,) in self._conn.execute(
            "SELECT summary FROM tc_registry_imports ORDER BY seq")]

    # -- inside a write ----------------------------------------------------------------------
    def put_approval(self, record, old):
        # old names what a replaced record was found by: here the row's columns say it
        self._conn.execute(
            "INSERT INTO tc_registry_approvals VALUES (%s, %s, %s, %s) ON CONFLICT (number) DO UPDATE SET "
            "record = excluded.record, enterprise_id = excluded.enterprise_id, code_prefix = excluded.code_prefix",
            [record.number, record.to_bytes(), record.enterprise_id or None, record.code_prefix or None])

    def put_national_codes(self, codes, records, imported):
        codes = np.asarray(codes)
        records = np.ascontiguousarray(records, NATIONAL_CODE_DTYPE)
        if len(codes) != len(records) or len(codes) != len(imported):
            raise ValueError("put_national_codes takes as many records and imported records as codes")
        if not len(codes):
            return
        keys = codes.tolist()
        raw = records.view(np.uint8).reshape(len(records), NATIONAL_CODE_DTYPE.itemsize)
        conn = self._conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS tc_registry_codes_in "
                     "(code bytea, record bytea) ON COMMIT DELETE ROWS")
        with conn.cursor().copy("COPY tc_registry_codes_in (code, record) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["bytea", "bytea"])
            for k, r in zip(keys, raw):
                copy.write_row((k, r.tobytes()))
        conn.execute("INSERT INTO tc_registry_codes SELECT code, record FROM tc_registry_codes_in "
                     "ON CONFLICT (code) DO UPDATE SET record = excluded.record")
        conn.execute("TRUNCATE tc_registry_codes_in")
        # verifiable as imported codes: the core's table, keyed as the domain keys them
        conn.execute("INSERT INTO tc_imported (ref, value) SELECT * FROM unnest(%s::bytea[], %s::bytea[]) "
                     "ON CONFLICT (ref) DO UPDATE SET value = excluded.value",
                     [[EXT + k for k in keys], [bytes(v) for v in imported]])

    def log_import(self, summary):
        conn = self._conn
        # the audit trail's seqs: one after another, imports serialised on the table's lock
        conn.execute("LOCK TABLE tc_registry_imports IN SHARE ROW EXCLUSIVE MODE")
        (seq,) = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM tc_registry_imports").fetchone()
        summary = {"seq": seq, "time": time.time(), **summary}
        conn.execute("INSERT INTO tc_registry_imports VALUES (%s, %s)",
                     [seq, json.dumps(summary, ensure_ascii=False).encode()])
        return seq


class Registry:
    """A RegistryStore (port) over one PgStore: Store.registry()."""

    def __init__(self, store):
        self._store = store

    @contextmanager
    def reading(self):
        with reading(self._store) as conn:
            yield RegistryView(self._store, conn)

    def write(self, body):
        with writing(self._store) as conn:
            return body(RegistryView(self._store, conn))

    def link_batch(self, batch_id: int, number: str, level: int) -> None:
        with writing(self._store) as conn:
            _link(conn, batch_id, number, level)

    def link_batch_in(self, write, batch_id: int, number: str, level: int) -> None:
        _link(write.conn, batch_id, number, level)   # write: the view, in its transaction


def _link(conn, batch_id: int, number: str, level: int) -> None:
    conn.execute("INSERT INTO tc_registry_batch_links VALUES (%s, %s, %s) ON CONFLICT (batch_id) "
                 "DO UPDATE SET number = excluded.number, level = excluded.level", [int(batch_id), number, int(level)])


class RegistryMixin:
    def registry(self):
        reg = getattr(self, "_pg_registry", None)
        if reg is None:
            reg = self._pg_registry = Registry(self)
        return reg


Part = RegistryMixin   # the store methods PgStore mixes in (connection.py's contract)
