"""Generated livestock ear tags as tagging authorities hand them out: species 1 pig,
2 cattle, 3 sheep; real GB/T 2260 counties of livestock regions; serials numbered in order
within each county's batch (an authority prints tags in runs). Distinct, reproducible."""
from __future__ import annotations

import numpy as np

# (county, what it raises): Santai (Sichuan) and Anyang (Henan) pigs, Tumed Right Banner
# (Inner Mongolia) cattle and sheep, Xilinhot (Inner Mongolia) sheep
COUNTIES = (("510722", "1"), ("410522", "1"), ("150221", "2"), ("150221", "3"), ("152502", "3"))


def ear_tags(n: int, seed: int = 15) -> np.ndarray:
    """n distinct 15-digit ear tag numbers (numpy S15), counties' runs interleaved."""
    rng = np.random.default_rng(seed)
    per = -(-n // len(COUNTIES))
    out = []
    for county, species in COUNTIES:
        start = int(rng.integers(0, 10 ** 8 - per))
        serials = np.char.zfill(np.arange(start, start + per).astype("U").astype("S"), 8)
        out.append(np.char.add((species + county).encode(), serials))
    return rng.permutation(np.concatenate(out))[:n]
