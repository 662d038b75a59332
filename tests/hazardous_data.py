"""Generated hazardous-goods codes, as detonator factories and fireworks producers assign
them: GA 441-2003 shell codes (enterprise 01-99, the year's last digit, month, day, a
feature character of the allowed set including its lower-case letters, a serial numbered
in order within a day's production), electronic detonator ids and fireworks case codes of
the assumed (unverified) layouts. Distinct codes, reproducible by seed."""
from __future__ import annotations

import numpy as np

PROVINCES = ("11", "13", "14", "15", "22", "34", "35", "36", "43", "45", "51", "52", "53", "62")


def _digits(rng, n: int, width: int) -> np.ndarray:
    return np.char.zfill(rng.integers(0, 10 ** width, n).astype("U").astype("S"), width)


def _pick(rng, values, n: int) -> np.ndarray:
    return np.array([v.encode() for v in values])[rng.integers(0, len(values), n)]


def _cat(*cols) -> np.ndarray:
    out = cols[0]
    for c in cols[1:]:
        out = np.char.add(out, c)
    return out


def _distinct(make, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = np.unique(make(rng, n + n // 10 + 100))
    return rng.permutation(codes)[:n]

FEATURES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghijklmnpqrty"
HEX = "0123456789ABCDEF"


def _two(rng, k, lo, hi):
    return np.char.zfill(rng.integers(lo, hi + 1, k).astype("S2"), 2)


def detonator_codes(n: int, seed: int = 11, enterprise=None, year=None) -> np.ndarray:
    """cn-detonator-13: a day's shells numbered in order from a random start per code."""
    def make(rng, k):
        ent = _two(rng, k, 1, 99) if enterprise is None else np.full(k, enterprise.encode())
        yr = rng.integers(0, 10, k).astype("S1") if year is None else np.full(k, str(year).encode())
        return _cat(ent, yr, _two(rng, k, 1, 12), _two(rng, k, 1, 28), _pick(rng, FEATURES, k),
                    _digits(rng, k, 5))
    return _distinct(make, n, seed)


def edetonator_codes(n: int, seed: int = 12) -> np.ndarray:
    def make(rng, k):
        return _cat(_two(rng, k, 1, 99), _two(rng, k, 18, 26), _two(rng, k, 1, 12), _two(rng, k, 1, 28),
                    _pick(rng, FEATURES[:36], k), *[_pick(rng, HEX, k) for _ in range(12)])
    return _distinct(make, n, seed)


def fireworks_codes(n: int, seed: int = 13) -> np.ndarray:
    def make(rng, k):
        return _cat(_pick(rng, PROVINCES, k), _digits(rng, k, 4), _digits(rng, k, 4), _two(rng, k, 1, 9),
                    _two(rng, k, 18, 26), _two(rng, k, 1, 12), _two(rng, k, 1, 28), _digits(rng, k, 4))
    return _distinct(make, n, seed)


GENERATORS = {"cn-detonator-13": detonator_codes, "cn-edetonator-21": edetonator_codes,
              "cn-fireworks-22": fireworks_codes}
