"""The PostgreSQL store's figures for cluster plans: read from the benches' results file as
ratios to LMDB, applied to this machine's LMDB rates; a file without them refused clearly."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracecode.capacity import postgres, sizing, workload

from test_capacity_sizing import MACHINE, MEASURED


def bench_file(tmp_path, skip=()):
    rows = []
    for group, (lmdb, pg) in {"postgres-issue (codes/s)": (1e6, 0.8e6),
                              "postgres-verify_many (codes/s)": (1e6, 0.05e6),
                              "postgres-verify-single (codes/s; p50 = 1/rate)": (10_000, 500),
                              "postgres-commission (codes/s)": (1e6, 0.25e6)}.items():
        if group.split(" ")[0] in skip:
            continue
        rows += [{"group": group, "name": "test_x[lmdb]", "role": "baseline", "codes_per_s": lmdb, "ratio": 1.0},
                 {"group": group, "name": "test_x[postgres]", "role": "engine", "codes_per_s": pg,
                  "ratio": pg / lmdb}]
    rows.append({"group": "register-eartags", "name": "test_engine_register", "codes_per_s": 1.0})
    path = tmp_path / "rates.json"
    path.write_text(json.dumps({"rates": rows, "memory": []}))
    return path


def test_ratios_are_read_per_figure(tmp_path):
    pg = postgres.read(bench_file(tmp_path))
    assert pg["ratios"] == pytest.approx({"issue": 0.8, "verify_many": 0.05, "verify_single": 0.05,
                                          "commission": 0.25})
    assert pg["rates"]["commission"] == {"lmdb": 1e6, "postgres": 0.25e6}


def test_a_file_without_the_postgres_figures_is_refused(tmp_path):
    with pytest.raises(postgres.PostgresRatesError, match="lacks the PostgreSQL and LMDB figures of commission"):
        postgres.read(bench_file(tmp_path, skip=("postgres-commission",)))
    (tmp_path / "x.json").write_text("[1]")
    with pytest.raises(postgres.PostgresRatesError, match="no rates.*bench/test_bench_postgres.py"):
        postgres.read(tmp_path / "x.json")
    rows = json.loads(bench_file(tmp_path).read_text())
    rows["rates"][-2]["codes_per_s"] = float("inf")  # json writes Infinity, and reads it back
    (tmp_path / "inf.json").write_text(json.dumps(rows))
    with pytest.raises(postgres.PostgresRatesError, match="figures of commission"):
        postgres.read(tmp_path / "inf.json")
    with pytest.raises(postgres.PostgresRatesError, match="cannot read"):
        postgres.read(tmp_path / "absent.json")


def test_the_cluster_plan_pays_the_ratios():
    w = workload.build({"codes_per_day": 57.6e9, "peak_scans_per_second": 30_000, "events_per_code": 1,
                        "packaging_levels": 1, "headroom": 0, "replicas": 2, "hot_days": 0}, MACHINE)
    lmdb = sizing.Rates.of(MEASURED, w)
    pg = postgres.rates(lmdb, {"ratios": {"issue": 0.5, "verify_many": 0.1, "verify_single": 0.05,
                                          "commission": 0.25}}, w.scan_batch)
    assert pg.issue == 0.5e6 and pg.verify == 500 and pg.commission == pg.pack == pg.ship == 0.25e6
    p = sizing.plan(w, pg)
    # 2 M codes/s: 4 cores issuing at 0.5 M/s; 30 k scans/s at 500/s: 60 cores; commissioning
    # 2 M codes/s at 0.25 M/s: 8 primary-seconds a second, 8 shards
    assert p.stages[0].cores == pytest.approx(4) and p.stages[1].cores == pytest.approx(60)
    assert p.stages[3].writer == pytest.approx(8) and p.shards == 8
    assert "500 scans/s per core" in p.stages[1].bottleneck
    assert p.stages[3].bottleneck.startswith("the shard primary's commits")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
                    max_leaves=20)
ROW = st.fixed_dictionaries({"group": st.sampled_from(list(postgres.GROUPS)) | st.text(max_size=20),
                             "name": st.sampled_from(["t[lmdb]", "t[postgres]", "t", "[x]"]),
                             "codes_per_s": JSON | st.floats(min_value=-1, max_value=1e9)})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=JSON | st.fixed_dictionaries({"rates": st.lists(ROW | JSON, max_size=10)}))
def test_any_json_is_read_or_refused_clearly(tmp_path, data):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    try:
        pg = postgres.read(path)
    except postgres.PostgresRatesError:
        return
    assert set(pg["ratios"]) == set(postgres.GROUPS.values()) and all(x > 0 for x in pg["ratios"].values())


def test_failover_figures_are_read_or_refused(tmp_path):
    good = tmp_path / "failover.json"
    good.write_text(json.dumps({"kills": 20, "median_s": 10.4, "worst_s": 13.5, "counters": 1, "events": 2}))
    assert postgres.read_failover(good) == {"file": str(good), "kills": 20, "median_s": 10.4, "worst_s": 13.5}
    for bad in ({"kills": 20, "median_s": 10.4}, {"kills": 20, "median_s": True, "worst_s": 1}, [1]):
        good.write_text(json.dumps(bad))
        with pytest.raises(postgres.PostgresRatesError, match="not a failover results JSON"):
            postgres.read_failover(good)
