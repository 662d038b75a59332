"""Shards by product: the shard map (product -> shard) and the routing of issuance and
verification to the shard holding a product.

The map lives in etcd (EtcdShardMap: keys /tracecode/shardmap/SCHEME/PRODUCT-KEY-hex, the
shard registry at /tracecode/shards/NAME), not in a table: etcd is already the cluster's
replicated, linearisable store (Patroni's), it survives the loss of any one shard, and a
table would have to live in one shard (making it the one every other depends on) or in a
cluster of its own. A product is placed once, by a create-if-absent transaction (two nodes
placing the same new product agree on the first one's choice), on the shard with the fewest
products (counts per shard at /tracecode/shardcount/NAME, bumped by that same transaction only
if unchanged since read, so a placement reads a key per shard, not the whole map); entries
never change afterwards (moving a product between shards is not built), so a node caches
them for good. A product the map does not hold is not cached: a scan of an unknown product
costs one map lookup, and never a question to every shard.

ShardedData routes over one object per shard with the data directory's verbs (issue,
verify_many: a DataDir on LMDB, or on a PgStore once `tracecode.open(URL)` opens one);
every shard shares the master key (codes are FF1 under it), so one parse of a batch tells
each scan's product, the map its shard, and each shard verifies its rows.
"""
from __future__ import annotations

import base64

import numpy as np

from ...errors import TracecodeError

MAP_KEY = "/tracecode/shardmap/"
# products per shard, kept by the placing transaction itself: a placement reads these few keys,
# not the whole map (which grows with every product)
COUNT_KEY = "/tracecode/shardcount/"
PLACE_TRIES = 32   # placements racing on one shard's count: each lost race is one more round


class ShardMapError(TracecodeError):
    """The shard map cannot answer (etcd unreachable) or names a shard that is not configured."""


class MemoryShardMap:
    """The map in this process (tests, and one node without etcd)."""

    def __init__(self, shards: list[str]):
        self.shards = list(shards)
        self._map: dict = {}
        self.lookups = 0

    def get(self, scheme: str, product_key: bytes) -> str | None:
        self.lookups += 1
        return self._map.get((scheme, bytes(product_key)))

    def create(self, scheme: str, product_key: bytes, shard: str) -> str:
        return self._map.setdefault((scheme, bytes(product_key)), shard)

    def counts(self) -> dict:
        out = dict.fromkeys(self.shards, 0)
        for s in self._map.values():
            out[s] = out.get(s, 0) + 1
        return out

    def place(self, scheme: str, product_key: bytes) -> str:
        counts = self.counts()
        return self.create(scheme, product_key, min(self.shards, key=lambda s: (counts.get(s, 0), s)))


