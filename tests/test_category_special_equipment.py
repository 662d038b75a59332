"""Special equipment end to end (issue 15's first category): codes others assigned are
registered with structure checks, assets go through their lifecycle by the Python API and
the Service (rights, audit), the verdicts, the filling checks a station's scan runs (a
scrapped, an overdue, a failed, another unit's cylinder refused), EPCIS vocabulary, the
CLI, and the public page's section over real HTTP.

Generated data: tests/special_equipment_data.py (catalogue varieties, provinces,
serials past 99999 with letters).
"""
import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pytest

import tracecode
from tracecode import categories, schemes
from tracecode.app.caller import PUBLIC, Caller
from tracecode.app.refusal import Refusal
from tracecode.app.service import Service
from tracecode.categories import special_equipment as se
from tracecode.index import Verdict
from tracecode.scan import Fault, ScanParser
from tests.special_equipment_data import cylinder_codes, equipment_codes, registration_codes

N = 20_000
DAY = 86_400
T0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc).timestamp()
TODAY = dt.date(2025, 6, 1)


def at(days: float) -> float:
    return T0 + days * DAY


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("special-equipment") / "data"
    d = tracecode.init(path)
    codes = {"cn-equip-18": equipment_codes(N), "cn-equip-reg-20": registration_codes(N),
             "cn-cylinder-16": cylinder_codes(N)}
    reports = {name: d.register(name, c, owner="Shanghai Mitsubishi Elevator" if name == "cn-equip-18"
                                else "Henan SAMR", source=f"{name}.txt") for name, c in codes.items()}
    yield d, codes, reports
    d.close()


def text(code) -> str:
    return code.decode() if isinstance(code, bytes) else code


def elevator(codes, i=0) -> str:
    return next(text(c) for c in codes["cn-equip-18"][i:] if c.startswith(b"31"))


def cylinder(codes, i) -> str:
    return text(codes["cn-cylinder-16"][i])


def ok(result):
    assert result["ok"], result
    return result


# -- schemes as data --------------------------------------------------------------------------

def test_the_schemes_are_data_marked_external_and_checked():
    b = schemes.builtin()
    assert [s.name for s in categories.schemes_of("special_equipment")] == \
        ["cn-cylinder-16", "cn-equip-18", "cn-equip-reg-20"]
    assert all(b[n].external for n in ("cn-cylinder-16", "cn-equip-18", "cn-equip-reg-20"))
    eq, reg = b["cn-equip-18"], b["cn-equip-reg-20"]
    assert eq.length == 18 and reg.length == 20
    assert reg.is_valid("21603101012006010101")             # code-formats.md's example
    assert eq.is_valid("3110310422019A0001")                 # a serial past 99999
    assert not eq.is_valid("311099042201900001")             # 99: no province
    assert not eq.is_valid("311031042180000001")             # year 1800
    assert not reg.is_valid("21603101012006130101")          # month 13
    with pytest.raises(tracecode.errors.ValidationError, match="province"):
        eq.validate("311099042201900001")
    # the generated codes keep every rule, through the bulk and the single path alike
    for name, gen in (("cn-equip-18", equipment_codes), ("cn-equip-reg-20", registration_codes),
                      ("cn-cylinder-16", cylinder_codes)):
        codes = gen(2000, seed=7)
        assert b[name].validate_many(codes).all()
        assert all(b[name].is_valid(c.decode()) for c in codes[:200])


def test_they_are_never_issued_here(world):
    d, _, _ = world
    with pytest.raises(tracecode.errors.ValidationError, match="register them"):
        d.issue("cn-equip-18", {"variety": "3110", "maker_region": "31", "licence": "042",
                                "year": "2019"}, 10)


