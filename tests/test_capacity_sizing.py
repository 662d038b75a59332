"""The sizing arithmetic against cases worked out by hand, on made-up measurements."""
import copy

import pytest

from tracecode.capacity import sizing, workload

MACHINE = {"cores": 8, "memory_bytes": 64e9, "disk_bytes": 1e12}


def curve(rate):
    return [{"batch": 1, "codes_per_s": rate}, {"batch": 100_000, "codes_per_s": rate}]


# Round numbers: every rate 1 M/s per core except single verification (10 k/s), recording
# free (recorded curves equal the plain ones), 100 bytes per code on commissioning (read by
# verification), nothing else per code, 50 bytes per recorded scan, 10 MB per worker.
MEASURED = {
    "issuance": curve(1e6),
    "verification": {"single": {"codes_per_s": 10_000}, "single_recorded_one_core": {"codes_per_s": 10_000},
                     "batches": curve(1e6), "recorded": curve(1e6)},
    "events": {**{a: {"rates": curve(1e6), "verdict_bytes_per_code": 0.0, "history_bytes_per_code": 0.0}
                  for a in ("commission", "pack", "ship")},
               "verify_packed": {"levels": 3, "codes_per_s": 1e6, "loose_codes_per_s": 1e6}},
    "scan_storage": {"scan_bytes": 50.0, "seen_bytes_per_code": 0.0},
    "scale": [{"issued": 10**9, "issuance_bytes_per_code": 0.0}],
    "memory": {"issue": [{"peak_private_bytes": 10e6}], "verify": [{"peak_private_bytes": 10e6}]},
}
MEASURED["events"]["commission"]["verdict_bytes_per_code"] = 100.0


def plan(measured=MEASURED, **values):
    base = {"codes_per_day": 0, "peak_scans_per_second": 0, "events_per_code": 1, "packaging_levels": 1,
            "headroom": 0, "replicas": 1, "hot_days": 0}
    w = workload.build({**base, **values}, MACHINE)
    return sizing.plan(w, sizing.Rates.of(measured, w)), w


def test_a_workload_needing_exactly_three_cores():
    p, _ = plan(peak_scans_per_second=30_000)  # 10 k/s per core, one scan per call
    assert p.cores == 3
    assert [s.name for s in p.stages][:4] == ["issuance", "verification", "recording", "event ingestion"]
    assert p.stages[1].cores == pytest.approx(3.0)


def test_headroom_multiplies_before_rounding_up():
    assert plan(peak_scans_per_second=30_000, headroom=0.5)[0].cores == 5  # 4.5 -> 5
    assert plan(peak_scans_per_second=30_000, headroom=1)[0].cores == 6


def test_batched_scans_use_the_verify_many_curve():
    assert plan(peak_scans_per_second=3e6, scan_batch=1000)[0].cores == 3  # 1 M/s per core


def test_issuance_spreads_over_the_working_hours():
    # 8 h x 3,600 s x 2 M codes/s = 57.6 G codes a day: two cores' worth at 1 M/s each,
    # plus commissioning them (1 event a code at 1 M/s): two more, all on the writer.
    p, _ = plan(codes_per_day=57.6e9, working_hours=8)
    assert p.stages[0].cores == pytest.approx(2.0) and p.stages[3].writer == pytest.approx(2.0)
    assert p.cores == 4
    assert p.shards == 2  # two seconds of writer time a second: two indexes


def test_events_per_code_split_into_commission_pack_and_the_rest():
    m = copy.deepcopy(MEASURED)
    m["events"]["pack"]["rates"] = curve(0.5e6)   # 2 us a code
    m["events"]["ship"]["rates"] = curve(0.25e6)  # 4 us a code
    # 28,800 s x 100 k codes/s; per code 1 + 2 + 2 x 4 = 11 us: 1.1 writer-seconds a second.
    p, _ = plan(m, codes_per_day=2.88e9, events_per_code=4, packaging_levels=3)
    assert p.stages[3].writer == pytest.approx(1.1)
    assert p.shards == 2


