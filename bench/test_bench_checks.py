"""Bulk check-character validation against python-stdnum in a Python loop, same run.

Engine figures validate a pre-built array of valid codes into a reused,
pre-faulted `out` buffer: no allocation in the timed region. The baseline is
what a team without the engine would write: stdnum's is_valid per code.
"""
import functools

import numpy as np
import pytest
from stdnum import damm, ean, luhn
from stdnum.iso7064 import mod_11_10, mod_37_36

from bench.conftest import size
from tracecode.checks import SYSTEMS

N = size(1_000_000, 10_000_000)
N_BASELINE = size(20_000, 200_000)
# system: (code length incl. check, payload alphabet, stdnum is_valid)
CASES = {
    "gs1": (14, "0123456789", ean.is_valid),  # GTIN-14
    "luhn": (20, "0123456789", luhn.is_valid),
    "damm": (20, "0123456789", damm.is_valid),
    "mod11_10": (20, "0123456789", mod_11_10.is_valid),
    "mod37_36": (20, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", mod_37_36.is_valid),
}


def make_codes(name, n, seed=7):
    """n valid codes as a 1-D S<length> array, built vectorised."""
    length, alphabet, _ = CASES[name]
    system = SYSTEMS[name]
    chars = np.frombuffer(alphabet.encode(), np.uint8)
    rows = np.empty((n, length), np.uint8)
    rows[:, :-1] = chars[np.random.default_rng(seed).integers(0, len(chars), (n, length - 1))]
    rows[:, -1:] = system.calc_many(rows[:, :-1].copy()).view(np.uint8).reshape(n, 1)
    return rows.view(f"S{length}").ravel()


# One group per system, as the lead's conftest pairs engine and baseline by group.
SYSTEM_PARAMS = [pytest.param(name, marks=pytest.mark.benchmark(group=f"checks-validate-{name}"))
                 for name in CASES]


@functools.lru_cache(maxsize=1)  # one system's codes at a time: BENCH_FULL arrays are large
def codes_for(name):
    return make_codes(name, N)


def run(benchmark, fn, codes, role):
    benchmark.extra_info.update(codes=codes, role=role)
    return benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_validate_many(benchmark, name):
    codes, system = codes_for(name), SYSTEMS[name]
    out = np.zeros(len(codes), bool)  # pre-faulted, reused every round
    run(benchmark, lambda: system.validate_many(codes, out=out), len(codes), "engine")
    assert out.all()


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_stdnum_is_valid_loop(benchmark, name):
    is_valid = CASES[name][2]
    # The same seed makes these the first N_BASELINE of the engine's codes.
    strings = [c.decode() for c in make_codes(name, N_BASELINE).tolist()]
    result = run(benchmark, lambda: [is_valid(c) for c in strings], len(strings), "baseline")
    assert all(result)