def test_a_code_fitting_two_schemes_is_ambiguous_never_misread(world):
    """Pressure pipelines (class 8xx0) start with 8 like drug codes, and a tenth of them
    pass the drug code's Damm check: without the index both schemes' rules are kept, so
    the parser says AMBIGUOUS naming both; a registered one still verifies (its text is
    the key it was registered under)."""
    d, _, _ = world
    pipes = registration_codes(5000, seed=11, classes=("8100", "8200", "8300"))
    both = schemes.builtin()["cn-drug-20"].validate_many(pipes)
    assert both.any()
    r = ScanParser(d.schemes).parse_many([text(c) for c in pipes]).records
    assert (r["fault"][both] == Fault.AMBIGUOUS).all()
    assert (r["fault"][~both] == Fault.OK).all()
    assert {ScanParser(d.schemes).names[i] for i in np.unique(r["scheme"][~both])} == {"cn-equip-reg-20"}
    assert d.register("cn-equip-reg-20", pipes, owner="Jiangsu SAMR").registered == len(pipes)
    vb = d.verify_many([text(c) for c in pipes], record=False)
    assert (vb.verdicts == Verdict.GENUINE).all()
    # through the index a registered code is its registration's scheme, in bulk and alone
    assert {a.scheme for a in vb} == {"cn-equip-reg-20"}
    tied = text(pipes[int(np.flatnonzero(both)[0])])
    assert d.verify(tied, record=False).scheme == "cn-equip-reg-20"


# -- registration -----------------------------------------------------------------------------

def test_registration_counts_and_rejects_lines_by_number(world, tmp_path):
    d, codes, reports = world
    assert all(r.registered == N and r.rejected == 0 for r in reports.values())
    good = [text(c) for c in equipment_codes(5, seed=99)]
    lines = [good[0], "311099042201900001", "", good[1].lower(), "3110-3104-2201-9B00-01",
             good[0], "31103104220199000011", "本品为假货", good[2]]
    rep = d.register("cn-equip-18", lines, owner="maker B")
    assert (rep.registered, rep.already, rep.rejected, rep.repeated) == (4, 0, 4, 1)
    why = {n: reason for n, _, reason in rep.reasons}
    assert set(why) == {2, 6, 7, 8}
    assert "province" in why[2] and why[6] == "repeats line 1" and "18 characters" in why[7]
    assert d.assets.asset("3110310422019B0001") is not None     # dashes dropped
    assert d.assets.asset(good[1]) is not None                  # lower case folded
    # again: nothing replaced, the first owner's record kept
    again = d.register("cn-equip-18", good[:2], owner="somebody else")
    assert (again.registered, again.already) == (0, 2)
    assert d.assets.verdict(good[0])["owner"] == "maker B"


def test_registered_codes_verify_in_bulk(world):
    d, codes, _ = world
    scans = [text(c) for name in sorted(codes) for c in codes[name]]
    vb = d.verify_many(scans, record=False)
    assert (vb.verdicts == Verdict.GENUINE).all()
    assert {vb[0].scheme, vb[len(vb) - 1].scheme} == {"cn-cylinder-16", "cn-equip-reg-20"}
    # a code of the layout nobody registered is unknown
    stranger = text(equipment_codes(1, seed=12345)[0])
    assert d.verify(stranger, record=False).verdict == Verdict.UNKNOWN
    assert d.assets.verdict(stranger)["verdict"] == se.NOT_REGISTERED


# -- the lifecycle of an elevator -------------------------------------------------------------

