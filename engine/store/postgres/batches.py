"""Reservations on PostgreSQL: a reservation is ONE transaction — the product's counter row
moved on by UPDATE ... RETURNING (its row lock orders concurrent reservations of one
product), the product id assigned on the first one, one batch row — acknowledged after its
commit (synchronous_commit on: with a synchronous standby, once the standby has it). Codes
are computed by FF1 only after that, so a crash can lose counters, never hand one out twice."""
from __future__ import annotations

import json
import time
from dataclasses import asdict

import numpy as np

from ...errors import CapacityExceeded
from ..records import BatchRecord   # the record type the domain reads (one class for both stores)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS tc_counters (scheme text NOT NULL, product_key bytea NOT NULL, "
    "next bigint NOT NULL, PRIMARY KEY (scheme, product_key))",
    "CREATE TABLE IF NOT EXISTS tc_products (id integer PRIMARY KEY, scheme text NOT NULL, "
    "product_key bytea NOT NULL, product jsonb NOT NULL, UNIQUE (scheme, product_key))",
    "CREATE TABLE IF NOT EXISTS tc_batches (id bigint PRIMARY KEY, scheme text NOT NULL, "
    "product_key bytea NOT NULL, start bigint NOT NULL, count bigint NOT NULL, record bytea NOT NULL)",
    "CREATE INDEX IF NOT EXISTS tc_batches_product ON tc_batches (scheme, product_key, start)",
]

FIRST_PRODUCT_ID = 16        # as the LMDB store: code keys of ours start with a zero byte
LAST_PRODUCT_ID = (1 << 24) - 1
MAX_COUNTER = (1 << 63) - 1  # bigint: a product's counters stop here (LMDB's at 2**64 - 1)


