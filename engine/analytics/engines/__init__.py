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
        try:
            import pyspark  # noqa: F401
        except ImportError:
            raise AnalyticsError("the spark engine needs pyspark (pip install 'tracecode[spark]') "
                                 "and Java 17 (openjdk-17-jre-headless)") from None
        from .spark_engine import SparkEngine
        return SparkEngine(root, since=since, **kw)
    raise AnalyticsError(f"unknown engine {name!r} (engines: {', '.join(ENGINES)})")
