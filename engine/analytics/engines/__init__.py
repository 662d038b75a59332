"""The engines rules run on: DuckDB (embedded, the default) and Spark."""
from __future__ import annotations

from ..errors import AnalyticsError

ENGINES = ("duckdb", "spark")


def open_engine(name: str, root, since=None, **kw):
    """An engine over the export directory root (scans from since, a datetime, on)."""
    if name == "duckdb":
        from .duckdb_engine import DuckDBEngine
        return DuckDBEngine(root, since=since, **kw)
    if name == "spark":
        from .spark_engine import SparkEngine
        return SparkEngine(root, since=since, **kw)
    raise AnalyticsError(f"unknown engine {name!r} (engines: {', '.join(ENGINES)})")