def test_an_elevator_through_its_life(world):
    d, codes, _ = world
    a, code = d.assets, elevator(codes)
    assert a.verdict(code, today=TODAY)["verdict"] == se.NOT_REGISTERED   # registered code, no use yet
    ok(a.record(code, {"step": "manufacture", "by": "Shanghai Mitsubishi Elevator", "time": at(0)}))
    ok(a.record(code, {"step": "install", "by": "Pudong Installation Co", "time": at(20)}))
    ok(a.record(code, {"step": "register_use", "by": "Pudong SAMR", "time": at(30),
                       "next_due": "2025-03-30"}))
    ok(a.record(code, {"step": "maintain", "by": "Otis Service Shanghai", "time": at(45)}))
    v = a.verdict(code, today=dt.date(2024, 6, 1))
    assert v["verdict"] == se.IN_SERVICE and v["last_maintenance"]["by"] == "Otis Service Shanghai"
    # a year on, the inspection is overdue: the verdict says since when
    v = a.verdict(code, today=TODAY)
    assert v["verdict"] == se.INSPECTION_OVERDUE and v["reasons"] == ["inspection overdue since 2025-03-30"]
    ok(a.record(code, {"step": "inspect", "by": "Shanghai Special Equipment Inspection Institute",
                       "result": "pass", "next_due": "2026-04-10", "time": at(405)}))
    v = a.verdict(code, today=TODAY)
    assert v["verdict"] == se.IN_SERVICE and v["next_due"] == "2026-04-10"
    assert v["last_inspection"]["by"] == "Shanghai Special Equipment Inspection Institute"
    assert v["last_inspection"]["result"] == "pass" and v["product"]["variety"] == code[:4]
    ok(a.record(code, {"step": "modernise", "by": "Otis Service Shanghai", "time": at(420)}))
    ok(a.record(code, {"step": "take_out_of_service", "by": "Pudong SAMR", "time": at(430)}))
    assert a.verdict(code, today=TODAY)["verdict"] == se.NOT_IN_SERVICE
    ok(a.record(code, {"step": "repair", "by": "Otis Service Shanghai", "time": at(431)}))
    ok(a.record(code, {"step": "register_use", "by": "Pudong SAMR", "time": at(440), "next_due": "2026-04-10"}))
    assert a.verdict(code, today=TODAY)["verdict"] == se.IN_SERVICE
    # an elevator is never filled; a step without who did it is refused, nothing written
    refused = a.record(code, {"step": "fill", "by": "station", "time": at(441)})
    assert refused["reason"] == "refused" and "not a gas cylinder" in refused["error"]
    assert a.record(code, {"step": "maintain", "by": "  ", "time": at(441)})["reason"] == "invalid_step"
    assert a.record(code, {"step": "inspect", "by": "x", "result": "ok", "next_due": "2026-01-01"})["field"] == "result"
    assert a.record(code, {"step": "fly", "by": "x"})["field"] == "step"
    ok(a.record(code, {"step": "scrap", "by": "Pudong SAMR", "time": at(500)}))
    v = a.verdict(code, today=TODAY)
    assert v["verdict"] == se.SCRAPPED and "Pudong SAMR" in v["reasons"][0]
    # the code is retired: nothing follows, and every verify says destroyed
    assert "scrapped" in a.record(code, {"step": "maintain", "by": "x", "time": at(501)})["error"]
    assert d.verify(code, record=False).verdict == Verdict.DESTROYED
    assert [s["step"] for s in a.steps(code)] == ["manufacture", "install", "register_use", "maintain", "inspect",
                                                 "modernise", "take_out_of_service", "repair",
                                                 "register_use", "scrap"]


# -- cylinders and filling ------------------------------------------------------------------------

def _cylinder_in_use(a, code, unit="U0007", due="2026-01-01", t=0):
    ok(a.record(code, {"step": "manufacture", "by": "Beijing Tianhai", "time": at(t)}))
    ok(a.record(code, {"step": "register_use", "by": "Shangqiu SAMR", "unit": unit, "next_due": due,
                       "time": at(t + 1)}))


