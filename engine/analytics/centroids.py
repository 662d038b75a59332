"""The region centroids (centroids.tsv, sources stated there) as an Arrow table."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pyarrow as pa

FILE = Path(__file__).with_name("centroids.tsv")


@lru_cache(maxsize=1)
def table() -> pa.Table:
    codes, lats, lons = [], [], []
    for line in FILE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        code, lat, lon = line.split("\t")
        codes.append(code)
        lats.append(float(lat))
        lons.append(float(lon))
    return pa.table({"code": pa.array(codes, pa.string()), "lat": pa.array(lats, pa.float64()),
                     "lon": pa.array(lons, pa.float64())})
