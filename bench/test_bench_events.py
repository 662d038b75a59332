"""Lifecycle event ingestion in bulk, against per-code indexes written in the same run.

Engine: a production line commissions N codes in one event, packs them into
cases of 24 (one AggregationEvent per case, all in one call), a warehouse ships
N codes in one event; each is validated against every code's state and
committed. Baselines: what a team with a record per code would write to set a
status or a parent — py-lmdb putmulti, SQLite executemany in one transaction,
Redis pipelined SETs — with no state check at all. Every round gets fresh codes
(a code is commissioned once), made outside the timed region.
"""
import secrets
import sqlite3

import lmdb
import pytest

import tracecode
from bench.conftest import size
from tracecode.capacity import measure

N = size(10_000, 200_000)       # codes per round
N_BASE = size(200_000, 2_000_000)  # codes already in a baseline's per-code index
CASE = 24
ROUNDS = 3
SCHEME = measure.ISSUE_SCHEME
ACTIONS = [pytest.param(a, marks=pytest.mark.benchmark(group=f"events-{a}"))
           for a in ("commission", "pack", "ship")]
# What a per-code baseline writes: a status, or the parent's code.
VALUE = {"commission": b"\x01", "pack": b"(00)106141410000000017", "ship": b"\x02"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("events") / "data")
    yield d, d.scheme(SCHEME).example_product()
    d.close()


@pytest.mark.parametrize("action", ACTIONS)
def test_engine_events(benchmark, engine, action):
    d, product = engine
    cases = iter(range(0, 10**9, N))  # SSCC numbers: N per round is more than its cases

    def setup():
        texts = [c.decode() for c in d.issue(SCHEME, product, N).codes()]
        tag = f"{action}-{texts[0]}"
        if action != "commission":
            assert all(r["ok"] for r in d.apply(measure.commission_events(texts, N, "setup-" + tag)))
        events = {"commission": lambda: measure.commission_events(texts, N, tag),
                  "pack": lambda: measure.pack_events(texts, CASE, tag, next(cases)),
                  "ship": lambda: [{"id": tag, "action": "ship", "codes": texts}]}[action]()
        return (events,), {}

    def apply(events):
        results = d.apply(events)
        assert all(r["ok"] for r in results), results[0]
    what = f"one event per case of {CASE}" if action == "pack" else f"one event of {N:,} codes"
    benchmark.extra_info.update(codes=N, role="engine", note=f"{action}: {what}, checked, committed")
    benchmark.pedantic(apply, setup=setup, rounds=ROUNDS, iterations=1)


@pytest.fixture(scope="module")
def serials():
    return sorted({f"8177322{secrets.randbelow(10**13):013d}".encode() for _ in range(N_BASE)})


def rounds_of(benchmark, fn, serials, note):
    """Rounds of fn(keys) over fresh slices of N of the baseline's codes (spread over them)."""
    slices = iter([serials[i::N_BASE // N][:N] for i in range(ROUNDS)])
    benchmark.extra_info.update(codes=N, role="baseline", note=note)
    benchmark.pedantic(fn, setup=lambda: ((next(slices),), {}), rounds=ROUNDS, iterations=1)


@pytest.mark.parametrize("action", ACTIONS)
def test_baseline_lmdb_per_code(benchmark, tmp_path, serials, action):
    env = lmdb.open(str(tmp_path / "base"), map_size=1 << 34)
    with env.begin(write=True) as txn:
        txn.cursor().putmulti([(k, b"\x00") for k in serials], append=True)

    def put(keys):
        with env.begin(write=True) as txn:
            txn.cursor().putmulti([(k, VALUE[action]) for k in keys])
    rounds_of(benchmark, put, serials, "py-lmdb putmulti, a record per code")


@pytest.mark.parametrize("action", ACTIONS)
def test_baseline_sqlite_per_code(benchmark, tmp_path, serials, action):
    db = sqlite3.connect(tmp_path / "base.sqlite")
    db.execute("CREATE TABLE codes (code TEXT PRIMARY KEY, status INTEGER, parent TEXT)")
    db.executemany("INSERT INTO codes VALUES (?, 0, NULL)", ((k.decode(),) for k in serials))
    db.commit()
    column = "parent" if action == "pack" else "status"

    def update(keys):
        db.executemany(f"UPDATE codes SET {column} = ? WHERE code = ?",
                       ((VALUE[action], k.decode()) for k in keys))
        db.commit()
    rounds_of(benchmark, update, serials, "SQLite UPDATE per code, one transaction")


@pytest.mark.parametrize("action", ACTIONS)
def test_baseline_redis_per_code(benchmark, redis_client, serials, action):
    def put(keys):  # pipelines of 10,000 commands: one of millions stalls redis-py
        for i in range(0, len(keys), 10_000):
            pipe = redis_client.pipeline(transaction=False)
            for k in keys[i:i + 10_000]:
                pipe.set(k, VALUE[action])
            pipe.execute()
    rounds_of(benchmark, put, serials, "Redis SET per code, pipelined, loopback")
