"""One run of the analytics rules on DuckDB in a process of its own, reporting its figures.

    python -m bench.analytics_child EXPORT_DIR [--memory-limit 4GB] [--explain OUT_DIR]
    python -m bench.analytics_child EXPORT_DIR --read-only   (the baseline: one read of the scans)

Prints one JSON line last (tracecode.capacity.memory.report): alerts, seconds in all,
seconds per rule, scans, peak resident memory of this process (VmHWM, as
bench/test_bench_memory.py measures) and its peak private memory (sampled). A fresh
interpreter, so nothing a bench process holds is counted. --explain writes each rule's
EXPLAIN ANALYZE (DuckDB's profile: time per operator) to OUT_DIR/<rule>.txt, after the
timed run.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from tracecode.analytics.engines import open_engine
from tracecode.analytics.rules import RULES
from tracecode.analytics.run import rule_sql, run_rules
from tracecode.capacity.memory import PrivatePeak, report

# every scan read once, its code hashed (distinct), a number column aggregated
READ = "SELECT count(*) AS n, count(DISTINCT code) AS c, max(lat) AS m FROM scans"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--memory-limit")
    ap.add_argument("--explain", metavar="OUT_DIR")
    ap.add_argument("--read-only", action="store_true")
    args = ap.parse_args(argv)
    engine = open_engine("duckdb", args.root, memory_limit=args.memory_limit)
    if args.read_only:
        t = time.perf_counter()
        row = engine.rows(READ)[0]
        seconds = time.perf_counter() - t
        engine.close()
        report(seconds=round(seconds, 2), scans=row["n"], scans_per_s=round(row["n"] / seconds))
        return
    per_rule, alerts = {}, 0
    with PrivatePeak(interval=0.05) as private:
        start = time.perf_counter()
        for name in RULES:
            t = time.perf_counter()
            alerts += len(run_rules(engine, [name]))
            per_rule[name] = round(time.perf_counter() - t, 2)
        seconds = time.perf_counter() - start
    scans = engine.rows("SELECT count(*) AS n FROM scans")[0]["n"]
    if args.explain:
        out = Path(args.explain)
        out.mkdir(parents=True, exist_ok=True)
        for name in RULES:
            plan = engine.con.sql("EXPLAIN ANALYZE " + rule_sql(name, "duckdb")).fetchall()
            (out / f"{name}.txt").write_text("\n".join(row[-1] for row in plan))
    engine.close()
    report(alerts=alerts, seconds=round(seconds, 2), per_rule=per_rule, scans=scans,
           scans_per_s=round(scans / seconds), memory_limit=args.memory_limit,
           peak_private_bytes=private.peak)


if __name__ == "__main__":
    main()
