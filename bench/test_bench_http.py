"""The public window over HTTP: requests per second of one `tracecode serve` worker, and their
p50/p99 latency, for the page a phone opens (/c/{code}) and the JSON API
(/api/v1/codes/{code}), each against a do-nothing Starlette app (bench/http_apps.py) served
by the same worker code, uvicorn and httptools in the same run; the ratio is the figure
(target >= 0.8x).

The load comes from wrk (`apt-get install wrk`; skipped without it) in its own process, over
keep-alive connections, cycling through genuine codes (commissioned, so every answer is a
full one: product, verdict, scan count) with a browser's and an app's Accept header. Every
query of the window is recorded as a public scan, as it is when serving, and the rate limits
are off (one load generator is one address). One worker: the load generator needs the other
core; a server's rate is this per worker times its cores, less what the cores share.
"""
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

import tracecode
from bench.conftest import size
from tracecode.serve.testing import ServeProcess

N_CODES = size(2_000, 100_000)
SECONDS = size(3, 15)
CONNECTIONS = size(8, 32)
ROUNDS = size(3, 7)
DRUG = {"drug_id": "8177322"}
ROOT = str(Path(__file__).resolve().parent.parent)

SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local i = 0
wrk.headers["Accept"] = "%(accept)s"
wrk.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


@pytest.fixture(scope="module")
def wrk():
    found = shutil.which("wrk")
    if found is None:
        pytest.skip("HTTP benchmarks skipped: no wrk on PATH (apt-get install wrk)")
    return found


@pytest.fixture(scope="module")
def codes(tmp_path_factory):
    data = tmp_path_factory.mktemp("bench-http") / "data"
    d = tracecode.init(data, base_url="https://trace.example.gov.cn")
    batch = d.issue("cn-drug-20", DRUG, N_CODES, lot="L1", expiry="20301231")
    codes = [c.decode() for c in batch.codes().tolist()]
    d.apply([{"id": "c", "action": "commission", "codes": codes}])
    d.close()
    return data, codes


def _seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def load(wrk_path, url, paths_file, accept, seconds, tmp_path) -> dict:
    script = tmp_path / f"load-{abs(hash((url, accept)))}.lua"
    script.write_text(SCRIPT % {"paths": paths_file, "accept": accept})
    r = subprocess.run([wrk_path, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
                        "--timeout", "10s", "-s", str(script), url],
                       capture_output=True, text=True, timeout=seconds + 60)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    done = re.search(r"(\d+) requests in ([\d.]+\w+),", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"requests": int(done.group(1)), "elapsed": _seconds(done.group(2)),
            "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": _seconds(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),   # a line's start:
            "p99": _seconds(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),   # not "72.50%"
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else ""}


@pytest.fixture(scope="module")
def servers(codes):
    """The do-nothing app and the window, one worker each, both up for the module: the
    interleaved rounds switch between them without restarts."""
    data, _ = codes
    started = {}
    try:
        for app in ("nothing", "window"):
            started[app] = ServeProcess(data, "--http", "127.0.0.1:0", "--http-only", "--http-app",
                                        f"bench.http_apps:{app}", workers=1,
                                        env={"PYTHONPATH": ROOT}).start()
        yield started
    finally:
        for server in started.values():
            server.stop()


def _paths(codes, tmp_path, prefix) -> Path:
    paths = tmp_path / f"paths-{prefix.strip('/').replace('/', '-')}.txt"
    paths.write_text("".join(f"{prefix}{c}\n" for c in codes[1]))
    return paths


def measure(benchmark, wrk_path, servers, codes, tmp_path, *, app, prefix, accept, role, note):
    paths = _paths(codes, tmp_path, prefix)
    url = servers[app].http_url
    load(wrk_path, url, paths, accept, 1, tmp_path)   # warm: imports, caches, pages
    got = {}

    def run():
        got.update(load(wrk_path, url, paths, accept, SECONDS, tmp_path))
    benchmark.pedantic(run, rounds=1, iterations=1)
    assert got["non_2xx"] == 0 and not got["socket_errors"], got
    # the table's rate is codes / median time: wrk's own rate times the time the round took
    median = benchmark.stats.stats.median if benchmark.stats else got["elapsed"]
    benchmark.extra_info.update(
        codes=round(got["rate"] * median), role=role,
        note=f"{note}; {got['rate']:,.0f} req/s, p50 {got['p50'] * 1e3:.2f} ms, p99 "
             f"{got['p99'] * 1e3:.2f} ms ({CONNECTIONS} connections, {SECONDS} s)")
    if role == "engine":   # the machine drifts between tests: rounds alternating with the baseline
        ours, theirs = [], []
        for _ in range(ROUNDS):
            theirs.append(load(wrk_path, servers["nothing"].http_url, paths, accept, 1, tmp_path)["rate"])
            ours.append(load(wrk_path, url, paths, accept, 1, tmp_path)["rate"])
        ratio = statistics.median(o / t for o, t in zip(ours, theirs))
        benchmark.extra_info["note"] += f"; {ROUNDS} interleaved 1 s rounds: {ratio:.2f}x the do-nothing app"
    return got


@pytest.mark.benchmark(group="http: public page /c/{code}")
def test_baseline_page_do_nothing_starlette(benchmark, wrk, servers, codes, tmp_path):
    measure(benchmark, wrk, servers, codes, tmp_path, app="nothing", prefix="/c/", accept="text/html",
            role="baseline", note="do-nothing Starlette route, same worker and uvicorn")


@pytest.mark.benchmark(group="http: public page /c/{code}")
def test_public_page(benchmark, wrk, servers, codes, tmp_path):
    measure(benchmark, wrk, servers, codes, tmp_path, app="window", prefix="/c/",
            accept="text/html,application/xhtml+xml", role="engine",
            note="the page in Chinese, verdict from the index, recorded as a public scan")


@pytest.mark.benchmark(group="http: JSON API /api/v1/codes/{code}")
def test_baseline_api_do_nothing_starlette(benchmark, wrk, servers, codes, tmp_path):
    measure(benchmark, wrk, servers, codes, tmp_path, app="nothing", prefix="/api/v1/codes/",
            accept="application/json", role="baseline", note="do-nothing Starlette route")


@pytest.mark.benchmark(group="http: JSON API /api/v1/codes/{code}")
def test_json_api(benchmark, wrk, servers, codes, tmp_path):
    measure(benchmark, wrk, servers, codes, tmp_path, app="window", prefix="/api/v1/codes/",
            accept="application/json", role="engine", note="the JSON answer, recorded as a public scan")