class EtcdShardMap:
    """The map in etcd (tracecode.cluster.etcd.Etcd: any endpoint that answers)."""

    def __init__(self, etcd, shards: list[str]):
        self.etcd, self.shards = etcd, list(shards)
        self.lookups = 0

    @staticmethod
    def _key(scheme: str, product_key: bytes) -> str:
        return f"{MAP_KEY}{scheme}/{bytes(product_key).hex()}"

    def get(self, scheme: str, product_key: bytes) -> str | None:
        self.lookups += 1
        try:
            v = self.etcd.get(self._key(scheme, product_key))
        except Exception as e:   # EtcdUnavailable, a malformed answer
            raise ShardMapError(f"the shard map is unreachable: {e}") from e
        return v.decode() if v is not None else None

    def create(self, scheme: str, product_key: bytes, shard: str) -> str:
        try:
            return self.etcd.create(self._key(scheme, product_key), shard.encode()).decode()
        except Exception as e:
            raise ShardMapError(f"the shard map is unreachable: {e}") from e

    def place(self, scheme: str, product_key: bytes) -> str:
        """Place a new product on the shard with the fewest, in one transaction that puts the map
        entry only if absent AND bumps that shard's count only if no placement changed it since
        it was read (else read the counts again): the counts stay exact under concurrent
        placements, and a placement reads the shards' count keys, not the whole map."""
        key = _b64(self._key(scheme, product_key))
        try:
            for _ in range(PLACE_TRIES):
                have = self.etcd.get_prefix_revisions(COUNT_KEY)
                seeding = not have   # the first placement with counters: count the map once
                counts = self.counts() if seeding else {
                    s: int(have[COUNT_KEY + s][0]) if COUNT_KEY + s in have else 0 for s in self.shards}
                choice = min(self.shards, key=lambda s: (counts.get(s, 0), s))
                counts[choice] = counts.get(choice, 0) + 1
                bumped = list(self.shards) if seeding else [choice]
                compare = [{"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}]
                compare += [{"key": _b64(COUNT_KEY + s), "target": "MOD", "result": "EQUAL",
                             "mod_revision": str(have.get(COUNT_KEY + s, (b"", 0))[1])} for s in bumped]
                r = self.etcd.txn(compare,
                                  [{"request_put": {"key": key, "value": _b64(choice)}}]
                                  + [{"request_put": {"key": _b64(COUNT_KEY + s),
                                                      "value": _b64(str(counts.get(s, 0)))}} for s in bumped],
                                  [{"request_range": {"key": key}}])
                if r.get("succeeded"):
                    return choice
                kvs = r["responses"][0]["response_range"].get("kvs") or []
                if kvs:   # another node placed this product first: its choice holds
                    return base64.b64decode(kvs[0].get("value", "")).decode()
        except ShardMapError:
            raise
        except Exception as e:   # EtcdUnavailable, a malformed answer
            raise ShardMapError(f"the shard map is unreachable: {e}") from e
        raise ShardMapError(f"placing a product lost {PLACE_TRIES} races on the shard counts in a row")

    def counts(self) -> dict:
        """Products per shard, counted over the whole map (the exact figure, for reports)."""
        out = dict.fromkeys(self.shards, 0)
        try:
            entries = self.etcd.get_prefix(MAP_KEY).values()
        except Exception as e:   # EtcdUnavailable, a malformed answer
            raise ShardMapError(f"the shard map is unreachable: {e}") from e
        for v in entries:
            out[v.decode()] = out.get(v.decode(), 0) + 1
        return out


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class ShardRouter:
    """product -> shard, with the entries the map gave cached (they never change)."""

    def __init__(self, shard_map):
        self.map = shard_map
        self._cache: dict = {}

    def shard_of(self, scheme: str, product_key: bytes) -> str | None:
        key = (scheme, bytes(product_key))
        hit = self._cache.get(key)
        if hit is None:
            hit = self.map.get(scheme, product_key)
            if hit is not None:
                self._check(hit)
                self._cache[key] = hit
        return hit

    def place(self, scheme: str, product_key: bytes) -> str:
        """The product's shard, placing a new product on the shard with the fewest."""
        hit = self.shard_of(scheme, product_key)
        if hit is not None:
            return hit
        hit = self.map.place(scheme, product_key)
        self._check(hit)
        self._cache[(scheme, bytes(product_key))] = hit
        return hit

    def _check(self, shard: str) -> None:
        if shard not in self.map.shards:
            raise ShardMapError(f"the shard map names shard {shard!r}, which this node does not know")


class ShardedVerify:
    """verify_many over shards: the records of every scan in the order given (``records``,
    ``verdicts``), and which shard answered each (``shard``: index into ShardedData.names)."""

    def __init__(self, records: np.ndarray, shard: np.ndarray, parts: list):
        self.records, self.shard, self.parts = records, shard, parts

    def __len__(self):
        return len(self.records)

    @property
    def verdicts(self) -> np.ndarray:
        return self.records["verdict"]


class ShardedData:
    """Issuance and verification routed by product over shards: {name: data directory}."""

    def __init__(self, shards: dict, shard_map):
        if not shards:
            raise ShardMapError("no shards")
        self.shards = dict(shards)
        self.names = list(self.shards)
        self.router = ShardRouter(shard_map)
        # unknown products are verified by one shard (which answers "not ours"): the first
        self.fallback = self.names[0]

    def shard_for(self, scheme: str, product: dict):
        dd = self.shards[self.fallback]
        iss = dd.issuer(scheme, product)
        return self.router.place(iss.scheme.name, iss.product_key)

    def issue(self, scheme: str, product: dict, count: int, **details):
        """A batch reserved on the product's shard (placed on first issuance)."""
        return self.shards[self.shard_for(scheme, product)].issue(scheme, product, count, **details)

    def verify_many(self, scans: list, **kw) -> ShardedVerify:
        """One parse to find each scan's product (one map lookup per distinct product not yet
        cached), then each shard verifies its rows in one call."""
        scans = list(scans)
        n = len(scans)
        parser = self.shards[self.fallback].index.parser
        parsed = parser.parse_many(scans)
        shard_ix = np.zeros(n, np.int32)     # rows of no known product: the fallback (0)
        for scheme, iss, members in parsed.groups:
            name = self.router.shard_of(scheme.name, iss.product_key)
            if name is not None:
                shard_ix[np.arange(n)[members]] = self.names.index(name)
        records, parts = None, []
        for i, name in enumerate(self.names):
            rows = np.flatnonzero(shard_ix == i)
            if not len(rows):
                continue
            part = self.shards[name].verify_many([scans[r] for r in rows], **kw)
            if records is None:
                records = np.zeros(n, part.records.dtype)
            records[rows] = part.records
            parts.append((name, rows, part))
        return ShardedVerify(records if records is not None else np.zeros(0), shard_ix, parts)
