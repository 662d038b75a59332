"""The shard map and routing by product (engine/store/postgres/shards.py): over LMDB data
directories as shards (the routing is the port's, whatever store a shard has), and the map in
the lab's etcd (placement agreed by a create-if-absent transaction)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import tracecode
from tracecode.store.postgres.shards import (EtcdShardMap, MemoryShardMap, ShardedData,
                                             ShardMapError, ShardRouter)


@pytest.fixture
def two_shards(tmp_path):
    """Two data directories with one master key (codes are FF1 under it): the second a copy
    of the first made before any issuance."""
    a = tracecode.init(tmp_path / "s0")
    a.close()
    shutil.copytree(tmp_path / "s0", tmp_path / "s1")
    shards = {"s0": tracecode.DataDir(tmp_path / "s0"), "s1": tracecode.DataDir(tmp_path / "s1")}
    yield shards
    for dd in shards.values():
        dd.close()


def test_products_placed_on_shards_and_verified_there(two_shards):
    m = MemoryShardMap(["s0", "s1"])
    data = ShardedData(two_shards, m)
    products = [{"drug_id": f"81773{i:02d}"} for i in range(4)]
    batches = [data.issue("cn-drug-20", p, 50) for p in products]
    placed = [data.shard_for("cn-drug-20", p) for p in products]
    assert sorted(placed) == ["s0", "s0", "s1", "s1"]     # fewest first: balanced
    for p, shard in zip(products, placed):   # each batch is on its shard and only there
        assert two_shards[shard].issued("cn-drug-20", p) == 50
        other = "s1" if shard == "s0" else "s0"
        assert two_shards[other].issued("cn-drug-20", p) == 0
    codes = [c for b in batches for c in list(b.codes())[:5]]
    bogus = ["8177399" + "0" * 12 + "0", "not a code"]
    lookups = m.lookups
    res = data.verify_many(codes + bogus)
    assert len(res) == len(codes) + 2
    assert (res.verdicts[:len(codes)] == res.verdicts[0]).all()
    genuine = res.verdicts[0]
    assert not np.isin(res.verdicts[len(codes):], [genuine]).any()
    # the products are cached; no lookup per scan
    assert m.lookups - lookups <= 1
    # the same codes verified on the shard that issued them agree
    for shard, rows, _part in res.parts:
        direct = two_shards[shard].verify_many([(codes + bogus)[r] for r in rows])
        assert (direct.verdicts == res.verdicts[rows]).all()


def test_unknown_product_costs_one_lookup_and_is_not_cached():
    m = MemoryShardMap(["a", "b"])
    r = ShardRouter(m)
    assert r.shard_of("cn-drug-20", b"1234567") is None
    assert r.shard_of("cn-drug-20", b"1234567") is None
    assert m.lookups == 2          # not cached: it may be placed by another node meanwhile
    assert r.place("cn-drug-20", b"1234567") == "a"
    assert r.shard_of("cn-drug-20", b"1234567") == "a"
    assert m.lookups == 3          # placed: cached for good


def test_map_naming_unknown_shard_refused():
    m = MemoryShardMap(["a"])
    m.create("s", b"k", "zz")
    with pytest.raises(ShardMapError, match="zz"):
        ShardRouter(m).shard_of("s", b"k")


@pytest.fixture
def etcd():
    """One etcd member (enough for the map's semantics; the lab's three: the failover tests)."""
    from cluster_lab import need_lab
    need_lab()
    import os
    import tempfile
    from pathlib import Path

    from conftest import wait_until
    from tracecode.cluster import procs
    from tracecode.cluster.etcd import Etcd
    from tracecode.cluster.ports import free_ports
    # one etcd member is enough for the map's semantics (the lab's three: the failover tests)
    root = tempfile.mkdtemp(prefix="tracecode-etcd-")
    os.chown(root, *procs.owner())   # etcd runs as the lab's user
    c, p = free_ports(2)
    rec = procs.spawn("etcd", ["/usr/bin/etcd", "--data-dir", os.path.join(root, "d"),
                               "--listen-client-urls", f"http://127.0.0.1:{c}",
                               "--advertise-client-urls", f"http://127.0.0.1:{c}",
                               "--listen-peer-urls", f"http://127.0.0.1:{p}",
                               "--initial-advertise-peer-urls", f"http://127.0.0.1:{p}",
                               "--initial-cluster", f"default=http://127.0.0.1:{p}"],
                      Path(root) / "etcd.log")
    try:
        client = Etcd([f"http://127.0.0.1:{c}"])
        wait_until(lambda: client.healthy(f"http://127.0.0.1:{c}"), 30, 0.05, "etcd")
        yield client
    finally:
        procs.stop([rec], 10)
        shutil.rmtree(root, ignore_errors=True)


def test_etcd_map_first_placement_wins(etcd):
    one, two = EtcdShardMap(etcd, ["a", "b"]), EtcdShardMap(etcd, ["a", "b"])
    assert one.create("cn-drug-20", b"8177322", "b") == "b"
    assert two.create("cn-drug-20", b"8177322", "a") == "b"   # the first placement holds
    assert ShardRouter(two).place("cn-drug-20", b"8177323") == "a"   # fewest products
    assert one.counts() == {"a": 1, "b": 1}
    assert one.get("cn-drug-20", b"0000000") is None


def test_etcd_placements_keep_counts_without_reading_the_map(etcd):
    import threading

    from tracecode.store.postgres.shards import COUNT_KEY, MAP_KEY
    full_reads = []
    real = etcd.get_prefix
    etcd.get_prefix = lambda prefix: (full_reads.append(prefix), real(prefix))[1]
    first = EtcdShardMap(etcd, ["a", "b", "c"])
    first.create("cn-drug-20", b"0000001", "c")   # placed before the counters existed
    assert ShardRouter(first).place("cn-drug-20", b"0000002") == "a"   # seeds the counts from the map
    full_reads.clear()
    placed = {}

    def node(i):
        router = ShardRouter(EtcdShardMap(etcd, ["a", "b", "c"]))
        for j in range(15):   # both nodes place the same products, racing
            placed[(i, j)] = router.place("cn-drug-20", f"{j:07d}".encode())
    threads = [threading.Thread(target=node, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert full_reads == [] and not any(p.startswith(MAP_KEY) for p in full_reads)
    assert all(placed[(0, j)] == placed[(1, j)] for j in range(15))   # one placement per product
    exact = first.counts()
    kept = {k.removeprefix(COUNT_KEY): int(v) for k, v in real(COUNT_KEY).items()}
    assert kept == exact and sum(exact.values()) == 15   # 0000001 and 0000002 are among the 15
    assert max(exact.values()) - min(exact.values()) <= 1   # fewest first, also under the race


def test_etcd_map_unreachable_is_a_shard_map_error_in_every_call():
    import socket

    from tracecode.cluster.etcd import Etcd
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed on leaving: connecting is refused
    m = EtcdShardMap(Etcd([f"http://127.0.0.1:{port}"], timeout=1), ["a", "b"])
    for call in (lambda: m.get("s", b"k"), lambda: m.create("s", b"k", "a"), m.counts,
                 lambda: ShardRouter(m).place("s", b"k")):
        with pytest.raises(ShardMapError, match="unreachable"):
            call()
