"""Shared bench plumbing: sizes, and a closing table of rates and ratios.

Every benchmark records ``extra_info["codes"]`` (codes handled per round) and
``extra_info["role"]`` ("baseline" or "engine"). At the end of the run each
group is printed as codes/s and as a ratio against the group's baseline,
measured in the same run: absolute figures drift on shared machines, ratios
much less. Set BENCH_FULL=1 for the large sizes meant for people.
"""
import json
import os
from pathlib import Path

import pytest

FULL = os.environ.get("BENCH_FULL") == "1"
RESULTS = Path(__file__).parent / "results"


def size(quick: int, full: int) -> int:
    return full if FULL else quick


@pytest.fixture
def sizes():
    return size


def _rows(config):
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return []
    rows = []
    for bench in session.benchmarks:
        info = bench.extra_info or {}
        if "codes" not in info or bench.stats is None:
            continue
        median = bench.stats.median
        rows.append({"group": bench.group or "", "name": bench.name,
                     "role": info.get("role", "engine"), "codes": info["codes"],
                     "median_s": median, "codes_per_s": info["codes"] / median if median else 0.0,
                     "note": info.get("note", "")})
    for row in rows:  # a group's first baseline is the one ratios are against
        base = [r for r in rows if r["group"] == row["group"] and r["role"] == "baseline"]
        row["ratio"] = row["codes_per_s"] / base[0]["codes_per_s"] if base else None
    return rows


def pytest_terminal_summary(terminalreporter, config):
    rows = _rows(config)
    if not rows:
        return
    tr = terminalreporter
    tr.section("tracecode rates (codes per second; ratio to the baseline of the same group)")
    last = None
    for r in sorted(rows, key=lambda r: (r["group"], r["role"] != "baseline")):
        group = r["group"] if r["group"] != last else ""
        last = r["group"]
        ratio = f"{r['ratio']:8.1f}x" if r["ratio"] is not None else "        -"
        tr.write_line(f"{group:34} {r['name']:44} {r['codes_per_s'] / 1e6:10.3f} M/s {ratio}"
                      + (f"  {r['note']}" if r["note"] else ""))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("rates-full.json" if FULL else "rates.json")
    out.write_text(json.dumps(rows, indent=1))
    tr.write_line(f"written to {out}")