def test_a_filling_station_may_fill_only_a_cylinder_it_may(world):
    d, codes, _ = world
    a = d.assets
    fine, other, overdue, failed, scrapped = (cylinder(codes, i) for i in range(5))
    for c in (fine, other, overdue, failed, scrapped):
        _cylinder_in_use(a, c)
    ok(a.record(overdue, {"step": "inspect", "by": "Inspection A", "result": "pass", "next_due": "2025-01-01",
                          "time": at(2)}))
    ok(a.record(failed, {"step": "inspect", "by": "Inspection A", "result": "fail", "next_due": "2026-01-01",
                         "time": at(2)}))
    ok(a.record(scrapped, {"step": "scrap", "by": "Shangqiu SAMR", "time": at(3)}))
    # the station's scan: may U0007 fill it today?
    answers = {c: a.verdict(c, unit="U0007", today=TODAY) for c in (fine, other, overdue, failed, scrapped)}
    assert answers[fine]["may_fill"] is True and answers[fine]["verdict"] == se.IN_SERVICE
    assert "overdue since 2025-01-01" in answers[overdue]["fill_refusal"]
    assert answers[overdue]["verdict"] == se.INSPECTION_OVERDUE
    assert "failed its inspection" in answers[failed]["fill_refusal"]
    assert "scrapped" in answers[scrapped]["fill_refusal"] and answers[scrapped]["verdict"] == se.SCRAPPED
    assert "registered to filling unit U0007, not U0009" in a.verdict(other, unit="U0009", today=TODAY)["fill_refusal"]
    # and the fills themselves: recorded or refused with the same reasons
    ok(a.record(fine, {"step": "fill", "by": "Station 7", "unit": "U0007", "time": at(400)}, today=TODAY))
    assert "U0009" in a.record(other, {"step": "fill", "by": "Station 9", "unit": "U0009", "time": at(400)},
                               today=TODAY)["error"]
    for c, why in ((overdue, "overdue"), (failed, "failed"), (scrapped, "scrapped")):
        r = a.record(c, {"step": "fill", "by": "Station 7", "unit": "U0007", "time": at(400)}, today=TODAY)
        assert r["reason"] == "refused" and why in r["error"], r
    v = a.verdict(fine, today=TODAY)
    assert v["last_fill"] == {"step": "fill", "by": "Station 7", "date": "2025-04-05", "unit": "U0007"}
    # a cylinder's registration for use names its filling unit
    lone = cylinder(codes, 10)
    ok(a.record(lone, {"step": "manufacture", "by": "Beijing Tianhai", "time": at(0)}))
    assert "filling unit" in a.record(lone, {"step": "register_use", "by": "SAMR", "next_due": "2026-01-01",
                                             "time": at(1)})["error"]
    # filling records are kept: every fill is a step of the log, never pruned
    assert se.FILLING_RETENTION_DAYS >= 730
    assert sum(s["step"] == "fill" for s in a.steps(fine)) == 1


def test_two_stations_racing_on_one_cylinder_are_decided_in_turn(world):
    """The store appends a step only against the history it was checked with."""
    d, codes, _ = world
    code = cylinder(codes, 20)
    _cylinder_in_use(d.assets, code)
    ref = code                      # the port names an asset by its compact code
    n = len(d.index.store.asset_steps(ref))
    assert d.index.store.asset_append(ref, n, b'{"step":"maintain","by":"a","time":1.0}')
    assert not d.index.store.asset_append(ref, n, b'{"step":"maintain","by":"b","time":1.0}')
    assert len(d.index.store.asset_steps(ref)) == n + 1


LOWER_SCHEME = """
[scheme]
name = "x-tag-12"
category = "special_equipment"
assigned = "external"
title = "a tag whose codes hold lower case (case-sensitive)"

[[field]]
name = "maker"
role = "product"
length = 4
alphabet = "abcdefghijklmnopqrstuvwxyz"

[[field]]
name = "serial"
role = "serial"
length = 8
alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
"""


