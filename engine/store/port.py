"""The storage port: what the domain (verdicts, events, issuance, registries) asks of a store.

Batch-shaped: numpy arrays in, numpy arrays out, one call per batch of scans or codes, never
a call per code. No transaction object, cursor or key layout crosses it: a read is a view of
one consistent snapshot (``Store.reading()``), and what a key of a code looks like is the
implementation's business (it builds the ``refs`` the view reads, from product ids and
counters or from a code's text). LMDB implements it in store/lmdb/; a replicated store
(PostgreSQL) is the next implementation, run against the same tests.

Verification's read path, statistics and idempotency keys are on the port today; events and
packing (a write plan applied atomically), imports, history and registries still use the LMDB
store directly (tracecode.store.lmdb) and move behind it next.
"""
from __future__ import annotations

from typing import ContextManager, Protocol

import numpy as np


class ReadView(Protocol):
    """One consistent snapshot of the store, for the length of one verification call."""

    def known_products(self):
        """The products that have had a batch (the scan parser decides schemes by them)."""

    def product_id(self, scheme: str, product_key: bytes) -> int | None:
        """The product's id, None if it never had a batch."""

    def table_mark(self, scheme: str, product_key: bytes):
        """A token that changes whenever the product's batch table does (to cache it by)."""

    def batch_table(self, scheme: str, product_key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, ids) of the product's batches: sorted uint64 arrays."""

    def batch(self, batch_id: int):
        """The BatchRecord of an id, None if there is none."""

    def recall_seq(self, recall_keys) -> int:
        """The latest recall event's seq among a batch's recall keys, 0 if none."""

    def code_records(self, refs, place_hash: int, status, seq, scan_count, places,
                     first_scan_time, first_seq) -> None:
        """Per-code records of every ref, in bulk, into the given numpy columns."""

    def code_record(self, ref) -> tuple:
        """One code's record: (status, seq, scan count, places, first scan time, first seq, _)."""

    def imported_values(self, buf, off, found) -> list:
        """Imported codes' records of keys buf[off[i]:off[i+1]]; found[i] set for each hit."""

    def imported_one(self, ref) -> bytes | None:
        """One imported code's record (JSON bytes), None if it was not imported."""

    def scan_place(self, seq: int) -> str | None:
        """The place of a logged scan."""


class Store(Protocol):
    def reading(self) -> ContextManager[ReadView]:
        """A view of one snapshot, released on leaving the block."""

    def stats(self) -> dict:
        """events, scans, products per scheme, bytes in use and the map's size."""

    def batches_after(self, after_id: int = 0):
        """Batch records with ids above after_id, in id order."""

    def versions(self) -> dict:
        """The storage software's versions, for reports."""

    def batch(self, batch_id: int):
        """The BatchRecord of an id, None if there is none."""

    def next_batch_id(self) -> int:
        """The id the next batch will get."""

    def idempotency_get(self, client: str, key: str) -> dict | None:
        """The entry recorded under a client's idempotency key, None if none."""

    def idempotency_put(self, client: str, key: str, entry: dict) -> None:
        """Record (replace) a client's idempotency entry, durably; IndexFull on a full disk."""
