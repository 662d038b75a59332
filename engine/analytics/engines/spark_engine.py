"""Spark SQL over the Parquet export: local[N] by default, a cluster with master= (README:
a standalone cluster). Sessions are slow to start: one per process is reused."""
from __future__ import annotations

from .. import centroids
from ..errors import AnalyticsError
from ..layout import SCHEMAS, check_root, parts

_SESSION = None


def session(master: str = "local[2]"):
    """The process's SparkSession (made once; UTC, small shuffles for small data)."""
    global _SESSION
    if _SESSION is None:
        from pyspark.sql import SparkSession
        _SESSION = (SparkSession.builder.master(master).appName("tracecode-analytics")
                    .config("spark.sql.session.timeZone", "UTC")
                    .config("spark.sql.shuffle.partitions", "8")
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.ansi.enabled", "false")
                    .getOrCreate())
        _SESSION.sparkContext.setLogLevel("ERROR")
    return _SESSION


class SparkEngine:
    DIALECT = "spark"

    def __init__(self, root, since=None, master: str = "local[2]"):
        root = check_root(root)
        self.spark = spark = session(master)
        spark.createDataFrame(centroids.table().to_pylist(),
                              "code string, lat double, lon double").createOrReplaceTempView("centroids")
        for table, schema in SCHEMAS.items():
            files = [str(p) for p in parts(root, table)]
            ddl = _ddl(schema)
            df = (spark.read.schema(ddl).parquet(*files) if files
                  else spark.createDataFrame([], ddl))
            df = df.select(*schema.names)
            if table == "scans" and since is not None:
                from pyspark.sql import functions as F
                df = df.where(F.col("time") >= F.lit(since))
            if table == "events":   # an event an error declaration undid says nothing any more
                undone = spark.table("undone").select("event_seq")
                df = df.join(undone, df.seq == undone.event_seq, "left_anti")
            df.createOrReplaceTempView(table)

    def rows(self, sql: str) -> list[dict]:
        from pyspark.errors import PySparkException
        from py4j.protocol import Py4JJavaError
        try:
            return [r.asDict() for r in self.spark.sql(sql).collect()]
        except (PySparkException, Py4JJavaError) as exc:   # a damaged part, a bad conversion
            raise AnalyticsError(f"Spark: {str(exc).strip().splitlines()[0][:500]}") from None

    def close(self) -> None:
        pass   # the session is the process's, reused by the next engine


def _ddl(schema) -> str:
    import pyarrow as pa
    kinds = {pa.int64(): "bigint", pa.string(): "string", pa.float64(): "double",
             pa.list_(pa.string()): "array<string>"}
    return ", ".join(f"{f.name} {'timestamp' if pa.types.is_timestamp(f.type) else kinds[f.type]}"
                     for f in schema)