def test_a_case_sensitive_schemes_registered_codes_are_found_as_registered(tmp_path):
    """Registration, asset lookups and Verify read a code with one normaliser (the scheme's
    compact()): lower case stays lower case where the alphabets have it."""
    path = tmp_path / "data"
    tracecode.init(path).close()
    (path / "schemes" / "x-tag-12.toml").write_text(LOWER_SCHEME)
    d = tracecode.open(path)
    try:
        rep = d.register("x-tag-12", ["abcd12345678", "wxyz-0000 aaaa", "efgh\u300000000001"], owner="m")
        assert (rep.registered, rep.rejected) == (3, 0), rep.as_dict()
        for code in ("abcd12345678", "wxyz0000aaaa", "wxyz 0000-aaaa", "efgh00000001"):
            assert d.assets.verdict(code)["owner"] == "m", code
        assert d.assets.verdict("ABCD12345678")["verdict"] == "not_registered"   # another code
        ok(d.assets.record("abcd12345678", {"step": "manufacture", "by": "Maker M"}))
        assert [s["step"] for s in d.assets.steps("abcd12345678")] == ["manufacture"]
        assert d.verify("abcd12345678", record=False).verdict == Verdict.GENUINE
        assert (d.verify_many(["abcd12345678", "wxyz0000aaaa"], record=False).verdicts == Verdict.GENUINE).all()
    finally:
        d.close()


# -- EPCIS vocabulary -----------------------------------------------------------------------------

def test_the_steps_are_epcis_events_with_cbv_or_our_bizsteps(world):
    d, codes, _ = world
    code = cylinder(codes, 30)
    _cylinder_in_use(d.assets, code)
    ok(d.assets.record(code, {"step": "inspect", "by": "Inspection A", "result": "pass",
                              "next_due": "2027-01-01", "time": at(5)}))
    events = d.assets.epcis(code)
    assert [e["bizStep"] for e in events] == ["commissioning", "urn:tracecode:bizstep:registering_for_use",
                                              "inspecting"]
    assert events[1]["tc:unit"] == "U0007" and events[2]["tc:result"] == "pass"
    assert all(e["type"] == "ObjectEvent" and e["tc:by"] for e in events)
    cat = categories.get("special_equipment")
    assert set(cat.lifecycle) == {s.biz_step for s in se.STEPS.values()}
    assert all(s in categories.CBV_STEPS or s.startswith(categories.OUR_NAMESPACE) for s in cat.lifecycle)


# -- the Service: rights and audit -------------------------------------------------------------

def test_the_service_checks_rights_and_audits(world):
    d, codes, _ = world
    svc = Service(d, audit_path=d.path / "se-audit.log")
    maker = Caller("maker-sh", frozenset({"issuer"}))
    station = Caller("station-7", frozenset({"scanner"}))
    regulator = Caller("samr", frozenset({"regulator"}))
    new = [text(c) for c in equipment_codes(3, seed=4242)]
    with pytest.raises(Refusal) as exc:   # an issuer registers only its own products
        svc.register(maker, "cn-equip-18", new)
    assert exc.value.reason == "permission_denied"
    with pytest.raises(Refusal):          # a scanner registers nothing
        svc.register(station, "cn-equip-18", new)
    with pytest.raises(Refusal) as exc:
        svc.register(tracecode.app.caller.LOCAL, "cn-drug-20", new)
    assert exc.value.field == "scheme"
    rep = svc.register(tracecode.app.caller.LOCAL, "cn-equip-18", new, owner="maker-sh")
    assert rep.registered == 3
    code = cylinder(codes, 40)
    res = svc.asset_steps(regulator, [
        {"code": code, "step": "manufacture", "by": "Beijing Tianhai", "time": at(0)},
        {"code": code, "step": "register_use", "by": "Shangqiu SAMR", "unit": "U1", "next_due": "2026-01-01",
         "time": at(1)}])
    assert [r["ok"] for r in res] == [True, True]
    res = svc.asset_steps(station, [
        {"code": code, "step": "fill", "by": "Station 7", "unit": "U1", "time": at(2)},
        {"code": code, "step": "scrap", "by": "Station 7", "time": at(3)},      # an authority's step
        {"code": "nope", "step": "fill", "by": "Station 7", "unit": "U1"}])
    assert [r["ok"] for r in res] == [True, False, False]
    assert res[1]["reason"] == "permission_denied" and res[2]["reason"] == "not_registered"
    with pytest.raises(Refusal):
        svc.asset_steps(PUBLIC, [{"code": code, "step": "fill", "by": "me", "unit": "U1"}])
    answer = svc.asset(PUBLIC, code, unit="U1", today=TODAY)
    assert answer["may_fill"] is True and answer["steps"] == 3
    svc.close()
    log = (d.path / "se-audit.log").read_text()
    assert '"register"' in log and '"asset_steps"' in log and "permission_denied" in log


