"""Registering livestock ear tags (cn-eartag-15, 15 digits, assigned by the tagging
authority) against py-lmdb putmulti of the same records in the same run, as
bench/test_bench_register.py does for equipment codes (issue 15: >= 0.5 M codes/s at 1e6,
BENCH_FULL=1). Tags come in county runs (tests/livestock_data.py), so keys are clustered."""
import pytest

from bench.conftest import size
from bench.registering import baseline_putmulti, engine_register
from tests.livestock_data import ear_tags

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
