"""Generated special equipment codes, as makers and registering authorities assign them.

Equipment varieties from the special equipment catalogue (elevators 3110-3430, cylinders
2310/2320/23T0, cranes 4110, boilers 1100...), approving regions that are GB/T 2260
provinces, licence numbers, years 2000-2025 and serials that run into letters past 99999
(TSG 08-2017); registration codes of the older rules (class, a region of the province,
YYYYMM, a 4-digit sequence); cylinder ids of the assumed local layout. Distinct codes,
reproducible by seed.
"""
from __future__ import annotations

import numpy as np

PROVINCES = ("11", "12", "13", "31", "32", "33", "35", "37", "41", "44", "50", "51", "61", "65")
VARIETIES = ("3110", "3120", "3130", "3210", "3310", "3320", "3430", "2310", "2320", "23T0",
             "4110", "4210", "1100", "2110", "9110")
CLASSES = ("3110", "3120", "3310", "2100", "2160", "2310", "4110", "1100", "5110", "6110")
SERIAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


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


def equipment_codes(n: int, seed: int = 1) -> np.ndarray:
    """cn-equip-18: variety, maker (province + licence), year, serial (1 in 20 past 99999)."""
    def make(rng, k):
        serial = _digits(rng, k, 5)
        past = rng.random(k) < 0.05   # the maker's 100,000th unit and later: a letter first
        serial[past] = np.char.add(_pick(rng, SERIAL_LETTERS, int(past.sum())), _digits(rng, int(past.sum()), 4))
        return _cat(_pick(rng, VARIETIES, k), _pick(rng, PROVINCES, k), _digits(rng, k, 3),
                    rng.integers(2000, 2026, k).astype("S4"), serial)
    return _distinct(make, n, seed)


def registration_codes(n: int, seed: int = 2, classes=CLASSES) -> np.ndarray:
    """cn-equip-reg-20: class, region (province + 4 digits), YYYYMM, 4-digit sequence."""
    def make(rng, k):
        month = np.char.zfill(rng.integers(1, 13, k).astype("S2"), 2)
        return _cat(_pick(rng, classes, k), _pick(rng, PROVINCES, k), _digits(rng, k, 4),
                    rng.integers(2000, 2026, k).astype("S4"), month, _digits(rng, k, 4))
    return _distinct(make, n, seed)


def cylinder_codes(n: int, seed: int = 3) -> np.ndarray:
    """cn-cylinder-16 (layout unverified): region, filling unit, serial."""
    def make(rng, k):
        return _cat(_pick(rng, PROVINCES, k), _digits(rng, k, 4), _digits(rng, k, 4), _digits(rng, k, 6))
    return _distinct(make, n, seed)


GENERATORS = {"cn-equip-18": equipment_codes, "cn-equip-reg-20": registration_codes,
              "cn-cylinder-16": cylinder_codes}

# issue 15's other externally assigned schemes register in the same tests (test_categories)
from tests.hazardous_data import GENERATORS as _HAZARDOUS  # noqa: E402

GENERATORS.update(_HAZARDOUS)
from tests.livestock_data import ear_tags  # noqa: E402

GENERATORS["cn-eartag-15"] = ear_tags
