"""Issue 12's speed table: verification and packing with per-code records, against py-lmdb.

One data directory per number of per-code records (10^5, 10^6 and 5*10^6 with
BENCH_FULL=1; 10^5 quick): N_ISSUED codes issued, half cn-drug-20 and half
gs1-sgtin, of which `records` are commissioned (a record per code). The scans
are mixed: 90% issued codes (half of them commissioned; half bare cn-drug-20,
half gs1-sgtin element strings 01 17 10 21), 10% guessed or unknown (guesses with
a valid check digit at the issued product, never-issued products, junk text).

Baselines, in the same run and on the same scans: a py-lmdb per-code index
holding the same records (the commissioned codes, as bare keys), one `get` per
scan with the key already extracted from the scan (no parsing: generous to it),
and `putmulti` of a parent per code for packing. Groups per records count:

    issue12-verify-R   verify_many not recorded / recorded and committed / single
                       verify() (p50, p99 in the note), ratio to py-lmdb get
    issue12-flood-R    guessed, never-issued, junk scans; ratio to genuine bare scans
    issue12-pack-R     one pack event per case of 24, ratio to py-lmdb putmulti (its keys
                       are codes, random in key space: from 10^6 records on, about one
                       leaf page each; the engine packs fresh codes, whose records sit
                       together by counter)

Only the public API is used (tracecode.init/open, DataDir.issue/apply/verify/
verify_many, Batch.codes): the recorded rounds close the data directory to
commit the scan log (close() is the public way to wait for it) and reopen it
untimed. Order within a records count matters and is the file's: recording
leaves a record per scanned code and packing adds fresh codes, so both run
after the unrecorded measurements. Nothing is asserted about speed.

    python -m pytest bench/test_bench_verify_records.py              # quick (CI)
    BENCH_FULL=1 python -m pytest bench/test_bench_verify_records.py # issue 12's sizes
"""
import itertools
import random

import lmdb
import numpy as np
import pytest

import tracecode
from bench.conftest import FULL, size
from tracecode import checks
from tracecode.capacity import measure

RECORDS = [10**5, 10**6, 5 * 10**6] if FULL else [10**5]
N_ISSUED = size(2 * 10**5, 10**7)   # half cn-drug-20, half gs1-sgtin
N_SCANS = size(10**5, 10**6)
N_FLOOD = size(20_000, 200_000)     # per kind of flood
N_SINGLE = size(5_000, 20_000)      # single verify() calls
N_PACK = size(4_800, 24_000)        # codes packed per round (N_PACK / 24 events)
CASE = 24
ROUNDS = 3
CHUNK = 1 << 20                     # codes rendered at a time
DRUG, GS1 = "cn-drug-20", "gs1-sgtin"
LOT, EXPIRY, ATTRS = "L1", "20301231", {"expiry": "301231", "lot": "L1"}
PARENT = b"(00)106141410000000017"  # what the per-code baseline writes for a packed code
assert max(RECORDS) <= N_ISSUED // 2


def run(benchmark, group, fn, codes, role="engine", note=""):
    benchmark.group = group
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)


def pick(batch, idx, render="bare", attrs=None) -> list:
    """The codes of a batch at positions idx (any order), as text, rendered a chunk at a time."""
    order = np.argsort(idx, kind="stable")
    sidx = idx[order]
    out = np.empty(len(idx), object)
    for start in range(0, batch.count, CHUNK):
        lo, hi = np.searchsorted(sidx, [start, start + CHUNK])
        if lo < hi:
            chunk = batch.issuer.codes(batch.start + start, min(CHUNK, batch.count - start),
                                       render, attrs)
            out[order[lo:hi]] = [c.decode() for c in chunk[sidx[lo:hi] - start]]
    return out.tolist()


def with_check(bodies):
    return [b + checks.DAMM.calc(b) for b in bodies]


