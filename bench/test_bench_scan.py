"""Scan parsing in bulk, against biip parsing the same inputs in the same run.

biip is the well-kept Python GS1 parser a team would reach for; for bare
national codes (which biip does not know) it still shows what a per-scan
Python parser costs on the same bytes. Engine figures include counter recovery
(FF1 decrypt) and use a reused output buffer.
"""
import biip
import numpy as np
import pytest

from bench.conftest import size
from tracecode import Key, schemes
from tracecode.issuance import Issuer
from tracecode.scan import Fault, ScanParser

MASTER = Key(bytes(range(32)))
N = size(1_000_000, 10_000_000)
N_BIIP = size(3_000, 100_000)  # biip parses about 5,000-10,000 scans/s


def packed(codes):
    w = codes.dtype.itemsize
    return codes.tobytes(), np.arange(0, w * (len(codes) + 1), w, dtype=np.int64)


def run(benchmark, fn, codes, role="engine", note=""):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)


@pytest.fixture(scope="module")
def drug():
    return Issuer(schemes.get("cn-drug-20"), {"drug_id": "8177322"}, MASTER).codes(0, N)


@pytest.fixture(scope="module")
def element():
    iss = Issuer(schemes.get("gs1-sgtin"), {"gtin": "09521234543213"}, MASTER)
    return iss.codes(0, N, "element", {"expiry": "261231", "lot": "A1"})


@pytest.mark.benchmark(group="scan-bare")
def test_biip_bare(benchmark, drug):
    texts = [c.decode() for c in drug[:N_BIIP]]
    run(benchmark, lambda: [biip.parse(t) for t in texts], N_BIIP, "baseline", "biip.parse per scan")


@pytest.mark.benchmark(group="scan-bare")
def test_engine_bare(benchmark, drug):
    parser = ScanParser(master_key=MASTER)
    data, offsets = packed(drug)
    out = parser.parse_many(data, offsets).records
    batch = run(benchmark, lambda: parser.parse_many(data, offsets, out=out), N,
                note="cn-drug-20, packed, counters recovered")
    assert batch.ok.all() and batch.counter_ok.all()


@pytest.mark.benchmark(group="scan-bare")
def test_engine_bare_shared_length(benchmark, drug):
    """A custom 20-digit Luhn scheme next to cn-drug-20: a tenth of the drug codes fit
    both and go through the detection rules (categories.detect), in numpy."""
    from tracecode.schemes import scheme_from_dict
    local = scheme_from_dict({"scheme": {"name": "local-20"}, "field": [
        {"name": "region", "role": "product", "length": 6},
        {"name": "serial", "role": "serial", "length": 13},
        {"name": "check", "role": "check", "length": 1, "system": "luhn"}]})
    parser = ScanParser(dict(schemes.builtin(), **{"local-20": local}), master_key=MASTER)
    data, offsets = packed(drug)
    out = parser.parse_many(data, offsets).records
    batch = run(benchmark, lambda: parser.parse_many(data, offsets, out=out), N,
                note="cn-drug-20 with a 20-digit Luhn scheme beside it (10% fit both)")
    read = np.array(batch.scheme_names + [None], object)[batch.records["scheme"]]
    assert not (read == "local-20").any()  # fitting both: AMBIGUOUS without an index
    assert 0.05 < (batch.records["fault"] == Fault.AMBIGUOUS).mean() < 0.15


@pytest.mark.benchmark(group="scan-bare")
def test_engine_bare_list(benchmark, drug):
    parser = ScanParser(master_key=MASTER)
    texts = [c.decode() for c in drug[:N // 5]]
    run(benchmark, lambda: parser.parse_many(texts), len(texts), note="cn-drug-20, list of str")


@pytest.mark.benchmark(group="scan-gs1")
def test_biip_element(benchmark, element):
    texts = [c.decode() for c in element[:N_BIIP]]
    run(benchmark, lambda: [biip.parse(t) for t in texts], N_BIIP, "baseline", "biip.parse per scan")


@pytest.mark.benchmark(group="scan-gs1")
def test_engine_element(benchmark, element):
    parser = ScanParser(master_key=MASTER)
    data, offsets = packed(element)
    out = parser.parse_many(data, offsets).records
    batch = run(benchmark, lambda: parser.parse_many(data, offsets, out=out), N,
                note="gs1-sgtin element strings (01 17 10 21), counters recovered")
    assert batch.ok.all() and batch.counter_ok.all()