def test_an_issuer_records_authority_steps_for_its_own_assets_only(world):
    d, codes, _ = world
    svc = Service(d, audit_path=d.path / "se-audit-own.log")
    mine = [text(c) for c in equipment_codes(2, seed=777)]
    svc.register(tracecode.app.caller.LOCAL, "cn-equip-18", mine, owner="maker-own")
    owner = Caller("maker-own", frozenset({"issuer"}))
    rival = Caller("maker-rival", frozenset({"issuer"}))
    res = svc.asset_steps(rival, [{"code": mine[0], "step": "scrap", "by": "Rival Co", "time": at(1)},
                                  {"code": mine[0], "step": "take_out_of_service", "by": "Rival Co",
                                   "time": at(1)}])
    assert [r["reason"] for r in res] == ["permission_denied"] * 2 and "maker-own" in res[0]["error"]
    assert d.assets.steps(mine[0]) == []
    assert d.verify_many([mine[0]], record=False).verdicts[0] == Verdict.GENUINE   # not retired
    res = svc.asset_steps(owner, [{"code": mine[1], "step": "scrap", "by": "Own Co", "time": at(1)}])
    assert res[0]["ok"], res
    svc.close()


def test_inspection_results_and_due_dates_are_an_inspection_bodys(world):
    d, codes, _ = world
    svc = Service(d, audit_path=d.path / "se-audit-insp.log")
    code = cylinder(codes, 41)
    _cylinder_in_use(d.assets, code)
    station = Caller("station-8", frozenset({"scanner"}))
    maker = Caller("Henan SAMR", frozenset({"issuer"}))          # even the registration's owner
    for who in (station, maker):
        res = svc.asset_steps(who, [
            {"code": code, "step": "inspect", "by": "Station 8", "result": "fail", "next_due": "2027-01-01",
             "time": at(2)},
            {"code": code, "step": "maintain", "by": "Station 8", "next_due": "2020-01-01", "time": at(2)}])
        assert [r["reason"] for r in res] == ["permission_denied"] * 2, res
    assert d.assets.verdict(code, unit="U0007", today=TODAY)["may_fill"] is True
    res = svc.asset_steps(station, [{"code": code, "step": "maintain", "by": "Station 8", "time": at(2)}])
    assert res[0]["ok"], res
    res = svc.asset_steps(Caller("cn-inspect", frozenset({"regulator"})), [
        {"code": code, "step": "inspect", "by": "Inspection B", "result": "fail", "next_due": "2027-01-01",
         "time": at(3)}])
    assert res[0]["ok"], res
    assert d.assets.verdict(code, unit="U0007", today=TODAY)["may_fill"] is False
    svc.close()


# -- the command line -------------------------------------------------------------------------------

