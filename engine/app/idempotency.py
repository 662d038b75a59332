"""Idempotent issuance: one batch per (client, idempotency key), ever.

The keys live in the data directory's LMDB environment, in a database of their own
("idempotency"): client \\0 key -> JSON {fingerprint, from, batch}. Every server
process issues under one lock file (DIR/idempotency.lock), so two retries of a
request arriving at two processes at once cannot both issue. Three commits:

1. the key is recorded as pending, with the next batch id at that moment;
2. the index reserves the counters; the batch's requester names the client and key;
3. the key is bound to the batch.

A crash between 1 and 3 leaves the key pending: the retry looks for a batch from
that id on whose requester names this key, binds it if the reservation had
committed, and issues only if it had not. So a retried request gets the batch the
first attempt reserved, and a key never has two batches. A full disk (IndexFull)
at 1 or 2 refuses the request with nothing issued; at 3 the batch is committed and
found that way, so the request gets it and the binding is left to a retry.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from contextlib import contextmanager

from ..index import BatchRecord, IndexFull, run_write
from ..store.lmdb.batches import u64
from ..store.lmdb.env import open_db
from .refusal import Refusal

log = logging.getLogger("tracecode.serve")


class IdempotentIssuer:
    def __init__(self, datadir):
        self.dd = datadir
        self.index = datadir.index
        self.env = self.index.env
        self.db = open_db(self.env, b"idempotency")
        self.lock_path = datadir.path / "idempotency.lock"

    @contextmanager
    def _lock(self):
        with open(self.lock_path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def issue(self, client: str, key: str, scheme: str, product: dict, count: int,
              **details) -> tuple[BatchRecord, bool]:
        """(batch, replayed): replayed is True when an earlier request with this key made it."""
        fingerprint = hashlib.sha256(json.dumps([scheme, product, count, details], sort_keys=True,
                                                default=str).encode()).hexdigest()
        dbkey = client.encode() + b"\x00" + key.encode()
        requester = f"{client} request {key}"
        with self._lock():
            with self.env.begin(db=self.db) as txn:
                raw = txn.get(dbkey)
            entry = json.loads(raw) if raw else None
            if entry is not None:
                if entry["fingerprint"] != fingerprint:
                    raise Refusal(
                        "key_reused", "idempotency_key", f"idempotency key {key!r} was used for a "
                        f"different request (batch {entry.get('batch') or 'pending'}); use a new key",
                        subject=key)
                batch = self._batch(entry["batch"]) if entry.get("batch") \
                    else self._find(entry["from"], requester)
                if batch is not None:
                    self._bind(dbkey, entry, batch)
                    return batch, True
            else:
                entry = {"fingerprint": fingerprint, "from": self._next_batch_id()}
                self._put(dbkey, entry)
            batch = self.index.issue(scheme, product, count, requester=requester, **details)
            self._bind(dbkey, entry, batch)
            return batch, False

    def _bind(self, dbkey: bytes, entry: dict, batch: BatchRecord) -> None:
        """Step 3. The batch is committed and a retry finds it by its requester (as
        after a crash), so a full disk here does not refuse the request."""
        try:
            self._put(dbkey, {**entry, "batch": batch.id})
        except IndexFull as exc:
            log.warning("batch %d is issued; its idempotency key waits to be bound: %s", batch.id, exc)

    def _put(self, dbkey: bytes, entry: dict) -> None:
        value = json.dumps(entry).encode()
        run_write(self.env, lambda txn: txn.put(dbkey, value, db=self.db))

    def _batch(self, batch_id: int) -> BatchRecord:
        return self.index.batches.get(batch_id)

    def _next_batch_id(self) -> int:
        with self.env.begin(db=self.index.batches.records) as txn:
            cur = txn.cursor()
            return int.from_bytes(cur.key(), "big") + 1 if cur.last() else 1

    def _find(self, first_id: int, requester: str) -> BatchRecord | None:
        """The batch a crashed attempt reserved, if its reservation committed."""
        with self.env.begin(db=self.index.batches.records) as txn:
            cur = txn.cursor()
            if cur.set_range(u64(first_id)):
                for _, raw in cur:
                    record = BatchRecord.from_bytes(raw)
                    if record.requester == requester:
                        return record
        return None
