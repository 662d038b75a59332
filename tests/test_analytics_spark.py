"""The same rules on Spark (local[2]) and DuckDB over the same generated data: identical
alerts. Slow (the Spark session starts in ~15 s); one session for the module."""
from __future__ import annotations

import os
import shutil

import pytest

from tracecode.analytics import synth
from tracecode.analytics.engines import open_engine
from tracecode.analytics.run import overview, run_rules

pytestmark = pytest.mark.slow


def _need_spark():
    why = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        why = "pyspark is not installed"
    if why is None and shutil.which("java") is None:
        why = "no java on PATH (Debian: openjdk-17-jre-headless)"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why + ": CI must have it")
        pytest.skip(why)


def test_spark_and_duckdb_give_identical_alerts(tmp_path):
    _need_spark()
    synth.generate(tmp_path, n_codes=5_000, seed=3)
    duck = open_engine("duckdb", tmp_path)
    spark = open_engine("spark", tmp_path)
    a, b = run_rules(duck), run_rules(spark)
    assert a and a == b
    assert overview(duck) == overview(spark)
    duck.close()
    spark.close()
