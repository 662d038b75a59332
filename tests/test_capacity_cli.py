"""`tracecode capacity` as a real process: a --quick measurement writes the whole report,
--reuse sizes another workload from it, bad input gets one clear line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROVINCE = Path(__file__).parent / "data" / "workload-province.toml"
PNG = b"\x89PNG\r\n\x1a\n"


def capacity(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "tracecode", "capacity", *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("capacity")
    proc = capacity("--quick", "--workload", PROVINCE, "--out", out, "--workdir", out)
    return out, proc


@pytest.mark.slow  # the three tests of the `quick` fixture share one measuring run (~10 s)
def test_quick_run_writes_markdown_html_json_and_plots(quick):
    out, proc = quick
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    assert names == ["capacity-latency.png", "capacity-memory.png", "capacity-scale.png",
                     "capacity-throughput.png", "capacity.html", "capacity.json", "capacity.md"]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 10_000
    html = (out / "capacity.html").read_text()
    assert all(f'<img src="capacity-{n}.png"' in html for n in ("throughput", "latency", "scale", "memory"))
    assert "machines" in proc.stdout and "bottleneck" in proc.stdout
    cluster = out / "capacity-cluster"  # the province: 5 machines per replica, 5 shards x 2 members
    settings = json.loads((cluster / "tracecode-cluster.json").read_text())
    plan = json.loads((out / "capacity.json").read_text())["plan"]
    assert settings["plan"]["machines"] == len(list(cluster.glob("patroni-*.yaml"))) \
        == max(plan["shards"], plan["machines_per_replica"]) * 2
    assert "warning: these are --quick measurements" in proc.stderr
    md = (out / "capacity.md").read_text()
    assert "**Warning:** these are --quick measurements" in md and "not figures to plan with" in md
    assert "## What the workload needs" in md.split("**Warning:**")[1]  # the warning comes first
    assert "<strong>Warning:</strong> these are --quick" in (out / "capacity.html").read_text()
    assert "### Disk by component over the retention years" in md and "(this workload)" in md


@pytest.mark.slow
def test_the_report_records_the_machine_versions_date_and_command(quick):
    out, _ = quick
    result = json.loads((out / "capacity.json").read_text())
    ctx = result["context"]
    assert ctx["machine"]["cpu"] and ctx["machine"]["cores"] >= 1 and ctx["machine"]["memory_bytes"] > 1e8
    assert {"python", "tracecode", "numpy", "py-lmdb", "OpenSSL"} <= set(ctx["versions"])
    assert ctx["command"].startswith("tracecode capacity --quick") and ctx["date"][:2] == "20"
    md = (out / "capacity.md").read_text()
    assert "## Machine and versions" in md and ctx["machine"]["cpu"] in md and ctx["versions"]["OpenSSL"] in md
    plan = result["plan"]
    assert plan["machines"] == plan["machines_per_replica"] * 2 and plan["cores"] >= 1
    assert [s["name"] for s in plan["stages"]] == ["issuance", "verification", "recording",
                                                   "event ingestion", "public HTTP queries",
                                                   "transport (unary gRPC)", "disk growth"]
    unary = result["measurements"]["grpc_unary"]
    assert unary["calls"] == 2_000 and unary["queries_per_core_s"] > 0 and unary["p50_us"] > 0
    assert result["measurements"]["public_http"]["page"]["queries_per_core_s"] > 0
    transport = next(s for s in plan["stages"] if s["name"] == "transport (unary gRPC)")
    assert transport["cores"] > 0 and "per server core-second" in transport["bottleneck"]
    m = result["measurements"]
    assert [r["issued"] for r in m["scale"]] == [10**6, 10**9]
    assert m["scale"][-1]["issuance_bytes_per_code"] < 0.001


@pytest.mark.slow
def test_reuse_sizes_another_workload_without_measuring(quick, tmp_path):
    out, _ = quick
    proc = capacity("--reuse", out / "capacity.json", "--codes-per-day", "1e6",
                    "--peak-scans-per-second", "100", "--out", tmp_path, "--name", "small")
    result = json.loads((tmp_path / "small.json").read_text())
    assert result["workload"]["peak_scans_per_second"] == 100
    assert result["measurements"] == json.loads((out / "capacity.json").read_text())["measurements"]
    assert result["reused"]["file"].endswith("capacity.json") and "--reuse" in result["reused"]["command"]
    assert "machines" in proc.stdout
    assert "warning: these are --quick measurements" in proc.stderr  # reused quick figures warn too
    assert result["warnings"] and result["plan"]["sensitivity"] and result["plan"]["disk_by_year"]


@pytest.mark.slow
def test_postgres_rates_give_a_cluster_plan_and_its_layout(quick, tmp_path):
    from test_capacity_postgres import bench_file
    out, _ = quick
    failover = tmp_path / "failover.json"
    failover.write_text(json.dumps({"kills": 20, "median_s": 10.4, "worst_s": 13.5}))
    proc = capacity("--reuse", out / "capacity.json", "--workload", PROVINCE, "--postgres-rates", bench_file(tmp_path),
                    "--failover", failover, "--out", tmp_path, "--name", "pg")
    result = json.loads((tmp_path / "pg.json").read_text())
    assert result["measurements"]["postgres"]["ratios"]["verify_single"] == pytest.approx(0.05)
    pg, lmdb = result["postgres_plan"], result["plan"]
    assert pg["cores"] > lmdb["cores"]  # verification at 5% of LMDB's rate
    settings = json.loads((tmp_path / "pg-cluster" / "tracecode-cluster.json").read_text())
    assert settings["plan"]["figures"] == "postgresql"
    assert settings["plan"]["shards"] == max(pg["shards"], pg["machines_per_replica"])
    md = (tmp_path / "pg.md").read_text()
    assert "## Cluster plan on the PostgreSQL store" in md
    assert "killed 20 times, issuance resumed after a median 10.4 s, worst 13.5 s" in md
    assert "on the PostgreSQL store" in proc.stdout and "the primaries' commits need" in proc.stdout
    assert "machines" in proc.stdout
    bad = capacity("--reuse", out / "capacity.json", "--workload", PROVINCE, "--postgres-rates", out / "capacity.json",
                   "--out", tmp_path, check=False)
    assert bad.returncode == 1 and "is not a bench results JSON" in bad.stderr


@pytest.mark.parametrize("args,message", [
    (["--codes-per-day", "many", "--peak-scans-per-second", "1"], "codes_per_day (options) must be a number"),
    (["--codes-per-day", "1"], "needs peak_scans_per_second"),
    (["--workload", "/nonexistent/w.toml"], "cannot read workload file"),
])
def test_a_bad_workload_is_refused_before_measuring(args, message):
    proc = capacity(*args, check=False)
    assert proc.returncode == 1 and message in proc.stderr


def test_a_bad_reuse_file(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"rates": []}')
    proc = capacity("--reuse", bad, "--codes-per-day", "1", "--peak-scans-per-second", "1", check=False)
    assert proc.returncode == 1 and "is not a capacity report's JSON" in proc.stderr
    proc = capacity("--quick", "--reuse", bad, check=False)
    assert proc.returncode == 2 and "not allowed with" in proc.stderr


def test_a_workdir_that_does_not_exist_is_one_clear_line(tmp_path):
    proc = capacity("--quick", "--workload", PROVINCE, "--out", tmp_path, "--workdir", tmp_path / "nope",
                    check=False)
    assert proc.returncode == 1 and "--workdir" in proc.stderr and "no such directory" in proc.stderr
    assert "[Errno" not in proc.stderr


def test_measurements_lacking_a_figure_without_reuse_name_no_file(tmp_path, monkeypatch, capsys):
    from tracecode.capacity import cli as capacity_cli
    from tracecode.capacity import machine
    from tracecode.cli import main
    monkeypatch.setattr(capacity_cli, "measured", lambda args: ({}, {"machine": machine.machine()}))
    assert main(["capacity", "--workload", str(PROVINCE), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "the measurements just made lack what sizing needs" in err and "None" not in err


def test_the_postgres_tables_shards_are_the_written_layouts():
    from tracecode.capacity import layout, report
    plan = {"shards": 2, "machines_per_replica": 5, "cores": 4, "machines": 10, "limited_by": "disk",
            "disk_bytes": 66e12, "memory_bytes": 319e9}
    w = {"replicas": 2, "machine_cores": 32, "machine_memory_gb": 256.0, "machine_disk_tb": 8.0,
         "retention_years": 10}
    row = [r for r in report.answer_rows({"postgres_plan": plan, "workload": w}, "postgres_plan")
           if r[0] == "shards"][0]
    assert int(row[1]) == layout.shape(plan, w)["shards"] == 5
