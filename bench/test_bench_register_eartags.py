"""Registering livestock ear tags (cn-eartag-15, 15 digits, assigned by the tagging
authority) against py-lmdb putmulti of the same records in the same run, as
bench/test_bench_register.py does for equipment codes (issue 15: >= 0.5 M codes/s at 1e6,
BENCH_FULL=1). Tags come in county runs (tests/livestock_data.py), so keys are clustered.

verify-registered: ear tags, detonator shell codes and equipment codes, registered, through
verify_many against verify_many of codes issued here, in one index and one run (issue 15:
registered codes verify at the index's batch speed)."""
import numpy as np
import pytest

import tracecode
from bench.conftest import size
from bench.registering import baseline_putmulti, engine_register, run
from tests.hazardous_data import detonator_codes
from tests.livestock_data import ear_tags
from tests.special_equipment_data import equipment_codes

N = size(200_000, 1_000_000)
SCHEME = "cn-eartag-15"
VALUE = (b'{"scheme":"cn-eartag-15","category":"livestock","owner":"Santai County Animal Husbandry Bureau",'
         b'"source":"tags.txt","registered":1764651000.123}')


@pytest.fixture(scope="module")
def data():
    return b"\n".join(ear_tags(N, seed=2026).tolist()) + b"\n"


@pytest.mark.benchmark(group="register-eartags")
def test_baseline_putmulti(benchmark, data, tmp_path):
    baseline_putmulti(benchmark, data, VALUE, tmp_path / "lmdb", N)


@pytest.mark.benchmark(group="register-eartags")
def test_engine_register(benchmark, data, tmp_path):
    engine_register(benchmark, data, SCHEME, tmp_path / "data", N,
                    f"{N:,} {SCHEME} tags from a file's bytes, checked, fresh index",
                    owner="Santai County Animal Husbandry Bureau", source="tags.txt")


# verify: registered codes of the three external categories through verify_many, each against
# verify_many of as many codes issued here (cn-drug-20, commissioned), in the same index and run
N_VERIFY = size(100_000, 1_000_000)
REGISTERED = {"cn-eartag-15": ear_tags, "cn-detonator-13": detonator_codes, "cn-equip-18": equipment_codes}


@pytest.fixture(scope="module")
def verify_world(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("bench-verify-registered") / "data")
    codes = {}
    for scheme, make in REGISTERED.items():
        codes[scheme] = make(N_VERIFY, seed=7)
        assert d.register(scheme, codes[scheme], owner="bench").registered == N_VERIFY
    issued = [c.decode() for c in d.issue("cn-drug-20", {"drug_id": "8177322"}, N_VERIFY).codes()]
    d.apply([{"id": "c", "action": "commission", "codes": issued}])
    codes["cn-drug-20"] = np.array([c.encode() for c in issued])
    yield d, codes
    d.close()


def _verify(benchmark, world, scheme, role, note):
    d, codes = world
    scans = [c.decode() for c in codes[scheme].tolist()]
    out = run(benchmark, lambda: d.verify_many(scans, record=False), N_VERIFY, role, note)
    assert (out.verdicts == tracecode.index.Verdict.GENUINE).all()


@pytest.mark.benchmark(group="verify-registered")
def test_baseline_verify_issued(benchmark, verify_world):
    _verify(benchmark, verify_world, "cn-drug-20", "baseline",
            f"verify_many of {N_VERIFY:,} codes issued here (cn-drug-20, commissioned)")


@pytest.mark.parametrize("scheme", list(REGISTERED))
@pytest.mark.benchmark(group="verify-registered")
def test_engine_verify_registered(benchmark, verify_world, scheme):
    _verify(benchmark, verify_world, scheme, "engine", f"verify_many of {N_VERIFY:,} registered {scheme} codes")