class Stage:
    """One data directory with `records` per-code records, its scans and its baseline."""

    def __init__(self, root, records):
        self.records, self.path = records, root / "data"
        d = self._d = tracecode.init(self.path)
        half, per = N_ISSUED // 2, records // 2
        batches = {s: d.issue(s, d.scheme(s).example_product(), half, lot=LOT, expiry=EXPIRY)
                   for s in (DRUG, GS1)}
        keys = []   # the baseline's records: the commissioned codes
        for s, b in batches.items():
            for i in range(0, per, CHUNK):
                bare = b.issuer.codes(b.start + i, min(CHUNK, per - i))
                texts = [c.decode() for c in bare]
                keys += bare.tolist()
                results = d.apply(measure.commission_events(texts, 200_000, f"commission-{s}-{i}"))
                assert all(r["ok"] for r in results), results[0]
        rng, prng = np.random.default_rng(records), random.Random(records)
        q = N_SCANS * 9 // 10 // 4
        scans, base = [], []
        for s, render, attrs in ((DRUG, "bare", None), (GS1, "element", ATTRS)):
            for lo, hi in ((0, per), (max(RECORDS) // 2, half)):  # commissioned, not commissioned
                idx = rng.integers(lo, hi, q)
                scans += pick(batches[s], idx, render, attrs)
                base += [c.encode() for c in pick(batches[s], idx)] if render != "bare" \
                    else [c.encode() for c in scans[-q:]]
        drug_id = d.scheme(DRUG).example_product()["drug_id"]
        rest = N_SCANS - len(scans)
        self.floods = {
            "genuine": pick(batches[DRUG], rng.integers(0, half, N_FLOOD)),
            "guessed": with_check([f"{drug_id}{prng.randrange(10**12):012d}" for _ in range(N_FLOOD)]),
            "never": with_check([f"{1_000_000 + i % 7_000_000:07d}{prng.randrange(10**12):012d}"
                                 for i in range(N_FLOOD)]),
            "junk": ["".join(prng.choice("0123456789ABCXYZ-:/ ") for _ in range(prng.randrange(5, 40)))
                     for _ in range(N_FLOOD)]}
        odd = (self.floods["guessed"][: rest * 4 // 10] + self.floods["never"][: rest * 3 // 10]
               + self.floods["junk"][: rest - rest * 4 // 10 - rest * 3 // 10])
        scans += odd
        base += [s.encode() for s in odd]
        perm = list(range(len(scans)))
        prng.shuffle(perm)
        self.scans = [scans[i] for i in perm]
        self.base_scans = [base[i] for i in perm]
        keys.sort()
        self.base_keys = keys
        self.env = lmdb.open(str(root / "base"), map_size=1 << 36)
        with self.env.begin(write=True) as txn:
            txn.cursor().putmulti(((k, b"\x01") for k in keys), append=True)

    @property
    def d(self):
        if self._d is None:
            self._d = tracecode.open(self.path)
        return self._d

    def close(self):
        if self._d is not None:
            self._d.close()
            self._d = None


@pytest.fixture(scope="module", params=RECORDS, ids=lambda r: f"records={r}")
def stage(request, tmp_path_factory):
    st = Stage(tmp_path_factory.mktemp(f"records{request.param}"), request.param)
    yield st
    st.close()
    st.env.close()


def mix(st):
    return (f"{len(st.scans):,} mixed scans, {N_ISSUED:,} issued, {st.records:,} per-code records")


def test_baseline_lmdb_get(benchmark, stage):
    keys, env = stage.base_scans, stage.env

    def lookup():
        with env.begin() as txn:
            get = txn.get
            return sum(get(k) is not None for k in keys)
    found = run(benchmark, f"issue12-verify-{stage.records}", lookup, len(keys), "baseline",
                f"py-lmdb get per scan, key pre-extracted, {stage.records:,} records")
    assert 0 < found < len(keys)


def test_engine_verify_many(benchmark, stage):
    d, scans = stage.d, stage.scans
    out = run(benchmark, f"issue12-verify-{stage.records}", lambda: d.verify_many(scans, record=False),
              len(scans), note="verify_many, not recorded; " + mix(stage))
    assert len(out.verdicts) == len(scans)


def test_engine_verify_single(benchmark, stage):
    d, sample = stage.d, stage.scans[:N_SINGLE]
    assert d.verify(stage.floods["genuine"][0], record=False).verdict.name in ("GENUINE", "NOT_COMMISSIONED")

    def one_by_one():
        for s in sample:
            d.verify(s, record=False)
    run(benchmark, f"issue12-verify-{stage.records}", one_by_one, len(sample),
        note="single verify() calls, not recorded")
    lat = measure.summary(measure.latencies(lambda s: d.verify(s, record=False), sample))
    benchmark.extra_info["note"] += f"; p50 {lat['p50_us']:.1f} us, p99 {lat['p99_us']:.1f} us"


@pytest.mark.parametrize("kind", ["genuine", "guessed", "never", "junk"])
def test_flood_verify_many(benchmark, stage, kind):
    d, scans = stage.d, stage.floods[kind]
    notes = {"genuine": "genuine bare cn-drug-20 codes (baseline)",
             "guessed": "guesses with a valid check digit at the issued product",
             "never": "valid check digit, never-issued products (one per scan)",
             "junk": "junk text"}
    run(benchmark, f"issue12-flood-{stage.records}", lambda: d.verify_many(scans, record=False),
        len(scans), "baseline" if kind == "genuine" else "engine", notes[kind])


def test_engine_verify_many_recorded(benchmark, stage):
    scans = stage.scans

    def setup():  # reopened after the last round's close: its caches warmed, untimed
        stage.d.verify_many(scans[:1000], record=False)
        return (), {}

    def recorded():
        stage.d.verify_many(scans, place="bench")
        stage.close()   # commits the scan log (fsync included)
    benchmark.group = f"issue12-verify-{stage.records}"
    benchmark.extra_info.update(codes=len(scans), role="engine",
                                note="verify_many, every scan recorded, committed (close)")
    benchmark.pedantic(recorded, setup=setup, rounds=ROUNDS, iterations=1)


def test_baseline_lmdb_putmulti(benchmark, stage):
    rng, keys, env = random.Random(5), stage.base_keys, stage.env

    def setup():  # codes in case order: random in key space, as the engine's are
        return (rng.sample(keys, min(N_PACK, len(keys))),), {}

    def put(sample):
        with env.begin(write=True) as txn:
            txn.cursor().putmulti([(k, PARENT) for k in sample])
    benchmark.group = f"issue12-pack-{stage.records}"
    benchmark.extra_info.update(codes=N_PACK, role="baseline",
                                note="py-lmdb putmulti of a parent per code, one txn, no check")
    benchmark.pedantic(put, setup=setup, rounds=ROUNDS, iterations=1)


def test_engine_pack(benchmark, stage):
    d = stage.d
    product = d.scheme(DRUG).example_product()
    cases = itertools.count(0, N_PACK)   # SSCC numbers: N_PACK a round is more than its cases

    def setup():  # fresh codes, commissioned untimed
        texts = [c.decode() for c in d.issue(DRUG, product, N_PACK, lot=LOT, expiry=EXPIRY).codes()]
        tag = f"pack-{texts[0]}"
        assert all(r["ok"] for r in d.apply(measure.commission_events(texts, N_PACK, "setup-" + tag)))
        return (measure.pack_events(texts, CASE, tag, next(cases)),), {}

    def apply(events):
        results = d.apply(events)
        assert all(r["ok"] for r in results), results[0]
    benchmark.group = f"issue12-pack-{stage.records}"
    benchmark.extra_info.update(codes=N_PACK, role="engine",
                                note=f"one pack event per case of {CASE}, checked, committed")
    benchmark.pedantic(apply, setup=setup, rounds=ROUNDS, iterations=1)
