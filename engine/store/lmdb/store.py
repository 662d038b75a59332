"""The LMDB implementation of the storage port (store/port.py): views over read
transactions, the tables of one environment opened once."""
from __future__ import annotations

import json

from . import _codes
from . import stats as _stats
from .batches import Batches, product_prefix, u64
from .env import IndexReadOnly, open_db, run_write, versions
from .known import KnownProducts
from .scanlog import unpack_scan


class LmdbView:
    """A ReadView over one LMDB transaction (read, or the write transaction of an event
    resolving its codes: the same reads, inside it)."""

    __slots__ = ("_s", "_txn", "_env", "_own")

    def __init__(self, store: "LmdbStore", txn, own: bool = False):
        self._s, self._txn, self._env, self._own = store, txn, store.env, own

    # A class, not @contextmanager: the single verify() pays for this once per scan.
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._own:   # a read transaction of our own: ended here, nothing to commit
            self._txn.abort()

    def known_products(self):
        return self._s.known.refresh(self._txn)

    def product_id(self, scheme, product_key):
        return self._s.batches.product_id(self._txn, scheme, product_key)

    def table_mark(self, scheme, product_key):
        # the product's counter: it moves with every batch issued, in any process
        return self._txn.get(product_prefix(scheme, product_key)[:-1], db=self._s.batches.counters)

    def batch_table(self, scheme, product_key):
        return self._s.batches.table(self._txn, scheme, product_key)

    def batch(self, batch_id):
        return self._s.batches.get(batch_id, self._txn)

    def recall_seq(self, recall_keys):
        seqs = [self._txn.get(rk, db=self._s.db_recalls) for rk in recall_keys]
        return max([int.from_bytes(q, "big") for q in seqs if q] or [0])

    def code_records(self, refs, place_hash, status, seq, scan_count, places, first_scan_time, first_seq):
        s = self._s
        _codes.read_codes(self._env, self._txn, s.db_codes, refs.buf, refs.off, place_hash,
                          status, seq, scan_count, places, first_scan_time, first_seq)

    def code_record(self, ref):
        return _codes.read_code(self._env, self._txn, self._s.db_codes, ref, 0)

    def imported_values(self, buf, off, found):
        return _codes.get_values(self._env, self._txn, self._s.db_imported, buf, off, found)

    def imported_one(self, ref):
        return self._txn.get(ref, db=self._s.db_imported) if len(ref) <= _codes.KEY_LIMIT else None

    def scan_place(self, seq):
        raw = self._txn.get(u64(seq), db=self._s.db_scans)
        return unpack_scan(raw)["place"] if raw is not None else None


class LmdbStore:
    """The tables of one LMDB environment (the index of a data directory)."""

    def __init__(self, env, schemes: dict):
        self.env = env
        self.batches = Batches(env)
        for name in ("codes", "events", "event_ids", "recalls", "imported", "scans"):
            setattr(self, f"db_{name}", open_db(env, name.encode()))
        try:
            self.db_sscc_users = open_db(env, b"sscc_users")
        except IndexReadOnly:  # an index from before SSCC users, read-only: nobody recorded
            self.db_sscc_users = None
        self.db_children = open_db(env, b"children", dupsort=True)
        self.db_code_events = open_db(env, b"code_events", dupsort=True)
        self.known = KnownProducts(self.batches, schemes)
        self._db_idempotency = None   # opened by the first server that issues with keys

    def reading(self) -> LmdbView:
        """A view of one read transaction: `with store.reading() as view:`."""
        return LmdbView(self, self.env.begin(), own=True)

    def view(self, txn) -> LmdbView:
        """The reads of a view inside a write transaction of this store (events)."""
        return LmdbView(self, txn)

    def stats(self) -> dict:
        return _stats.index_stats(self)

    def batches_after(self, after_id: int = 0):
        return _stats.batches_after(self.batches, after_id)

    def versions(self) -> dict:
        return versions()

    def batch(self, batch_id: int):
        return self.batches.get(batch_id)

    def next_batch_id(self) -> int:
        """The id the next batch will get (the last one's + 1)."""
        with self.env.begin(db=self.batches.records) as txn:
            cur = txn.cursor()
            return int.from_bytes(cur.key(), "big") + 1 if cur.last() else 1

    # -- idempotency keys: (client, key) -> a JSON entry, in their own table -----------------
    def _idempotency(self):
        if self._db_idempotency is None:
            self._db_idempotency = open_db(self.env, b"idempotency")
        return self._db_idempotency

    @staticmethod
    def _idempotency_key(client: str, key: str) -> bytes:
        return client.encode() + b"\x00" + key.encode()

    def idempotency_get(self, client: str, key: str) -> dict | None:
        with self.env.begin(db=self._idempotency()) as txn:
            raw = txn.get(self._idempotency_key(client, key))
        return json.loads(raw) if raw else None

    def idempotency_put(self, client: str, key: str, entry: dict) -> None:
        """Durable when it returns; IndexFull (nothing written) on a full disk."""
        db, k, value = self._idempotency(), self._idempotency_key(client, key), json.dumps(entry).encode()
        run_write(self.env, lambda txn: txn.put(k, value, db=db))