def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_the_command_line(tmp_path):
    path = tmp_path / "cli"
    assert run_cli("init", path).returncode == 0
    good = [text(c) for c in equipment_codes(50, seed=5)]
    f = tmp_path / "codes.txt"
    f.write_text("\n".join(good[:25] + ["311099042201900001"] + good[25:]) + "\n")
    r = run_cli("register", path, f, "--scheme", "cn-equip-18", "--owner", "maker A")
    assert r.returncode == 1 and "REJECTED line 26: field 'maker_region'" in r.stdout
    assert "registered 50 cn-equip-18 codes, 1 lines rejected" in r.stderr
    steps = tmp_path / "steps.jsonl"
    steps.write_text("\n".join(json.dumps(s) for s in (
        {"code": good[0], "step": "install", "by": "Installer"},
        {"code": good[0], "step": "register_use", "by": "SAMR", "unit": "U1", "next_due": "2030-01-01"},
        {"code": good[0], "step": "scrap"})) + "\nnot json\n")
    r = run_cli("asset-steps", path, steps)
    results = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 1 and [x["ok"] for x in results] == [True, True, False, False]
    assert results[2]["field"] == "by" and results[3]["line"] == 4
    r = run_cli("asset", path, good[0])
    assert r.returncode == 0 and json.loads(r.stdout)["verdict"] == se.IN_SERVICE
    r = run_cli("asset", path, good[0], "--epcis")
    assert [json.loads(x)["bizStep"] for x in r.stdout.splitlines()] == [
        "installing", "urn:tracecode:bizstep:registering_for_use"]
    assert run_cli("register", path, f, "--scheme", "cn-drug-20").returncode != 0


# -- the public page ----------------------------------------------------------------------------------

def test_the_public_page_shows_the_category_section(world):
    httpx = pytest.importorskip("httpx")
    from tests.web_server import serving
    from tracecode.web.app import create_app
    d, codes, _ = world
    svc = Service(d, audit_path=d.path / "web-audit.log")
    in_use, gone = cylinder(codes, 50), cylinder(codes, 51)
    for c in (in_use, gone):
        _cylinder_in_use(d.assets, c, due="2099-01-01")
    ok(d.assets.record(in_use, {"step": "inspect", "by": "Henan Inspection Institute", "result": "pass",
                                "next_due": "2099-01-01", "time": at(5)}))
    ok(d.assets.record(gone, {"step": "scrap", "by": "Shangqiu SAMR", "time": at(6)}))
    with serving(create_app(svc, base_url="https://trace.example")) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        page = client.get(f"/c/{in_use}", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        html = page.text
        assert 'id="section-special_equipment"' in html and 'data-verdict="in_service"' in html
        assert "Henan Inspection Institute" in html and "U0007" in html
        # registered, not issued here: the banner says so and leaves use to the section
        assert "assigned by its maker and is registered" in html and "issued on the platform" not in html
        station = client.get(f"/c/{in_use}?unit=U0009", headers={"Accept-Language": "en"}).text
        assert "registered to filling unit U0007, not U0009" in station
        zh = client.get(f"/c/{gone}", headers={"Accept-Language": "zh"}).text
        assert 'data-verdict="scrapped"' in zh and "已报废" in zh
        api = client.get(f"/api/v1/codes/{in_use}").json()
        assert api.get("section", {}).get("verdict") in (None, se.IN_SERVICE)
    svc.close()


def test_a_parser_with_the_key_reads_them_without_ff1():
    """No FF1 serial: with the master key and no index, a registration code is read (no
    counter), and an Issuer of an external scheme is refused with what to do instead."""
    from tracecode import Key
    from tracecode.issuance import Issuer
    parser = ScanParser(master_key=Key(bytes(range(32))))
    s = parser.parse("21603101012006010101")
    assert (s.scheme, s.counter) == ("cn-equip-reg-20", None)
    r = parser.parse_many(["21603101012006010101", "3110310422019A0001"]).records
    assert (r["fault"] == Fault.OK).all()
    with pytest.raises(tracecode.errors.ValidationError, match="register them"):
        Issuer(schemes.get("cn-equip-18"), {"variety": "3110", "maker_region": "31", "licence": "042",
                                            "year": "2019"}, Key(bytes(range(32))))