class Part:
    def reserve(self, scheme: str, product_key: bytes, product: dict, count: int, capacity: int,
                *, also=None, **details) -> BatchRecord:
        """Reserve `count` counters and record the batch; refuses past `capacity`. also(view,
        record) writes what belongs with the batch in its transaction. Re-run whole on a lost
        connection (store.write): a reservation whose COMMIT was lost may have committed, and
        then its counters are skipped, never handed out twice."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        capacity = min(capacity, MAX_COUNTER)
        product_key = bytes(product_key)

        def body(view):
            conn = view.conn
            mark = self.highwater   # it checks the database's identity the statement returns too
            start, *db = conn.execute(
                "INSERT INTO tc_counters AS c (scheme, product_key, next) VALUES (%s, %s, %s) "
                "ON CONFLICT (scheme, product_key) DO UPDATE SET next = c.next + excluded.next "
                "RETURNING next - %s" + ("" if mark is None else ", " + mark.state_columns),
                (scheme, product_key, count, count)).fetchone()
            if start + count > capacity:
                remaining = max(capacity - start, 0)
                raise CapacityExceeded(
                    f"refusing to issue {count:,} codes: this product has {remaining:,} of its "
                    f"{capacity:,} left under the 1/10,000 guessing bound (EU 2016/161 Art. 4)",
                    remaining=remaining)
            if mark is not None:   # the mark outside the database first (highwater.py)
                mark.cover(view, scheme, product_key, start + count, count, capacity, db)
            view.product_id_assign(scheme, product_key, product)   # under the counter's row lock
            batch_id = view.next_seq("batch")
            record = BatchRecord(id=batch_id, scheme=scheme, product=dict(product), start=start,
                                 count=count, time=time.time(), **details)
            conn.execute("INSERT INTO tc_batches (id, scheme, product_key, start, count, record) "
                         "VALUES (%s, %s, %s, %s, %s, %s)",
                         (batch_id, scheme, product_key, start, count, record.to_bytes()))
            if also is not None:
                also(view, record)
            return record
        if self.highwater is not None:   # the database checked against the mark first, in each run
            return self.highwater.write(self, body)
        return self.write(body)

    def issued(self, scheme: str, product_key: bytes) -> int:
        """Counters reserved so far for this product (the next start)."""
        with self.tx(read_only=True) as conn:
            row = conn.execute("SELECT next FROM tc_counters WHERE scheme = %s AND product_key = %s",
                               (scheme, bytes(product_key))).fetchone()
        return row[0] if row else 0

    def batch(self, batch_id: int):
        with self.reading() as view:
            return view.batch(batch_id)

    def batches_after(self, after_id: int = 0):
        with self.tx(read_only=True) as conn:
            rows = conn.execute("SELECT record FROM tc_batches WHERE id > %s ORDER BY id", (after_id,)).fetchall()
        return [BatchRecord.from_bytes(bytes(r)) for (r,) in rows]

    def next_batch_id(self) -> int:
        with self.tx(read_only=True) as conn:
            row = conn.execute("SELECT next FROM tc_seq WHERE name = 'batch'").fetchone()
        return row[0] if row else 1


class ViewPart:
    __slots__ = ()

    def product_id(self, scheme, product_key):
        key = (scheme, bytes(product_key))
        pid = self.store._pids.get(key)   # ids never change once given
        if pid is None:
            row = self.conn.execute("SELECT id FROM tc_products WHERE scheme = %s AND product_key = %s",
                                    key).fetchone()
            if row is None:
                return None
            pid = self.store._pids[key] = row[0]
        return pid

    def product_id_assign(self, scheme, product_key, product) -> int:
        pid = self.product_id(scheme, product_key)
        if pid is not None:
            return pid
        pid = FIRST_PRODUCT_ID - 1 + self.next_seq("product")
        if pid > LAST_PRODUCT_ID:
            raise CapacityExceeded(f"this index holds {LAST_PRODUCT_ID - FIRST_PRODUCT_ID + 1:,} "
                                   f"products, the most it can", remaining=0)
        self.conn.execute("INSERT INTO tc_products (id, scheme, product_key, product) VALUES (%s, %s, %s, %s)",
                          (pid, scheme, bytes(product_key), json.dumps(product, ensure_ascii=False)))
        return pid

    def product_of(self, product_id):
        hit = self.store._products.get(product_id)
        if hit is None:
            row = self.conn.execute("SELECT scheme, product FROM tc_products WHERE id = %s",
                                    (product_id,)).fetchone()
            if row is None:
                return None
            hit = self.store._products[product_id] = (row[0], row[1])
        return hit

    def known_product_rows(self):
        return self.conn.execute("SELECT scheme, product_key, id FROM tc_products").fetchall()

    def table_mark(self, scheme, product_key):
        key = ("mark", scheme, bytes(product_key))
        if not self.writing and key in self.memo:   # asked twice per scan (tables, key versions)
            return self.memo[key]
        row = self.conn.execute("SELECT next FROM tc_counters WHERE scheme = %s AND product_key = %s",
                                (scheme, bytes(product_key))).fetchone()
        self.memo[key] = mark = row[0] if row else None
        return mark

    def batch_table(self, scheme, product_key):
        rows = self.conn.execute("SELECT start, count, id FROM tc_batches WHERE scheme = %s AND "
                                 "product_key = %s ORDER BY start", (scheme, bytes(product_key))).fetchall()
        a = np.array(rows, np.uint64).reshape(-1, 3)
        starts = np.ascontiguousarray(a[:, 0])
        return starts, starts + a[:, 1], np.ascontiguousarray(a[:, 2])

    def batch(self, batch_id):
        row = self.conn.execute("SELECT record FROM tc_batches WHERE id = %s", (batch_id,)).fetchone()
        return BatchRecord.from_bytes(bytes(row[0])) if row else None


def opened(store) -> None:
    from ...cache import BoundedCache
    store._pids = BoundedCache(65536)       # (scheme, product key) -> id
    store._products = BoundedCache(65536)   # id -> (scheme, product)
    store.batches = PgBatches(store)
    store.highwater = None   # a data directory's counter mark (highwater.attach); none for a bare PgStore


__all__ = ["Part", "ViewPart", "SCHEMA", "asdict"]


class PgBatches:
    """What callers outside the port still ask of `index.batches` (the LMDB Batches object):
    get, list, issued, reserve, readonly, journal. PgStore.batches is one of these."""

    readonly = False
    journal = None   # the reservation journal is LMDB's; PostgreSQL keeps its own WAL

    def __init__(self, store):
        self._store = store

    def get(self, batch_id: int, txn=None):
        return self._store.batch(batch_id)

    def list(self):
        return self._store.batches_after(0)

    def issued(self, scheme, product_key) -> int:
        return self._store.issued(scheme, product_key)

    def reserve(self, *args, **kw):
        return self._store.reserve(*args, **kw)
