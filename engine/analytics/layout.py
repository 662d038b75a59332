"""The Parquet export's layout (README "Parquet export"; export.py writes it):
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
# the lifecycle events error declarations undid: the engines' `events` view leaves the
# events whose seq is an event_seq here out
UNDONE = pa.schema([
    ("seq", pa.int64()),              # the error declaration's seq in the EPCIS log
    ("time", TS),                     # its declarationTime (else its recordTime)
    ("event_seq", pa.int64()),        # the lifecycle event it undid: events.seq
    ("event_id", pa.string()),        # that event's id: events.event_id
    ("epcis_event_id", pa.string()),  # the EPCIS event declared erroneous (its eventID or hash)
    ("reason", pa.string()),          # the declaration's reason (bare CBV word)
    ("corrective_event_ids", pa.list_(pa.string()))])
CODES = pa.schema([
    ("code", pa.string()), ("scheme", pa.string()), ("product", pa.string()),
    ("batch", pa.int64()), ("status", pa.string()), ("parent", pa.string()),
    ("first_event_time", TS), ("last_event_time", TS), ("scan_count", pa.int64())])
# in the order the engines make their views: undone before the events it filters
SCHEMAS = {"scans": SCANS, "undone": UNDONE, "events": EVENTS, "codes": CODES}


def parts(root: Path, table: str) -> list[Path]:
    """The Parquet files of a table: every day= partition of scans/events/undone, the newest
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
