"""The counterfeit check in bulk, against the index's verify_many alone in the same run.

check_many runs verify_many and then every registry check (approval, enterprise,
validity, expiry, recalls, query counts) over the batch; the baseline is
verify_many on the same scans, so the ratio is what the registry costs on top.
Scans: veterinary codes of our own issuance (half as the five-field QR payload,
half bare) and national code data (units in boxes).
"""
import datetime as dt

import pytest

import tracecode
from bench.conftest import size

N_SCANS = size(100_000, 1_000_000)
N_NATIONAL = size(20_000, 200_000)
N_APPROVALS = 2_000
TODAY = dt.date(2026, 6, 1)


def run(benchmark, fn, codes, role="engine", note=""):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("bench-registry") / "data")
    approvals = [{"number": f"兽药字(2020){e % 30 + 1:02d}{e:03d}{p:04d}", "product": f"产品{p}",
                  "company": f"公司{e}", "enterprise_id": f"{e + 1:05d}", "dosage_form": "粉剂",
                  "valid_until": "2030-12-31"} for e in range(40) for p in range(N_APPROVALS // 40)]
    assert d.registry.import_rows(approvals).ok
    scans = []
    per = N_SCANS // 10
    for k in range(10):  # ten products of four companies
        number = approvals[k * 173]["number"]
        batch = d.issue_approved(number, per, date=dt.date(2025, 1, 2), lot=f"L{k}", expiry="20300101")
        codes = [c.decode() for c in batch.codes()]
        d.apply([{"id": f"c{k}", "action": "commission", "codes": codes}])
        scans += [f"{c},{approvals[k * 173]['product']},{number},公司,0571-88888888" if i % 2 else c
                  for i, c in enumerate(codes)]
    national = []
    for i in range(N_NATIONAL):
        a = approvals[(i // 1000) * 7]
        unit = f"20240101{a['enterprise_id']}{i:011d}"
        box = f"20240101{a['enterprise_id']}9{i // 10:010d}"
        national += [{"code": unit, "number": a["number"], "lot": "N1", "production_date": "20240101",
                      "expiry_date": "20300101", "packaging_level": 1, "parent_code": box}]
        if i % 10 == 0:
            national.append({"code": box, "number": a["number"], "lot": "N1", "level": 2,
                             "production_date": "20240101", "expiry_date": "20300101"})
    assert d.registry.import_code_rows(national).ok
    yield d, scans, [r["code"] for r in national if r.get("parent_code")]
    d.close()


@pytest.mark.benchmark(group="registry-vet")
def test_baseline_verify_many(benchmark, world):
    d, scans, _ = world
    run(benchmark, lambda: d.verify_many(scans, record=False, today=TODAY), len(scans), "baseline",
        "index verify_many alone, same scans")


@pytest.mark.benchmark(group="registry-vet")
def test_engine_check_many(benchmark, world):
    d, scans, _ = world
    out = run(benchmark, lambda: d.check_many(scans, record=False, today=TODAY), len(scans),
              note=f"{len(scans):,} vet scans, half QR payloads, {N_APPROVALS:,} approvals")
    assert out.genuine.all()


@pytest.mark.benchmark(group="registry-national")
def test_baseline_verify_many_national(benchmark, world):
    d, _, national = world
    run(benchmark, lambda: d.verify_many(national, record=False, today=TODAY), len(national),
        "baseline", "index verify_many alone, national codes")


@pytest.mark.benchmark(group="registry-national")
def test_engine_check_many_national(benchmark, world):
    d, _, national = world
    out = run(benchmark, lambda: d.check_many(national, record=False, today=TODAY), len(national),
              note="national units, parents followed")
    assert out.genuine.all()
