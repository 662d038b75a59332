"""Which master-key version a scanned code is under, without trying every key on every scan.

Each batch records its key version (BatchRecord.key_version). Counters of a product only
grow, so after a rotation the product's new batches lie above all its older ones: the
batch table, sorted by counter, is also a table of versions. A product whose batches all
use one version (every product of a directory that never rotated, and every product first
issued after a rotation) costs one FF1 decryption per scan, as before.

A product with batches under several versions: the scan is decrypted under each of its
versions, newest first, until the counter falls inside a batch *of that version*. A wrong
key gives a pseudo-random counter, which lands inside one of the product's batches with the
odds of guessing a code (at most 1 in 10,000 by the guessing bound), and inside a batch of
the version that produced it with lower odds still: so a genuine code of the newest version
costs one decryption, one of an older version one more per newer version, and a counterfeit
one per version the product has (bench/test_bench_keys.py measures it).
"""
from __future__ import annotations

import bisect

import numpy as np

from ..cache import BoundedCache

VERSION_CACHE = 16384   # products' version tables kept (LRU), each keyed by its table's mark


class KeyVersions:
    """Version tables of products, and issuers of versions other than the current one."""

    def __init__(self, index):
        self._index = index
        self._tables = BoundedCache(VERSION_CACHE)    # (scheme, product key) -> (mark, versions)
        self._issuers = BoundedCache(VERSION_CACHE)   # (scheme, product key, version) -> Issuer

    def issuer(self, scheme, product: dict, version: int, current):
        """The product's issuer under `version` (`current`: the parser's, when it is that one)."""
        if current is not None and current.key_version == version:
            return current
        key = (scheme.name, scheme.product_key(product), version)
        hit = self._issuers.get(key)
        if hit is None:
            from ..issuance import Issuer
            hit = self._issuers[key] = Issuer(scheme, product, self._index.keyring.key(version))
        return hit

    def table(self, view, scheme_name: str, product_key: bytes):
        """(starts, ends, ids, versions) of a product's batches; versions aligned with ids."""
        index = self._index
        mark, (starts, ends, ids), _ = index._table_entry(view, scheme_name, product_key)
        key = (scheme_name, product_key)
        hit = self._tables.get(key)
        if hit is None or hit[0] != mark:
            versions = np.array([index._batch(view, int(b)).key_version for b in ids.tolist()], np.int64)
            hit = self._tables[key] = (mark, versions, frozenset(versions.tolist()))
        return starts, ends, ids, hit[1], hit[2]

    def cached(self, key: tuple, mark) -> frozenset | None:
        """The key versions of (scheme name, product key)'s batches as drawn for the table
        at `mark`, None when not drawn for it (no store read)."""
        hit = self._tables.get(key)
        return hit[2] if hit is not None and hit[0] == mark else None

    def settle(self, view, parsed, scheme, iss, members) -> None:
        """Put right the counters of a group of scans of one product whose batches use other
        versions than the parser's (in place: parsed.counter, parsed.counter_ok)."""
        if view.product_id(scheme.name, iss.product_key) is None:
            return
        starts, ends, ids, versions, distinct = self.table(view, scheme.name, iss.product_key)
        if distinct <= {iss.key_version}:
            return   # the usual case: the parser's key is the product's only one
        rows = np.arange(len(parsed.records))[members]
        codes = parsed.records["code"][rows].astype(f"S{scheme.length}")
        counter = parsed.counter[rows].copy()
        ok = np.zeros(len(rows), bool)
        pending = np.arange(len(rows))
        for v in sorted(distinct, reverse=True):
            if v == iss.key_version:
                c, good = counter[pending], parsed.counter_ok[rows[pending]]
            else:
                c, good = self.issuer(scheme, iss.product, v, iss).counters(codes[pending])
                good = good & (c < scheme.capacity)
            pos = np.searchsorted(starts, c, side="right") - 1
            at = np.maximum(pos, 0)
            inside = good & (pos >= 0) & (c < ends[at]) & (versions[at] == v)
            counter[pending[inside]] = c[inside]
            ok[pending[inside]] = True
            pending = pending[~inside]
            if not len(pending):
                break
        parsed.counter[rows] = counter
        parsed.counter_ok[rows] = ok

    def counter_of(self, view, scheme, iss, code: bytes, counter):
        """The single-scan form of settle: the code's counter under the version whose batch
        holds it, or None."""
        starts, ends, ids, versions, distinct = self.table(view, scheme.name, iss.product_key)
        if distinct <= {iss.key_version}:
            return counter
        for v in sorted(distinct, reverse=True):
            c = counter if v == iss.key_version else self.issuer(scheme, iss.product, v, iss).counter(code)
            if c is None or c >= scheme.capacity:
                continue
            pos = bisect.bisect_right(starts.tolist(), c) - 1
            if pos >= 0 and c < int(ends[pos]) and int(versions[pos]) == v:
                return c
        return None

    def version_at(self, view, scheme_name: str, product_key: bytes, counter: int) -> int | None:
        """The key version of the batch holding a counter (None: no batch holds it)."""
        starts, ends, ids, versions, _ = self.table(view, scheme_name, product_key)
        pos = int(np.searchsorted(starts, counter, side="right")) - 1
        if pos >= 0 and counter < int(ends[pos]):
            return int(versions[pos])
        return None
