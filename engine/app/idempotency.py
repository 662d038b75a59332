"""Idempotent issuance: one batch per (client, idempotency key), ever.

The keys live in the store (Store.idempotency_get/put; LMDB keeps them in a database of
their own): (client, key) -> {fingerprint, from, batch}. Every server
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

from ..index import BatchRecord, IndexFull
from .refusal import Refusal

log = logging.getLogger("tracecode.serve")


class IdempotentIssuer:
    def __init__(self, datadir):
        self.dd = datadir
        self.index = datadir.index
        self.store = self.index.store   # keys, batches: through the storage port
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
        dbkey = (client, key)
        requester = f"{client} request {key}"
        with self._lock():
            entry = self.store.idempotency_get(client, key)
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
                entry = {"fingerprint": fingerprint, "from": self.store.next_batch_id()}
                self._put(dbkey, entry)
            batch = self.index.issue(scheme, product, count, requester=requester, **details)
            self._bind(dbkey, entry, batch)
            return batch, False

    def _bind(self, dbkey: tuple, entry: dict, batch: BatchRecord) -> None:
        """Step 3. The batch is committed and a retry finds it by its requester (as
        after a crash), so a full disk here does not refuse the request."""
        try:
            self._put(dbkey, {**entry, "batch": batch.id})
        except IndexFull as exc:
            log.warning("batch %d is issued; its idempotency key waits to be bound: %s", batch.id, exc)

    def _put(self, dbkey: tuple, entry: dict) -> None:
        self.store.idempotency_put(*dbkey, entry)

    def _batch(self, batch_id: int) -> BatchRecord:
        return self.store.batch(batch_id)

    def _find(self, first_id: int, requester: str) -> BatchRecord | None:
        """The batch a crashed attempt reserved, if its reservation committed."""
        for record in self.store.batches_after(first_id - 1):
            if record.requester == requester:
                return record
        return None
