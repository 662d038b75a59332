"""Registering codes others assigned (special equipment), against py-lmdb in the same run.

register: a file's bytes to stored codes, every step included (lines split, the layout
checked per code, the case fold, the keys' order, the C loop over LMDB with
MDB_NOOVERWRITE, the commits), into a fresh index each round. Baseline: py-lmdb
putmulti of the same records (the same b"ext\\0" + code keys and the same value) into a
fresh environment, the keys built from the same lines, in file order: what storing them
costs with nothing checked. Issue 15 asks >= 0.5 M codes/s for 1e6 codes (BENCH_FULL=1).

verify: registered codes verify through the index's batch path (verify_many: they are
looked up among the codes issued elsewhere in one C loop), against verify_many of the
same number of codes issued here (cn-drug-20) in the same run.
"""
import numpy as np
import pytest

import tracecode
from bench.conftest import size
from bench.registering import baseline_putmulti, engine_register, run
from tests.special_equipment_data import equipment_codes

N = size(200_000, 1_000_000)
N_VERIFY = size(100_000, 1_000_000)
SCHEME = "cn-equip-18"
VALUE = (b'{"scheme":"cn-equip-18","category":"special_equipment","owner":"maker",'
         b'"source":"codes.txt","registered":1764651000.123}')


@pytest.fixture(scope="module")
def data():
    return b"\n".join(equipment_codes(N, seed=2026).tolist()) + b"\n"


@pytest.mark.benchmark(group="register")
def test_baseline_putmulti(benchmark, data, tmp_path):
    baseline_putmulti(benchmark, data, VALUE, tmp_path / "lmdb", N)


@pytest.mark.benchmark(group="register")
def test_engine_register(benchmark, data, tmp_path):
    engine_register(benchmark, data, SCHEME, tmp_path / "data", N,
                    f"{N:,} {SCHEME} codes from a file's bytes, checked, fresh index",
                    owner="maker", source="codes.txt")


@pytest.fixture(scope="module")
def verify_world(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("bench-register-verify") / "data")
    registered = [c.decode() for c in equipment_codes(N_VERIFY, seed=7)]
    assert d.register(SCHEME, registered, owner="maker").registered == N_VERIFY
    issued = [c.decode() for c in d.issue("cn-drug-20", {"drug_id": "8177322"}, N_VERIFY).codes()]
    d.apply([{"id": "c", "action": "commission", "codes": issued}])
    yield d, registered, issued
    d.close()


@pytest.mark.benchmark(group="register-verify")
def test_baseline_verify_issued(benchmark, verify_world):
    d, _, issued = verify_world
    out = run(benchmark, lambda: d.verify_many(issued, record=False), N_VERIFY, "baseline",
              "verify_many of codes issued here (cn-drug-20, commissioned)")
    assert (out.verdicts == tracecode.index.Verdict.GENUINE).all()


@pytest.mark.benchmark(group="register-verify")
def test_engine_verify_registered(benchmark, verify_world):
    d, registered, _ = verify_world
    out = run(benchmark, lambda: d.verify_many(registered, record=False), N_VERIFY,
              note=f"verify_many of {N_VERIFY:,} registered {SCHEME} codes")
    assert (out.verdicts == tracecode.index.Verdict.GENUINE).all()
    assert np.unique(out.records["fault"]).tolist() == [0]
