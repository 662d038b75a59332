"""Workloads from options and files, and the clear errors bad ones get."""
import json
from pathlib import Path

import pytest

from tracecode.capacity.workload import WorkloadError, build, load

MACHINE = {"cores": 2, "memory_bytes": 24e9, "disk_bytes": 250e9}
PROVINCE = Path(__file__).parent / "data" / "workload-province.toml"


def test_the_province_file_of_the_readme():
    w = load(PROVINCE, {}, MACHINE)
    assert w.codes_per_day == pytest.approx(10e9 / 365)
    assert (w.peak_scans_per_second, w.events_per_code, w.packaging_levels, w.retention_years, w.replicas) \
        == (20_000, 3, 3, 5, 2)
    assert (w.machine_cores, w.machine_memory_gb, w.machine_disk_tb) == (32, 256, 16)


def test_defaults_and_this_machine():
    w = build({"codes_per_day": "1_000_000", "peak_scans_per_second": 500}, MACHINE)
    assert w.codes_per_day == 1e6 and w.replicas == 2 and w.headroom == 0.5 and w.scan_batch == 1
    assert (w.machine_cores, w.machine_memory_gb, w.machine_disk_tb) == (2, 24, 0.25)


def test_json_file_and_options_over_it(tmp_path):
    f = tmp_path / "w.json"
    f.write_text(json.dumps({"codes_per_year": 365e6, "peak_scans_per_second": 100, "replicas": 3}))
    w = load(f, {"replicas": "1", "headroom": None}, MACHINE)
    assert w.codes_per_day == pytest.approx(1e6) and w.replicas == 1 and w.headroom == 0.5
    assert load(f, {"codes_per_day": "5"}, MACHINE).codes_per_day == 5  # an option's per-day wins


@pytest.mark.parametrize("values,message", [
    ({"peak_scans_per_second": 1}, "needs codes_per_day"),
    ({"codes_per_day": 1}, "needs peak_scans_per_second"),
    ({"codes_per_day": 1, "codes_per_year": 1, "peak_scans_per_second": 1}, "not both"),
    ({"codes_per_day": 1, "peak_scans_per_second": 1, "scans": 5}, "unknown workload field 'scans'"),
    ({"codes_per_day": "many", "peak_scans_per_second": 1}, "codes_per_day (test) must be a number, got 'many'"),
    ({"codes_per_day": 1, "peak_scans_per_second": 1, "replicas": 0}, "replicas (test) must be at least 1"),
    ({"codes_per_day": 1, "peak_scans_per_second": 1, "replicas": 1.5}, "must be a whole number"),
    ({"codes_per_day": 1, "peak_scans_per_second": 1, "retention_years": 0}, "must be above 0"),
    ({"codes_per_day": 1, "peak_scans_per_second": 1, "mean_to_peak": 2}, "at most 1"),
    ({"codes_per_day": 1, "peak_scans_per_second": -5}, "must be at least 0"),
    ({"codes_per_day": True, "peak_scans_per_second": 1}, "must be a number"),
    ({"codes_per_day": 1, "peak_scans_per_second": 1, "events_per_code": 1}, "commissioning and packing: at least 2"),
])
def test_bad_values_are_named(values, message):
    with pytest.raises(WorkloadError) as err:
        build(values, MACHINE, "test")
    assert message in str(err.value)


@pytest.mark.parametrize("name,text,message", [
    ("w.yaml", "codes_per_day: 1", "must end in .toml or .json"),
    ("w.toml", "codes_per_day = ", "is not valid TOML"),
    ("w.json", "{", "is not valid JSON"),
    ("w.json", "[1, 2]", "one table of name = value"),
])
def test_bad_files_are_named(tmp_path, name, text, message):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(WorkloadError, match=message):
        load(f, {}, MACHINE)


def test_a_missing_file(tmp_path):
    with pytest.raises(WorkloadError, match="cannot read workload file"):
        load(tmp_path / "nope.toml", {}, MACHINE)
