"""Verification against the index, against per-code indexes measured in the same run.

Baselines: what a team would build without FF1 — every issued serial stored as
a key, looked up per scan — in py-lmdb, in SQLite with a primary key, and in
Redis (when a redis-server is installed). The engine stores nothing per issued
code (one record per batch) and recovers the batch from the serial with FF1.
The data sets and the index-size and latency helpers are those of
`tracecode capacity` (tracecode.capacity.measure).
"""
import random
import secrets
import sqlite3

import lmdb
import numpy as np
import pytest

import tracecode
from bench.conftest import FULL, size
from tracecode.capacity import measure
from tracecode.index import Verdict

N_ISSUED = size(1_000_000, 10**8 - 1)  # quick: 10^6; full: the whole of one cn-drug-20 product
N_SCANS = size(20_000, 10_000_000)
N_BASE = size(200_000, 10_000_000)
ROUNDS = 3 if FULL else 5
PIPELINE = 10_000       # Redis commands per pipeline


def run(benchmark, fn, codes, role="engine", note=""):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d, scans = measure.verification_data(tmp_path_factory.mktemp("bench") / "data", N_ISSUED, N_SCANS)
    yield d, scans
    d.close()


@pytest.fixture(scope="module")
def random_serials():
    return sorted({f"8177322{secrets.randbelow(10**13):013d}".encode() for _ in range(N_BASE)})


