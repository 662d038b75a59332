"""The products an index has issued, as the characters they have in a code.

A product that never had a batch (no product id) cannot have a genuine code, so
a scan of it is UNKNOWN without building its Issuer or running FF1. The scan
parser asks this set first (``rows`` for a batch, ``has`` for one scan).

Several processes issue into one LMDB environment, so the set follows the
index's ``next_product`` counter, read in the caller's transaction: when it
moved, the product ids from the last one seen onwards are read (a few records;
a new product is rare). Its size is that of the index's products, not of the
scans: a made-up product adds nothing.
"""
from __future__ import annotations

import json
import threading

import numpy as np

from .records import FIRST_PRODUCT_ID


class KnownProducts:
    def __init__(self, batches, schemes: dict):
        self.batches = batches
        self.schemes = schemes
        self._mark = None                  # next_product as last read
        self._next = FIRST_PRODUCT_ID      # the first product id not read yet
        self._chars: dict = {}             # scheme name -> frozenset of product characters
        self._sorted: dict = {}            # scheme name -> (that set, its sorted S array)
        self._lock = threading.Lock()

    def refresh(self, txn) -> "KnownProducts":
        """Bring the set up to the transaction's view of the index; returns self."""
        mark = txn.get(b"next_product", db=self.batches.meta)
        if mark != self._mark:
            with self._lock:
                self._read_new(txn)
                self._mark = mark
        return self

    def _read_new(self, txn) -> None:
        cur = txn.cursor(db=self.batches.product_ids)
        if not cur.set_range(self._next.to_bytes(4, "big")):
            return
        added: dict = {}
        last = self._next - 1
        for key, raw in cur:
            rec = json.loads(raw)
            scheme = self.schemes.get(rec.get("scheme"))
            if scheme is not None:  # a scheme this process did not load has no scans here
                product = rec.get("product") or {}
                chars = b"".join(str(product.get(f.name, "")).encode() for f in scheme.product_fields)
                added.setdefault(scheme.name, []).append(chars)
            last = int.from_bytes(key, "big")
        # New sets replace the old ones (never mutated): other threads may be reading them.
        for name, chars in added.items():
            self._chars[name] = self._chars.get(name, frozenset()) | frozenset(chars)
        self._next = last + 1

    def has(self, scheme, chars: bytes) -> bool:
        return chars in self._chars.get(scheme.name, ())

    def rows(self, scheme, prod: np.ndarray) -> np.ndarray:
        """Which rows of (N, width) product characters name an issued product."""
        chars = self._chars.get(scheme.name, frozenset())
        cached = self._sorted.get(scheme.name)
        if cached is None or cached[0] is not chars:  # built from the set it belongs to
            width = prod.shape[1]
            cached = (chars, np.array(sorted(chars), f"S{max(width, 1)}"))
            self._sorted[scheme.name] = cached
        table = cached[1]
        if not len(table) or not len(prod):
            return np.zeros(len(prod), bool)
        keys = np.ascontiguousarray(prod).view(f"S{prod.shape[1]}").ravel()
        at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        return table[at] == keys
