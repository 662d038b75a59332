"""The PostgreSQL store's small parts: the format stamp, imported and registered codes,
idempotency keys, statistics and sizes, versions."""
from __future__ import annotations

import json

import numpy as np
import psycopg

SCHEMA = [
    # codes issued elsewhere (imported) and codes others assigned (registered): the code's
    # ref (b"ext\\0" + code, as the domain keys it) -> its JSON record
    "CREATE TABLE IF NOT EXISTS tc_imported (ref bytea PRIMARY KEY, value bytea NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tc_idempotency (client text NOT NULL, key text NOT NULL, "
    "entry jsonb NOT NULL, PRIMARY KEY (client, key))",
]

EXT = b"ext\x00"
KEY_LIMIT = 64   # the longest code key a store keeps (as LMDB's): longer refs are no code's

# bytes_in_use: which tables hold each part (PG-B's parts add theirs to this map)
PART_TABLES = {
    "issuance": ["tc_counters", "tc_batches", "tc_products"],
    "verdicts": ["tc_codes", "tc_imported", "tc_recalls"],
    "history": ["tc_events", "tc_event_ids", "tc_code_events", "tc_children", "tc_sscc_users"],
    "scan_log": ["tc_scans"],
    "epcis": [],
}


def ext_ref(code: str) -> bytes:
    return EXT + code.encode("utf-8", "surrogatepass")


class Part:
    def stamp_format(self, fmt: bytes) -> bytes:
        """The record format the store holds, stamping a new store with fmt."""
        def body(view):
            view.conn.execute("INSERT INTO tc_meta (key, value) VALUES ('format', %s) "
                              "ON CONFLICT (key) DO NOTHING", (fmt,))
            return view.meta_get("format")
        return self.meta_get("format") or self.write(body)

    def upgrade_format(self, have: bytes, fmt: bytes) -> bytes:
        """Format 2 -> 3 is a new stamp only: 3 moved LMDB's scan summaries, PostgreSQL's
        tables are the same. Returns the format held after."""
        if have != b"2" or fmt != b"3":
            return have

        def body(view):
            view.conn.execute("UPDATE tc_meta SET value = %s WHERE key = 'format' AND value = %s",
                              (fmt, have))
            return view.meta_get("format")
        return self.write(body)

    def put_imported(self, codes: list, value: bytes) -> None:
        from ..codekeys import ext   # the domain's key of a code issued elsewhere (normalised)
        refs = [ext(c) for c in codes]

        def body(view):
            view.conn.execute("INSERT INTO tc_imported (ref, value) SELECT r, %s FROM unnest(%b::bytea[]) r "
                              "ON CONFLICT (ref) DO UPDATE SET value = excluded.value", (value, refs))
        self.write(body)

    def put_registered(self, codes, value: bytes, order=None):
        codes = np.asarray(codes)
        if codes.dtype.kind != "S":
            raise TypeError(f"codes must be a numpy S array, got {codes.dtype}")
        n = len(codes)
        if order is not None:
            order = np.asarray(order, np.int64)
            if order.shape != (n,) or (n and (order.min() < 0 or order.max() >= n)) or \
                    len(np.unique(order)) != n:
                raise ValueError(f"order must name each of the {n} codes once")
        refs = [EXT + bytes(c) for c in codes]   # numpy S drops trailing NULs, as LMDB's keys do
        # within the call: a repeat of an earlier row existed before it
        _, first = np.unique(codes, return_index=True)
        existed = np.ones(n, np.uint8)
        existed[first] = 0
        uniq = [refs[i] for i in np.sort(first)]

        def body(view):
            new = {bytes(r) for (r,) in view.conn.execute(
                "INSERT INTO tc_imported (ref, value) SELECT r, %s FROM unnest(%b::bytea[]) r "
                "ON CONFLICT (ref) DO NOTHING RETURNING ref", (value, uniq))}
            return new
        new = self.write(body)
        for i in np.sort(first):
            if refs[i] not in new:
                existed[i] = 1
        return existed

    def registered_one(self, code: str):
        ref = ext_ref(code)
        if len(ref) > KEY_LIMIT:
            return None
        with self.reading() as view:
            return view.imported_one(ref)

    def idempotency_get(self, client: str, key: str):
        with self.tx(read_only=True) as conn:
            row = conn.execute("SELECT entry FROM tc_idempotency WHERE client = %s AND key = %s",
                               (client, key)).fetchone()
        return row[0] if row else None

    def idempotency_put(self, client: str, key: str, entry: dict) -> None:
        doc = json.dumps(entry)
        self.write(lambda v: v.conn.execute(
            "INSERT INTO tc_idempotency (client, key, entry) VALUES (%s, %s, %s::jsonb) "
            "ON CONFLICT (client, key) DO UPDATE SET entry = excluded.entry", (client, key, doc)))

    def versions(self) -> dict:
        with self.tx(read_only=True) as conn:
            server = conn.execute("SHOW server_version").fetchone()[0]
        return {"psycopg": psycopg.__version__, "PostgreSQL": server}

    def bytes_in_use(self, part: str | None = None) -> int:
        tables = [t for ts in PART_TABLES.values() for t in ts] if part is None else PART_TABLES[part]
        if not tables:
            return 0
        with self.tx(read_only=True) as conn:
            # a partitioned table's size is its partitions'; pg_total_relation_size includes indexes
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE c.relkind IN ('r', 'm') AND (c.relname = ANY(%s) OR p.relname = ANY(%s))",
                (tables, tables)).fetchone()
        return int(row[0])

    def stats(self) -> dict:
        with self.tx(read_only=True) as conn:
            events = conn.execute("SELECT count(*) FROM tc_events").fetchone()[0]
            scans = conn.execute("SELECT count(*) FROM tc_scans").fetchone()[0]
            per = dict(conn.execute("SELECT scheme, count(*) FROM tc_products GROUP BY scheme").fetchall())
            batches = conn.execute("SELECT count(*), coalesce(sum(count), 0) FROM tc_batches").fetchone()
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        return {"events": events, "scans": scans, "products": per, "batches": batches[0],
                "codes_issued": int(batches[1]), "index_bytes": size, "map_bytes": None}


class ViewPart:
    __slots__ = ()

    def imported_values(self, buf, off, found):
        n = len(off) - 1
        raw = bytes(buf)
        refs = [raw[off[i]:off[i + 1]] for i in range(n)]
        got = dict(self.conn.execute(
            "SELECT ref, value FROM tc_imported WHERE ref = ANY(%b::bytea[])",
            ([r for r in refs if r],)).fetchall())
        out = []
        for i, r in enumerate(refs):
            v = got.get(r) if r else None
            found[i] = v is not None
            if v is not None:
                out.append(bytes(v))
        return out

    def imported_one(self, ref):
        if len(ref) > KEY_LIMIT:
            return None
        row = self.conn.execute("SELECT value FROM tc_imported WHERE ref = %s", (bytes(ref),)).fetchone()
        return bytes(row[0]) if row else None
