"""The Parquet export's layout (README "Parquet export", helper D's export.py writes it):
Arrow schemas of scans/, events/, codes/ and where their parts are."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from .errors import AnalyticsError

TS = pa.timestamp("us", tz="UTC")
SCANS = pa.schema([
    ("seq", pa.int64()), ("time", TS), ("code", pa.string()), ("scheme", pa.string()),
    ("product", pa.string()), ("batch", pa.int64()), ("verdict", pa.string()),
    ("scanner", pa.string()), ("place", pa.string()), ("region", pa.string()),
    ("lat", pa.float64()), ("lon", pa.float64()), ("client", pa.string())])
EVENTS = pa.schema([
    ("seq", pa.int64()), ("event_id", pa.string()), ("time", TS), ("kind", pa.string()),
    ("action", pa.string()), ("biz_step", pa.string()), ("disposition", pa.string()),
    ("code", pa.string()), ("product", pa.string()), ("parent", pa.string()),
    ("source_party", pa.string()), ("source_region", pa.string()),
    ("destination_party", pa.string()), ("destination_region", pa.string()),
    ("read_point", pa.string()), ("biz_location", pa.string()), ("quantity", pa.float64()),
    ("uom", pa.string())])
CODES = pa.schema([
    ("code", pa.string()), ("scheme", pa.string()), ("product", pa.string()),
    ("batch", pa.int64()), ("status", pa.string()), ("parent", pa.string()),
    ("first_event_time", TS), ("last_event_time", TS), ("scan_count", pa.int64())])
SCHEMAS = {"scans": SCANS, "events": EVENTS, "codes": CODES}


def parts(root: Path, table: str) -> list[Path]:
    """The Parquet files of a table: every day= partition of scans/events, the newest
    snapshot= of codes."""
    base = Path(root) / table
    if not base.is_dir():
        return []
    if table == "codes":
        snaps = sorted(p for p in base.iterdir() if p.is_dir() and p.name.startswith("snapshot="))
        return sorted(snaps[-1].glob("*.parquet")) if snaps else []
    return sorted(base.glob("day=*/*.parquet"))


def check_root(root) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise AnalyticsError(f"{root}: no such export directory")
    if not any(parts(root, t) for t in SCHEMAS):
        raise AnalyticsError(f"{root}: no scans/, events/ or codes/ parts (is it a "
                             f"`tracecode export --parquet` directory?)")
    return root
