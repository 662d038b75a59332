"""Rare earth end to end, on generated lots of one enterprise's year: quotas set, mining,
separation and smelting captured as EPCIS by the enterprise itself (LGTIN lots with
quantities), a sale with its VAT special invoice and an export with its customs
declaration; the mass balance flags a smelting that makes more metal than it used, the
quota check flags production beyond the directive plan, and the events are found by
invoice and declaration number (Service and CLI). Real LMDB, GS1's schema."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tracecode.app.caller import LOCAL
from tracecode.app.refusal import Refusal
from tracecode.categories import rare_earth as re_
from tracecode.settings import Settings, SettingsError

from epcis_reference import SCHEMA, need
from web_platform import GTIN, Platform

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
INVOICE, DECLARATION = "4400194130-08812345", "020220261000123456"


def _lot(lot: str) -> str:
    return f"https://id.gs1.org/01/{GTIN}/10/{lot}"


def _q(lot: str, quantity: float, uom: str) -> dict:
    return {"epcClass": _lot(lot), "quantity": quantity, "uom": uom}


def _doc(*events) -> bytes:
    return json.dumps({"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00.000+08:00",
                       "epcisBody": {"eventList": list(events)}}).encode()


def _ev(n: int, kind: str, month: int, **fields) -> dict:
    return {"type": kind, "eventID": f"urn:uuid:00000000-0000-4000-8000-0000000003{n:02d}",
            "eventTime": f"2026-{month:02d}-10T09:00:00.000+08:00", "eventTimeZoneOffset": "+08:00", **fields}


def _mining(n, month, lot, tonnes):
    return _ev(n, "ObjectEvent", month, action="ADD", bizStep=re_.STEPS["mining"],
               quantityList=[_q(lot, tonnes, "TNE")])


def _transform(n, month, step, inputs, outputs):
    return _ev(n, "TransformationEvent", month, bizStep=re_.STEPS[step],
               inputQuantityList=inputs, outputQuantityList=outputs)


def _bt(kind: str, number: str) -> dict:
    return {"type": re_.TRANSACTIONS[kind]["type"], "bizTransaction": re_.transaction_id(kind, number)}


def _checks(p, n) -> dict:
    [ev] = p.svc.epcis.event(LOCAL, _ev(n, "ObjectEvent", 1)["eventID"])
    return {c["check"]: c for c in ev[re_.CHECKS_FIELD]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    need(SCHEMA)
    p = Platform(tmp_path_factory.mktemp("rare_earth"), count=1)
    brand = p.svc.clients.by_token(p.tokens["issuer"])           # the enterprise captures its own events
    p.svc.quotas.set(LOCAL, "brand", 2026, "mining", 100, "t")
    p.svc.quotas.set(LOCAL, "brand", 2026, "smelting", 50_000, "kg")
    doc = _doc(
        _mining(1, 3, "ORE-2603", 60),
        _transform(2, 4, "separating", [_q("ORE-2603", 60, "TNE")], [_q("OX-2604", 40_000, "KGM")]),
        # 40 t of oxide in, 41 t of metal out: 2.5 % more than it used (tolerance 0.5 %)
        _transform(3, 5, "smelting", [_q("OX-2604", 40, "TNE")], [_q("MET-2605", 41, "TNE")]),
        _mining(4, 6, "ORE-2606", 50),                                # 110 t mined: beyond 100 t
        _ev(5, "ObjectEvent", 7, action="OBSERVE", bizStep="shipping", quantityList=[_q("MET-2605", 10, "TNE")],
            bizTransactionList=[_bt("vat_special_invoice", INVOICE)]),
        _ev(6, "ObjectEvent", 8, action="OBSERVE", bizStep=re_.STEPS["exporting"],
            quantityList=[_q("MET-2605", 5, "TNE")],
            bizTransactionList=[_bt("customs_export_declaration", DECLARATION)]),
    )
    job = p.svc.capture(brand, doc, "application/ld+json")
    assert job["state"] == "success", job["errors"]
    assert job["counts"]["stored"] == 6
    # stored all the same, and the job says what was flagged where
    assert [(f["pointer"], f["check"]) for f in job["flagged"]] == [
        ("/epcisBody/eventList/2", "mass_balance"), ("/epcisBody/eventList/2", "quota"),
        ("/epcisBody/eventList/3", "quota")]
    yield p, brand
    p.close()


def test_mass_balance_flags_more_out_than_in(world):
    p, _ = world
    assert _checks(p, 2)["mass_balance"]["ok"] is True
    bad = _checks(p, 3)["mass_balance"]
    assert bad["ok"] is False and (bad["input_kg"], bad["output_kg"]) == (40_000, 41_000)
    assert "exceed" in bad["detail"]


def test_production_beyond_quota_is_flagged(world):
    p, _ = world
    assert _checks(p, 1)["quota"]["ok"] is True
    mined = _checks(p, 4)["quota"]
    assert mined["ok"] is False and mined["produced_kg"] == 110_000 and mined["quota_kg"] == 100_000
    smelted = _checks(p, 3)["quota"]
    assert smelted["ok"] is False and smelted["produced_kg"] == 81_000
    rows = {(r["kind"]): r for r in p.svc.quotas.list(LOCAL, 2026)}
    assert rows["mining"]["over"] and rows["smelting"]["over"] and rows["mining"]["produced_kg"] == 110_000


def test_capturing_again_counts_once(world):
    p, brand = world
    again = p.svc.capture(brand, _doc(_mining(4, 6, "ORE-2606", 50)), "application/json")
    assert again["counts"]["already_stored"] == 1
    assert p.svc.quotas.produced("brand", 2026, "mining") == 110_000


def test_negative_quantities_are_errors_of_the_capture(world):
    # review: 90 t + 90 t - 80 t was 100 t against a 100 t quota, and -40 t in, -41 t out
    # passed the mass balance; each is an error of its event now, nothing counts
    p, brand = world
    before = p.svc.quotas.produced("brand", 2026, "mining")
    job = p.svc.capture(brand, _doc(_mining(20, 3, "ORE-NEG", -80), _transform(
        21, 4, "smelting", [_q("X-NEG", -40, "TNE")], [_q("Y-NEG", -41, "TNE")])), "application/ld+json")
    assert job["state"] == "failure" and job["counts"]["stored"] == 0
    assert [(e["pointer"], e["reason"]) for e in job["errors"]] == [
        ("/epcisBody/eventList/0/quantityList/0/quantity", "invalid_event"),
        ("/epcisBody/eventList/1/inputQuantityList/0/quantity", "invalid_event"),
        ("/epcisBody/eventList/1/outputQuantityList/0/quantity", "invalid_event")]
    assert p.svc.quotas.produced("brand", 2026, "mining") == before
    with pytest.raises(Refusal):
        p.svc.epcis.event(LOCAL, _ev(20, "ObjectEvent", 1)["eventID"])
    inf = re_.quantity_problems({"outputQuantityList": [_q("Z", float("inf"), "KGM"), _q("Z", 0, "KGM")]})
    assert [w for w, _ in inf] == ["/outputQuantityList/0/quantity"] and "finite" in inf[0][1]


def test_events_are_found_by_invoice_and_declaration_number(world):
    p, brand = world
    sold, _ = p.svc.quotas.find(brand, INVOICE)
    assert [e["eventID"] for e in sold] == [_ev(5, "ObjectEvent", 1)["eventID"]]
    exported, _ = p.svc.quotas.find(LOCAL, DECLARATION, "customs_export_declaration")
    assert [e["eventID"] for e in exported] == [_ev(6, "ObjectEvent", 1)["eventID"]]
    assert p.svc.quotas.find(LOCAL, DECLARATION, "vat_special_invoice")[0] == []
    # the binding's standard parameter finds the same
    got, _ = p.svc.epcis.query(LOCAL, {f"EQ_bizTransaction_{re_.TRANSACTIONS['vat_special_invoice']['type']}":
                                       re_.transaction_id("vat_special_invoice", INVOICE)})
    assert [e["eventID"] for e in got] == [e["eventID"] for e in sold]
    with pytest.raises(Refusal) as bad:
        p.svc.quotas.find(LOCAL, "no spaces allowed")
    assert bad.value.reason == "invalid_argument"


def test_a_production_declared_erroneous_counts_no_more(world):
    # the quota counts what stands: a mining declared erroneous (EPCIS errorDeclaration) is no
    # production any more (a year of its own, so the other tests' 2026 totals stay)
    p, brand = world
    wrong = {**_mining(30, 3, "ORE-2703", 30), "eventTime": "2027-03-10T09:00:00.000+08:00"}
    job = p.svc.capture(brand, _doc(wrong), "application/ld+json")
    assert job["state"] == "success", job["errors"]
    assert p.svc.quotas.produced("brand", 2027, "mining") == 30_000
    said = {**wrong, "errorDeclaration": {"declarationTime": "2027-04-01T08:00:00.000+08:00",
                                          "reason": "incorrect_data"}}
    job = p.svc.capture(brand, _doc(said), "application/ld+json")
    assert job["state"] == "success", job["errors"]
    assert p.svc.quotas.produced("brand", 2027, "mining") == 0


def test_rights_on_quotas(world):
    p, brand = world
    with pytest.raises(Refusal) as no:
        p.svc.quotas.set(brand, "brand", 2026, "mining", 1e6)
    assert no.value.reason == "permission_denied"
    assert {r["enterprise"] for r in p.svc.quotas.list(brand)} == {"brand"}
    rival = p.svc.clients.by_token(p.tokens["other_issuer"])
    assert p.svc.quotas.list(rival) == []
    with pytest.raises(Refusal):
        p.svc.quotas.set(LOCAL, "brand", 1999, "mining", 1)
    with pytest.raises(Refusal):
        p.svc.quotas.set(LOCAL, "brand", 2026, "gold", 1)


def test_tolerance_is_a_setting():
    ev = _transform(9, 1, "smelting", [_q("A", 1000, "KGM")], [_q("B", 1.008, "TNE")])
    assert re_.mass_balance(ev, re_.tolerance(Settings(rare_earth={"tolerance": 0.01})))["ok"] is True
    assert re_.mass_balance(ev, re_.tolerance(Settings()))["ok"] is False
    odd = _transform(9, 1, "smelting", [_q("A", 1000, "KGM")], [_q("B", 3, "LTR")])
    assert re_.mass_balance(odd, 0.01)["ok"] is None
    with pytest.raises(SettingsError):
        Settings(rare_earth={"tolerance": 5})


def test_the_cli(world, tmp_path):
    p, _ = world
    path = str(p.dd.path)
    run = [sys.executable, "-m", "tracecode"]
    out = subprocess.run(run + ["transactions", path, DECLARATION], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    [line] = out.stdout.splitlines()
    assert json.loads(line)["eventID"] == _ev(6, "ObjectEvent", 1)["eventID"]
    out = subprocess.run(run + ["quota", "list", path, "--year", "2026"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert {json.loads(r)["kind"] for r in out.stdout.splitlines()} == {"mining", "smelting"}


def test_settings_toml_rare_earth_table(tmp_path):
    from tracecode import settings as settings_mod
    (tmp_path / "settings.toml").write_text("[rare_earth]\ntolerance = 0.02\n")
    assert re_.tolerance(settings_mod.load(tmp_path)) == 0.02
    for bad in ("tolerance = 2", "tolerance = true", "margin = 0.1"):
        (tmp_path / "settings.toml").write_text(f"[rare_earth]\n{bad}\n")
        with pytest.raises(SettingsError):
            settings_mod.load(tmp_path)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**9), st.integers(-300, 300), st.sampled_from(["KGM", "TNE", "GRM"]),
       st.sampled_from(["KGM", "TNE", "GRM"]))
def test_mass_balance_reads_every_mass_unit_alike(grams_in, permille, uom_in, uom_out):
    """The same masses in any of the units give the same verdict (away from the boundary,
    where float rounding could decide either way)."""
    grams_out = grams_in * (1000 + permille) // 1000
    per = {"GRM": 1, "KGM": 1000, "TNE": 10**6}
    ev = _transform(9, 1, "smelting", [_q("A", grams_in / per[uom_in], uom_in)],
                    [_q("B", grams_out / per[uom_out], uom_out)])
    assume(abs(grams_out - grams_in * 1.1) >= 1e-6 * grams_in + 1e-3)
    got = re_.mass_balance(ev, 0.1)
    assert got["ok"] is (grams_out <= grams_in * 1.1)
    assert abs(got["input_kg"] - grams_in / 1000) <= 1e-9 * grams_in
