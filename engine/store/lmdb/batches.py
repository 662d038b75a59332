"""Batches: durable counter reservations and the one record each batch leaves.

Each (scheme, product) has a next-free counter. Issuing N codes advances it by
N, writes one batch record (product, lot, expiry, production line, requester,
counter range, time) and one range entry, all in one write transaction; the
codes are computed by FF1 only after that commit. So issuing 100 million
codes adds three small records, and a crash at any point can lose counters
but never hand one out twice.

Databases (keys big-endian so LMDB orders them numerically):
    counters   scheme \\0 product_key                 -> next counter (u64)
    batches    batch id (u64)                        -> JSON record
    ranges     scheme \\0 product_key \\0 start (u64)  -> batch id (u64)
    products   scheme \\0 product_key                 -> product id (u32)
    product_ids product id (u32)                     -> JSON {scheme, product}
    meta       b"next_batch", b"next_product"        -> next batch / product id (u64)
               b"journal_end"                        -> the journal's length at the last
                                                        reservation (journal.py, lineage.py)

A product id, given at the product's first issuance, is the first part of the
12-byte code key (product id, counter) under which the index keeps what it
knows about a code (see _codes.pyx).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict

import numpy as np

from ...cache import BoundedCache
from ...errors import CapacityExceeded
from .env import read_only_error, run_write
from .journal import Entry as JournalEntry
from ..records import FIRST_PRODUCT_ID, BatchRecord  # noqa: F401  (store-neutral; importable from here too)

_U64 = 8
LAST_PRODUCT_ID = (1 << 24) - 1
PRODUCT_ID_CACHE = 65536


def u64(n: int) -> bytes:
    return n.to_bytes(_U64, "big")


def product_prefix(scheme: str, product_key: bytes) -> bytes:
    return scheme.encode() + b"\x00" + product_key + b"\x00"


class Batches:
    def __init__(self, env):
        self.env = env
        self.counters = env.open_db(b"counters")
        self.records = env.open_db(b"batches")
        self.ranges = env.open_db(b"ranges")
        self.meta = env.open_db(b"meta")
        self.products = env.open_db(b"products")
        self.product_ids = env.open_db(b"product_ids")
        # Ids never change, so an LRU is exact; bounded, as an index may hold millions.
        self._pids = BoundedCache(PRODUCT_ID_CACHE)       # (scheme, product key) -> id
        self._products = BoundedCache(PRODUCT_ID_CACHE)   # id -> (scheme, product)
        self.readonly = env.flags()["readonly"]
        self.journal = None   # a journal.Writer, set by the data directory (lineage.attach)

    def product_id(self, txn, scheme: str, product_key: bytes) -> int | None:
        """The product's id, None if it never had a batch (ids never change: cached)."""
        key = (scheme, product_key)
        pid = self._pids.get(key)
        if pid is None:
            raw = txn.get(product_prefix(scheme, product_key)[:-1], db=self.products)
            if raw is None:
                return None
            pid = self._pids[key] = int.from_bytes(raw, "big")
        return pid

    def product_of(self, txn, pid: int) -> tuple[str, dict] | None:
        """(scheme, product) of a product id."""
        hit = self._products.get(pid)
        if hit is None:
            raw = txn.get(pid.to_bytes(4, "big"), db=self.product_ids)
            if raw is None:
                return None
            rec = json.loads(raw)
            hit = self._products[pid] = (rec["scheme"], rec["product"])
        return hit

    def _assign_product_id(self, txn, scheme, product_key, product) -> int:
        key = product_prefix(scheme, product_key)[:-1]
        have = txn.get(key, db=self.products)
        if have is not None:
            return int.from_bytes(have, "big")
        raw = txn.get(b"next_product", db=self.meta)
        pid = int.from_bytes(raw, "big") if raw else FIRST_PRODUCT_ID
        if pid > LAST_PRODUCT_ID:
            raise CapacityExceeded(f"this index holds {LAST_PRODUCT_ID - FIRST_PRODUCT_ID + 1:,} "
                                   f"products, the most it can", remaining=0)
        txn.put(key, pid.to_bytes(4, "big"), db=self.products)
        txn.put(pid.to_bytes(4, "big"), json.dumps({"scheme": scheme, "product": product},
                                                   ensure_ascii=False).encode(), db=self.product_ids)
        txn.put(b"next_product", u64(pid + 1), db=self.meta)
        return pid

    def issued(self, scheme: str, product_key: bytes) -> int:
        """Counters reserved so far for this product (the next start)."""
        with self.env.begin(db=self.counters) as txn:
            raw = txn.get(product_prefix(scheme, product_key)[:-1])
        return int.from_bytes(raw, "big") if raw else 0

    def reserve(self, scheme: str, product_key: bytes, product: dict, count: int, capacity: int,
                *, also=None, **details) -> BatchRecord:
        """Reserve `count` counters and record the batch; refuses past `capacity`.
        also(txn, record), if given, writes what belongs with the batch in its transaction."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        if self.readonly:
            raise read_only_error(self.env.path(), "reserve counters")
        key = product_prefix(scheme, product_key)[:-1]

        def body(txn):  # through run_write: a full disk is IndexFull, nothing reserved
            raw = txn.get(key, db=self.counters)
            start = int.from_bytes(raw, "big") if raw else 0
            if start + count > capacity:
                remaining = capacity - start
                raise CapacityExceeded(
                    f"refusing to issue {count:,} codes: this product has {remaining:,} of its "
                    f"{capacity:,} left under the 1/10,000 guessing bound (EU 2016/161 Art. 4)",
                    remaining=remaining)
            raw = txn.get(b"next_batch", db=self.meta)
            batch_id = int.from_bytes(raw, "big") if raw else 1
            pid = self._assign_product_id(txn, scheme, product_key, dict(product))
            record = BatchRecord(id=batch_id, scheme=scheme, product=dict(product), start=start,
                                 count=count, time=time.time(), **details)
            txn.put(key, u64(start + count), db=self.counters)
            txn.put(b"next_batch", u64(batch_id + 1), db=self.meta)
            txn.put(u64(batch_id), record.to_bytes(), db=self.records)
            txn.put(product_prefix(scheme, product_key) + u64(start), u64(batch_id), db=self.ranges)
            if also is not None:
                also(txn, record)
            if self.journal is not None:
                # fsynced before the commit: a reservation that returned is in the journal,
                # so restoring an older backup cannot hand these counters out again
                end = self.journal.append(JournalEntry(key, start + count, batch_id, pid,
                                                       asdict(record)))
                txn.put(b"journal_end", u64(end), db=self.meta)
                appended[:] = [end, batch_id]   # the last try's line is the one committed
            return record
        appended = []
        record = run_write(self.env, body)
        if appended:   # only now is the line a reservation: mark it (journal.py)
            self.journal.committed(self.env, *appended)
        return record

    def get(self, batch_id: int, txn=None) -> BatchRecord | None:
        if txn is None:
            with self.env.begin() as txn:
                return self.get(batch_id, txn)
        raw = txn.get(u64(batch_id), db=self.records)
        return BatchRecord.from_bytes(raw) if raw else None

    def list(self):
        """Every batch record, oldest first."""
        with self.env.begin() as txn:
            return [BatchRecord.from_bytes(v) for _, v in txn.cursor(db=self.records)]

    def table(self, txn, scheme: str, product_key: bytes):
        """(starts, ends, ids) of a product's batches as sorted numpy arrays."""
        prefix = product_prefix(scheme, product_key)
        starts, ids = [], []
        cur = txn.cursor(db=self.ranges)
        if cur.set_range(prefix):
            for k, v in cur:
                if not k.startswith(prefix):
                    break
                starts.append(int.from_bytes(k[len(prefix):], "big"))
                ids.append(int.from_bytes(v, "big"))
        starts = np.array(starts, np.uint64)
        ids = np.array(ids, np.uint64)
        counts = np.array([self.get(int(i), txn).count for i in ids], np.uint64)
        return starts, starts + counts, ids