def test_recording_costs_the_difference_and_the_writer_its_share():
    m = copy.deepcopy(MEASURED)
    m["verification"]["single_recorded_one_core"] = {"codes_per_s": 5_000}  # 200 us against 100 us
    m["verification"]["recorded"] = curve(0.5e6)  # 2 us against 1 us at the largest batch: the commit
    p, _ = plan(m, peak_scans_per_second=10_000)
    assert p.stages[2].cores == pytest.approx(1.0)    # 10 k x 100 us
    assert p.stages[2].writer == pytest.approx(0.01)  # 10 k x 1 us
    assert p.cores == 2


def test_packed_codes_verify_at_the_measured_packed_rate():
    m = copy.deepcopy(MEASURED)
    m["events"]["verify_packed"]["codes_per_s"] = 0.5e6  # half the loose rate
    p, _ = plan(m, peak_scans_per_second=30_000, events_per_code=2, packaging_levels=3)
    assert p.cores == 6
    assert p.stages[2].cores == 0  # recording costs what it cost on the (loose) codes it was measured on
    assert plan(m, peak_scans_per_second=30_000, packaging_levels=1)[0].cores == 3


def test_disk_memory_and_machines():
    # Codes: 1 M/day x 100 B. Scans: 1,000/s x 0.1 x 86,400 = 8.64 M/day x 50 B = 432 MB.
    # 532 MB a day x 365 x 2 years = 388.36 GB per replica.
    p, _ = plan(codes_per_day=1e6, peak_scans_per_second=1_000, mean_to_peak=0.1, retention_years=2,
                replicas=3, machine_disk_tb=0.1, hot_days=10)
    assert p.disk_bytes == pytest.approx(388.36e9)
    assert p.disk_per_year["scan log"] == pytest.approx(432e6 * 365)
    assert p.machines_per_replica == 4 and p.machines == 12 and p.limited_by == "disk"
    # one core (0.1 for scans) x 10 MB, and 10 days x 1 M codes x 100 B read by verification
    assert p.memory_bytes == pytest.approx(10e6 + 1e9)
    assert p.stages[-1].name == "disk growth" and "scan log" in p.stages[-1].bottleneck


def test_public_queries_cost_cores_at_the_page_rate_and_writer_time_as_scans():
    m = copy.deepcopy(MEASURED)
    m["verification"]["recorded"] = curve(0.5e6)  # the commit: 1 us a recorded scan
    m["public_http"] = {"connections": 8, "seconds": 3, "page": {"queries_per_s": 500.0},
                        "api": {"queries_per_s": 1_000.0}}
    p, _ = plan(m, peak_public_queries_per_second=2_000)
    public = next(s for s in p.stages if s.name == "public HTTP queries")
    assert public.cores == pytest.approx(4.0) and public.writer == pytest.approx(0.002)
    assert "500 page queries/s per core" in public.bottleneck and "JSON API 1,000/s" in public.bottleneck
    assert p.cores == 4
    # a public query is a scan in the scan log: 2,000/s x 0.1 x 86,400 x 50 B a day
    assert p.disk_per_year["scan log"] == pytest.approx(2_000 * 0.1 * 86_400 * 50 * 365)
    # none in the workload: a row of nothing, measured or not
    assert [s.cores for s in plan(m)[0].stages if s.name == "public HTTP queries"] == [0.0]
    assert [s.cores for s in plan()[0].stages if s.name == "public HTTP queries"] == [0.0]


def test_public_queries_without_a_public_measurement_are_refused():
    with pytest.raises(workload.WorkloadError, match="no public HTTP rate: measure again"):
        plan(peak_public_queries_per_second=10)


def test_interpolation_is_log_log_and_clamped():
    pts = [{"batch": 1, "codes_per_s": 100}, {"batch": 100, "codes_per_s": 10_000}]
    assert sizing.interpolate(pts, 10) == pytest.approx(1_000)
    assert sizing.interpolate(pts, 0.5) == 100 and sizing.interpolate(pts, 10**6) == 10_000


