"""Shared bench plumbing: sizes, the Redis baseline's server, a PostgreSQL server, and the
closing tables.

Every benchmark records ``extra_info["codes"]`` (codes handled per round) and
``extra_info["role"]`` ("baseline" or "engine"), and may add a ``note``. At the
end of the run each group is printed as codes/s and as a ratio against the
group's first baseline, measured in the same run: absolute figures drift on
shared machines, ratios much less. Memory benchmarks record ``count``,
``peak_rss_bytes`` and ``peak_private_bytes`` instead and get a table of their
own. Everything is also written to bench/results/rates.json (rates-full.json
with BENCH_FULL=1, the large sizes meant for people; the quick ones are what CI
runs).
"""
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

FULL = os.environ.get("BENCH_FULL") == "1"
RESULTS = Path(__file__).parent / "results"


def size(quick: int, full: int) -> int:
    return full if FULL else quick


@pytest.fixture
def sizes():
    return size


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_server():
    """A throwaway PostgreSQL on loopback (tests/postgres_server.py), durable as LMDB is: fsync
    and full page writes on, so the PostgreSQL rows compare with LMDB's fairly."""
    import sys
    sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
    from postgres_server import PgServer, pg_bindir
    if pg_bindir() is None:
        pytest.skip("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb missing)")
    with PgServer(settings={"fsync": "on", "full_page_writes": "on"}) as server:
        yield server


@pytest.fixture(scope="session")
def redis_client(tmp_path_factory):
    """A client of a throw-away redis-server (no persistence) on a free loopback port."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("Redis baseline skipped: no redis-server on PATH (apt-get install redis-server)")
    try:
        import redis
    except ImportError:
        pytest.skip("Redis baseline skipped: the redis client is not installed (pip install redis)")
    port, where = _free_port(), tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(where)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"Redis baseline skipped: redis-server did not start on port {port}")
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


def _rows(config):
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return [], []
    rows, memory = [], []
    for bench in session.benchmarks:
        info = bench.extra_info or {}
        base = {"group": bench.group or "", "name": bench.name, "role": info.get("role", "engine"),
                "note": info.get("note", "")}
        if "peak_rss_bytes" in info:
            memory.append({**base, "count": info["count"], "peak_rss_bytes": info["peak_rss_bytes"],
                           "peak_private_bytes": info.get("peak_private_bytes")})
        elif "codes" in info and bench.stats is not None:
            median = bench.stats.median
            rows.append({**base, "codes": info["codes"], "median_s": median,
                         "codes_per_s": info["codes"] / median if median else 0.0})
    for row in rows:  # a group's first baseline is the one ratios are against
        base = [r for r in rows if r["group"] == row["group"] and r["role"] == "baseline"]
        row["ratio"] = row["codes_per_s"] / base[0]["codes_per_s"] if base else None
    return rows, memory


def pytest_collection_modifyitems(config, items):
    """Full sizes run for many minutes a test: pyproject's per-test timeout is for the quick ones."""
    if FULL:
        for item in items:
            item.add_marker(pytest.mark.timeout(0))


def pytest_terminal_summary(terminalreporter, config):
    rows, memory = _rows(config)
    if not rows and not memory:
        return
    tr = terminalreporter
    tr.section("tracecode rates (codes per second; ratio to the first baseline of the same group)")
    last = None
    for r in sorted(rows, key=lambda r: (r["group"], r["role"] != "baseline")):
        group = r["group"] if r["group"] != last else ""
        last = r["group"]
        ratio = f"{r['ratio']:8.1f}x" if r["ratio"] is not None else "        -"
        tr.write_line(f"{group:34} {r['name']:44} {r['codes_per_s'] / 1e6:10.3f} M/s {ratio}"
                      + (f"  {r['note']}" if r["note"] else ""))
    if memory:
        tr.section("tracecode peak memory of child processes (private; resident, with mapped index pages)")
        for r in sorted(memory, key=lambda r: (r["group"], r["role"] != "baseline", r["name"], r["count"])):
            private = f"{r['peak_private_bytes'] / 1e6:9.1f} MB" if r["peak_private_bytes"] else " " * 12
            tr.write_line(f"{r['group']:16} {r['role']:8} {r['count']:>13,} {private} "
                          f"{r['peak_rss_bytes'] / 1e6:9.1f} MB" + (f"  {r['note']}" if r["note"] else ""))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("rates-full.json" if FULL else "rates.json")
    out.write_text(json.dumps({"rates": rows, "memory": memory}, indent=1))
    tr.write_line(f"written to {out}")