def probe(serials):
    return serials[:: max(1, len(serials) // N_SCANS)]


@pytest.mark.benchmark(group="verify")
def test_baseline_lmdb_per_code(benchmark, tmp_path, random_serials):
    env = lmdb.open(str(tmp_path / "base"), map_size=1 << 34)
    with env.begin(write=True) as txn:
        txn.cursor().putmulti([(k, b"\x01") for k in random_serials], append=True)
    keys = probe(random_serials)

    def lookup():
        with env.begin() as txn:
            return sum(txn.get(k) is not None for k in keys)
    assert run(benchmark, lookup, len(keys), "baseline", "py-lmdb get per scan, random serials") == len(keys)


@pytest.mark.benchmark(group="verify")
def test_baseline_sqlite_per_code(benchmark, tmp_path, random_serials):
    db = sqlite3.connect(tmp_path / "base.sqlite")
    db.execute("CREATE TABLE codes (code TEXT PRIMARY KEY, status INTEGER)")
    db.executemany("INSERT INTO codes VALUES (?, 1)", ((k.decode(),) for k in random_serials))
    db.commit()
    keys = [k.decode() for k in probe(random_serials)]

    def lookup():
        cur = db.cursor()
        return sum(cur.execute("SELECT status FROM codes WHERE code = ?", (k,)).fetchone() is not None
                   for k in keys)
    run(benchmark, lookup, len(keys), "baseline", "SQLite primary key per scan")


@pytest.mark.benchmark(group="verify")
def test_baseline_redis_per_code(benchmark, redis_client, random_serials):
    redis_client.flushdb()
    for i in range(0, len(random_serials), 10_000):
        redis_client.mset({k: b"\x01" for k in random_serials[i:i + 10_000]})
    keys = probe(random_serials)

    def lookup():  # pipelines of PIPELINE commands: one of millions stalls redis-py
        found = 0
        for i in range(0, len(keys), PIPELINE):
            pipe = redis_client.pipeline(transaction=False)
            for k in keys[i:i + PIPELINE]:
                pipe.get(k)
            found += sum(v is not None for v in pipe.execute())
        return found
    assert run(benchmark, lookup, len(keys), "baseline",
               "Redis GET per scan, pipelined, loopback") == len(keys)


@pytest.mark.benchmark(group="verify")
def test_engine_verify_many(benchmark, data):
    d, scans = data
    batch = run(benchmark, lambda: d.verify_many(scans, record=False), len(scans),
                note=f"verdicts, {N_ISSUED:,} issued, half commissioned")
    assert {Verdict(v).name for v in np.unique(batch.verdicts)} == {"GENUINE", "NOT_COMMISSIONED"}


@pytest.mark.benchmark(group="verify")
def test_engine_verify_many_recorded(benchmark, data):
    d, scans = data
    run(benchmark, lambda: (d.verify_many(scans, place="bench"), d.index.log.flush()), len(scans),
        note="verdicts + scan log committed")


@pytest.mark.benchmark(group="verify")
def test_engine_verify_single(benchmark, data):
    d, scans = data
    sample = scans[:5000]

    def one_by_one():
        for s in sample:
            d.verify(s, record=False)
    run(benchmark, one_by_one, len(sample), note="single-scan verify() calls")
    lat = measure.summary(measure.latencies(lambda s: d.verify(s, record=False), sample))
    benchmark.extra_info["note"] += f", median {lat['p50_us']:.1f} us, p99 {lat['p99_us']:.1f} us"


@pytest.mark.benchmark(group="verify")
def test_engine_verify_single_recorded(benchmark, data):
    d, scans = data
    sample = scans[:5000]

    def one_by_one():
        for s in sample:
            d.verify(s, place="bench")
        d.index.log.flush()
    run(benchmark, one_by_one, len(sample), note="single-scan verify() calls, each recorded, committed")


@pytest.mark.benchmark(group="verify")
def test_engine_verify_imported(benchmark, data):
    """Codes issued elsewhere (national veterinary codes), imported per code."""
    d, _ = data
    codes = [f"2024010100001{i:011d}" for i in range(N_SCANS)]
    d.index.import_codes(codes, lot="N1", expiry="20301231", source="national")
    answers = run(benchmark, lambda: d.verify_many(codes, record=False), len(codes),
                  note="imported codes, one record each")
    assert set(answers.verdicts.tolist()) == {Verdict.GENUINE}


@pytest.mark.benchmark(group="verify")
def test_engine_verify_unknown(benchmark, data):
    """A flood of guessed codes: right length and check digit. A guess finds an issued
    code with probability issued / 10^12 (10^-6 here), so a handful may."""
    d, _ = data
    from tracecode import checks
    rng = random.Random(7)
    body = [f"8177322{rng.randrange(10**12):012d}" for _ in range(N_SCANS)]
    guesses = [b + checks.DAMM.calc(b) for b in body]
    answers = run(benchmark, lambda: d.verify_many(guesses, record=False), len(guesses),
                  note="guessed codes with a valid check digit")
    assert (answers.verdicts != Verdict.UNKNOWN).sum() <= 1 + N_SCANS * N_ISSUED // 10**11


@pytest.mark.parametrize("issued", [10**6, 10**9])
@pytest.mark.benchmark(group="verify-scale")
def test_engine_verify_at_scale(benchmark, tmp_path, issued):
    """Throughput and index size as the number of issued codes grows 1000-fold."""
    d = tracecode.init(tmp_path / "data")
    per_batch = min(issued, measure.SCALE_BATCH)
    product = tracecode.schemes.get(measure.SCALE_SCHEME).example_product()
    for _ in range(issued // per_batch):
        d.issue(measure.SCALE_SCHEME, product, per_batch, lot="L1", expiry="20301231")
    iss = d.issuer(measure.SCALE_SCHEME, product)
    step = issued // 2000
    sample = [iss.codes(k * step, 1)[0].decode() for k in range(2000)]
    d.apply([{"id": "c", "action": "commission", "codes": sample}])
    scans = sample * 10
    run(benchmark, lambda: d.verify_many(scans, record=False), len(scans),
        note=f"{issued:,} issued in {issued // per_batch} batches")
    store = d.index.store
    untouched = measure.index_bytes(store, measure.ISSUANCE)
    read = measure.index_bytes(store, measure.VERDICTS)
    touched = read + measure.index_bytes(store, measure.HISTORY)
    benchmark.extra_info["note"] += (f"; index {untouched / issued:.6f} bytes per issued code, "
                                     f"{touched / len(sample):.0f} bytes per code with an event "
                                     f"({read / len(sample):.0f} read by verification)")
    assert untouched / issued < 0.001 or issued < 10**7
    d.close()


# -- scans that name nothing: they must cost no more than genuine ones ------------------------
N_FLOOD = size(100_000, 1_000_000)


def _with_check(bodies):
    from tracecode import checks
    return [b + checks.DAMM.calc(b) for b in bodies]


@pytest.fixture(scope="module")
def floods(data):
    """Same-run scan sets of N_FLOOD each against the 10^6 issued codes: genuine bare codes,
    guesses at the issued product, codes of never-issued products (a different drug id
    per scan, check digit valid), and junk text."""
    _, scans = data
    rng = random.Random(11)
    genuine = (scans * (N_FLOOD // len(scans) + 1))[:N_FLOOD]
    guessed = _with_check([f"8177322{rng.randrange(10**12):012d}" for _ in range(N_FLOOD)])
    never = _with_check([f"{1_000_000 + i % 7_000_000:07d}{rng.randrange(10**12):012d}"
                         for i in range(N_FLOOD)])
    junk = ["".join(rng.choice("0123456789ABCXYZ-:/ ") for _ in range(rng.randrange(5, 40)))
            for _ in range(N_FLOOD)]
    return {"genuine": genuine, "guessed": guessed, "never": never, "junk": junk}


@pytest.mark.parametrize("kind", ["genuine", "guessed", "never", "junk"])
@pytest.mark.benchmark(group="verify-flood")
def test_flood_verify_many(benchmark, data, floods, kind):
    """verify_many of 10^5 scans: genuine codes are the baseline; the ratio of the others
    is their speed against genuine ones (>= 1: no dearer)."""
    d, _ = data
    notes = {"genuine": "genuine bare codes (baseline)",
             "guessed": "guesses with a valid check digit at an issued product",
             "never": "valid check digit, never-issued products (one per scan)",
             "junk": "junk text"}
    scans = floods[kind]
    out = run(benchmark, lambda: d.verify_many(scans, record=False), len(scans),
              "baseline" if kind == "genuine" else "engine", notes[kind])
    if kind != "genuine":
        assert (out.verdicts != Verdict.UNKNOWN).sum() <= 1 + len(scans) * N_ISSUED // 10**11
    assert len(d.index.parser._issuers) <= 4   # no Issuer per made-up product


@pytest.mark.parametrize("kind", ["genuine", "never", "junk"])
@pytest.mark.benchmark(group="verify-flood-single")
def test_flood_verify_single(benchmark, data, floods, kind):
    d, _ = data
    sample = floods[kind][:5000]

    def one_by_one():
        for s in sample:
            d.verify(s, record=False)
    run(benchmark, one_by_one, len(sample), "baseline" if kind == "genuine" else "engine",
        f"single verify() calls, {kind}")
