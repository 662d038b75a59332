"""The PostgreSQL store's figures for cluster plans, read from the benches' measurements file.

`pytest bench/test_bench_postgres.py` measures issuance, verify_many, single verify() and
commissioning through a PgStore against the embedded LMDB store in the same run and writes
them to bench/results/rates.json. Absolute rates drift on a shared machine; the ratio to
LMDB measured alongside does much less, so a cluster plan takes this machine's LMDB rates
(what `tracecode capacity` measures) times those ratios.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

from ..errors import TracecodeError
from .sizing import Rates

# bench group prefix -> the figure it gives
GROUPS = {"postgres-issue": "issue", "postgres-verify_many": "verify_many",
          "postgres-verify-single": "verify_single", "postgres-commission": "commission"}
BENCH = "pytest bench/test_bench_postgres.py"


class PostgresRatesError(TracecodeError):
    """A measurements file without the PostgreSQL store's figures."""


def read(path) -> dict:
    """{"file", "ratios": {figure: PostgreSQL / LMDB}, "rates": {figure: {"lmdb", "postgres"}}}
    of a bench results file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PostgresRatesError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, RecursionError) as exc:
        raise PostgresRatesError(f"{path} is not a bench results JSON: {exc}") from None
    rows = data.get("rates") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise PostgresRatesError(f"{path} is not a bench results JSON (no rates); run `{BENCH}`")
    rates: dict = {}
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("group"), str):
            continue
        figure = GROUPS.get(row["group"].split(" ")[0])
        kind = str(row.get("name", "")).rpartition("[")[2].rstrip("]")
        value = row.get("codes_per_s")
        if figure and kind in ("lmdb", "postgres") and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            rates.setdefault(figure, {})[kind] = float(value)
    missing = [f for f in GROUPS.values() if len(rates.get(f, {})) != 2]
    if missing:
        raise PostgresRatesError(f"{path} lacks the PostgreSQL and LMDB figures of {', '.join(missing)}; "
                                 f"run `{BENCH}` (it writes bench/results/rates.json)")
    return {"file": str(path), "ratios": {f: r["postgres"] / r["lmdb"] for f, r in rates.items()},
            "rates": rates}


def rates(lmdb: Rates, pg: dict, scan_batch: int) -> Rates:
    """One core's rates on the PostgreSQL store: LMDB's measured here, times the bench's ratios.
    A recorded scan's cost in the verifying process is scaled as verification is: the
    verify_many bench records its scans, so its ratio already holds the PostgreSQL store's
    recording. The commits (recording and events) pay the shard's primary instead of LMDB's
    single writer: that share (writer_seconds) is scaled as commissioning is."""
    r = pg["ratios"]
    verify = r["verify_single"] if scan_batch == 1 else r["verify_many"]
    return replace(lmdb, issue=lmdb.issue * r["issue"], verify=lmdb.verify * verify,
                   record_seconds=lmdb.record_seconds / verify,
                   writer_seconds=lmdb.writer_seconds / r["commission"],
                   commission=lmdb.commission * r["commission"], pack=lmdb.pack * r["commission"],
                   ship=lmdb.ship * r["commission"], writer_name="the shard primary's commits")


FAILOVER_BENCH = "pytest bench/test_bench_failover.py"


def read_failover(path) -> dict:
    """{"file", "kills", "median_s", "worst_s"} of the failover bench's results file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PostgresRatesError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, RecursionError) as exc:
        raise PostgresRatesError(f"{path} is not a failover results JSON: {exc}") from None

    def seconds(name):
        v = data.get(name) if isinstance(data, dict) else None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise PostgresRatesError(f"{path} is not a failover results JSON (no {name}); run "
                                     f"`{FAILOVER_BENCH}` (it writes bench/results/failover.json)")
        return v
    return {"file": str(path), "kills": int(seconds("kills")), "median_s": seconds("median_s"),
            "worst_s": seconds("worst_s")}