def test_assumptions_are_written_out():
    text = " ".join(plan(peak_scans_per_second=1_000)[0].assumptions)
    for fact in ("replica", "hours a day", "single writer", "Headroom", "cores"):
        assert fact in text


def test_disk_by_component_grows_each_year_to_the_retention_period():
    p, _ = plan(codes_per_day=1e6, peak_scans_per_second=1_000, mean_to_peak=0.1, retention_years=2.5)
    assert [y["year"] for y in p.disk_by_year] == [1, 2, 2.5]
    last = p.disk_by_year[-1]
    assert last["by_component"]["scan log"] == pytest.approx(432e6 * 365 * 2.5)
    assert last["by_component"]["code records (state, container)"] == pytest.approx(100e6 * 365 * 2.5)
    assert last["total"] == pytest.approx(p.disk_bytes)  # headroom 0: the plan's disk is the last year
    assert p.disk_by_year[0]["total"] == pytest.approx(last["total"] / 2.5)


def test_sensitivity_to_the_peak_to_mean_ratio_moves_the_scan_log_and_machines():
    # scans only: the scan log is all the disk; 1,000/s x 86,400 x 50 B x 365 a year at mean = peak
    p, w = plan(peak_scans_per_second=1_000, mean_to_peak=0.25, machine_disk_tb=0.5)
    ratios = [r["mean_to_peak"] for r in p.sensitivity]
    assert ratios == sorted(set(sizing.MEAN_TO_PEAK_STEPS) | {0.25})
    mine = [r for r in p.sensitivity if r["workload"]]
    assert len(mine) == 1 and mine[0]["mean_to_peak"] == 0.25 and mine[0]["disk_bytes"] == p.disk_bytes
    full = next(r for r in p.sensitivity if r["mean_to_peak"] == 1.0)
    assert full["scan_log_per_year"] == pytest.approx(1_000 * 86_400 * 50 * 365)
    assert full["peak_to_mean"] == 1.0
    # 1.58 TB a year x 5 years = 7.9 TB: 16 machines of 0.5 TB; at 0.05, 0.39 TB: one
    assert full["machines_per_replica"] == 16 and p.sensitivity[0]["machines_per_replica"] == 1
    assert all(a["disk_bytes"] <= b["disk_bytes"] for a, b in zip(p.sensitivity, p.sensitivity[1:]))


def test_quick_measurements_are_recognised_also_from_a_reused_json():
    import json
    from dataclasses import asdict

    from tracecode.capacity import measure
    assert measure.is_quick({"quick": True})
    assert measure.is_quick(json.loads(json.dumps({"sizes": asdict(measure.QUICK)})))
    assert not measure.is_quick(json.loads(json.dumps({"sizes": asdict(measure.STANDARD), "quick": False})))


def test_single_scans_pay_the_unary_grpc_transport_beyond_the_verdict():
    m = copy.deepcopy(MEASURED)
    m["grpc_unary"] = {"queries_per_core_s": 2_000.0}  # 500 us a call against 100 us in process
    p, _ = plan(m, peak_scans_per_second=10_000)
    t = next(s for s in p.stages if s.name == "transport (unary gRPC)")
    assert t.cores == pytest.approx(4.0) and "400 µs a call beyond the verdict" in t.bottleneck
    assert p.cores == 5  # 1 verifying + 4 transport
    batched = plan(m, peak_scans_per_second=10_000, scan_batch=100)[0]
    assert next(s for s in batched.stages if s.name.startswith("transport")).cores == 0
    unmeasured = next(s for s in plan(peak_scans_per_second=10_000)[0].stages if s.name.startswith("transport"))
    assert unmeasured.cores == 0 and "not measured" in unmeasured.bottleneck


def test_public_queries_prefer_the_servers_cpu_per_query():
    m = copy.deepcopy(MEASURED)
    m["public_http"] = {"page": {"queries_per_s": 500.0, "queries_per_core_s": 1_000.0}}
    p, _ = plan(m, peak_public_queries_per_second=2_000)
    assert next(s for s in p.stages if s.name == "public HTTP queries").cores == pytest.approx(2.0)
