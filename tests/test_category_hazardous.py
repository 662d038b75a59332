"""Hazardous goods end to end (issue 15): detonator shell codes a factory assigned
(GA 441-2003) registered with structure checks and the 10-year rule, electronic detonator
and fireworks codes of the unverified layouts, the flow registration steps under licences
(missing, unknown, expired, wrong-kind licences refused), the quantity balance as alerts,
a detonator used twice refused, what a regulator and anyone else see, the command line and
the public page over real HTTP (a controlled item, nothing more).

Generated data: tests/hazardous_data.py (enterprise codes 01-99, year digits, the feature
characters of the standard including its lower-case letters, serials in order).
"""
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracecode
from tracecode import categories, schemes
from tracecode.app.caller import Caller
from tracecode.app.refusal import Refusal
from tracecode.app.service import Service
from tracecode.categories import hazardous as hz
from tracecode.index import Verdict
from tracecode.index.register import register
from tests.hazardous_data import detonator_codes, edetonator_codes, fireworks_codes

N = 20_000
DAY = 86_400
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc).timestamp()
POLICE = Caller("hunan-police", frozenset({"regulator"}))
FACTORY = "Hunan Nanling Civil Explosives"


def at(days: float) -> float:
    return T0 + days * DAY


def text(code) -> str:
    return code.decode() if isinstance(code, bytes) else code


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("hazardous") / "data"
    d = tracecode.init(path)
    codes = {"cn-detonator-13": detonator_codes(N, enterprise="35", year=6),
             "cn-edetonator-21": edetonator_codes(N // 10), "cn-fireworks-22": fireworks_codes(N // 10)}
    reports = {name: register(d.index, name, c, owner=FACTORY, source=f"{name}.txt", when=at(0))
               for name, c in codes.items()}
    lic = d.assets.licences
    lic.add("MB-P-035", FACTORY, ["production", "storage"], "2025-01-01", "2028-12-31")
    lic.add("MB-S-112", "Chenzhou Explosives Depot", ["storage", "sale"], "2025-01-01", "2028-12-31")
    lic.add("YS-0451", "Chenzhou Hazardous Transport", ["transport"], "2025-01-01", "2028-12-31")
    lic.add("YS-OLD", "Old Transport", ["transport"], "2020-01-01", "2025-12-31")
    lic.add("BP-3301", "Yizhang Quarry Blasting Team", ["blasting"], "2025-06-01", "2027-05-31")
    yield d, codes, reports
    d.close()


def ok(result):
    assert result["ok"], result
    return result


def flow(d, code, start=1.0, quantity=1):
    """A detonator from the factory to the blasting site's door."""
    for i, step in enumerate((
            {"step": "produce", "by": FACTORY, "licence": "MB-P-035"},
            {"step": "store_in", "by": FACTORY, "licence": "MB-P-035", "warehouse": "Factory store 2",
             "quantity": quantity},
            {"step": "store_out", "by": FACTORY, "licence": "MB-P-035", "warehouse": "Factory store 2",
             "quantity": quantity},
            {"step": "transport", "by": "Chenzhou Hazardous Transport", "licence": "YS-0451",
             "vehicle": "湘L·A1234", "driver": "Liu Wei (DL 4310...)", "quantity": quantity})):
        ok(d.assets.record(code, dict(step, time=at(start + i / 24))))


# -- schemes as data ------------------------------------------------------------------------

def test_the_schemes_are_external_data_and_the_shell_code_keeps_its_rules():
    b = schemes.builtin()
    assert [s.name for s in categories.schemes_of("hazardous")] == \
        ["cn-detonator-13", "cn-edetonator-21", "cn-fireworks-22"]
    assert all(b[n].external for n in ("cn-detonator-13", "cn-edetonator-21", "cn-fireworks-22"))
    det = b["cn-detonator-13"]
    assert det.length == 13 and not det.case_insensitive      # lower-case features are other codes
    assert det.is_valid("3561130A00001") and det.is_valid("3561130k00001")
    for bad in ("0061130A00001",      # enterprise 00
                "3561330A00001",      # month 13
                "3561132A00001",      # day 32
                "3561130c00001",      # c is not a feature character (nor o s u v w x z)
                "3561130A0000Z"):     # the serial is 5 digits
        assert not det.is_valid(bad), bad
    builtin = Path(schemes.__file__).parent / "builtin"
    for name in ("cn-edetonator-21", "cn-fireworks-22"):   # marked so, for the operator
        assert "UNVERIFIED LAYOUT" in (builtin / f"{name}.toml").read_text() and "unverified" in b[name].title
    assert "SEQUENTIAL" in (builtin / "cn-detonator-13.toml").read_text()


def test_they_are_registered_never_issued_and_verify_in_bulk(world):
    d, codes, reports = world
    assert {n: r.registered for n, r in reports.items()} == {n: len(c) for n, c in codes.items()}
    with pytest.raises(Exception, match="never issued here"):
        d.issue("cn-detonator-13", {"enterprise": "35", "year": "6", "month": "11", "day": "30",
                                    "feature": "A"}, 10)
    scans = [text(c) for name in sorted(codes) for c in codes[name]]
    vb = d.verify_many(scans, record=False)
    assert (vb.verdicts == Verdict.GENUINE).all()
    stranger = text(detonator_codes(1, seed=999, enterprise="77")[0])
    assert d.verify(stranger, record=False).verdict == Verdict.UNKNOWN


def test_a_shell_code_may_not_repeat_within_ten_years(world):
    d, codes, _ = world
    again = codes["cn-detonator-13"][:500]
    rep = register(d.index, "cn-detonator-13", again, owner=FACTORY, when=at(9 * 365))
    assert (rep.registered, rep.rejected) == (0, 500)
    assert "may not repeat within 10 years" in rep.reasons[0][2]
    code = text(again[0])
    flow(d, code, start=2)
    assert d.assets.verdict(code)["state"] == hz.IN_TRANSIT
    # ten years on (the year digit has come round again) the same code is a new shell
    rep = register(d.index, "cn-detonator-13", [code], owner="Another factory", when=at(10 * 366))
    assert (rep.registered, rep.rejected) == (1, 0)
    v = d.assets.verdict(code)
    assert v["state"] == hz.REGISTERED and v["steps"] == 0 and v["owner"] == "Another factory"
    # and not again within ten years of that
    rep = register(d.index, "cn-detonator-13", [code], owner=FACTORY, when=at(10 * 366 + 30))
    assert rep.rejected == 1
    # fireworks case codes have no such rule: a repeat keeps its first record
    rep = register(d.index, "cn-fireworks-22", codes["cn-fireworks-22"][:10], owner=FACTORY)
    assert (rep.already, rep.rejected) == (10, 0)


def test_a_detonator_through_its_flow_and_used_twice(world):
    d, codes, _ = world
    code = text(codes["cn-detonator-13"][1000])
    flow(d, code)
    used = ok(d.assets.record(code, {"step": "use", "by": "Yizhang Quarry Blasting Team", "licence": "BP-3301",
                                     "site": "Yizhang quarry bench 3", "responsible": "Zhang San",
                                     "used": 1, "returned": 0, "time": at(1.5)}))
    assert used["alerts"] == [] and used["state"] == hz.USED
    twice = d.assets.record(code, {"step": "use", "by": "someone", "licence": "BP-3301", "site": "elsewhere",
                                   "responsible": "Li Si", "used": 1, "time": at(2)})
    assert not twice["ok"] and "used already" in twice["error"]
    v = d.assets.verdict(code)
    assert v["verdict"] == hz.USED and v["place"] == "Yizhang quarry bench 3" and v["alerts"] == []
    assert [e["bizStep"] for e in d.assets.epcis(code)] == [
        "commissioning", "receiving", "shipping", "urn:tracecode:bizstep:transporting",
        "urn:tracecode:bizstep:blasting"]
    assert d.assets.epcis(code)[3]["tc:licence"] == "YS-0451"


def test_every_step_names_a_licence_of_the_right_kind_valid_that_day(world):
    d, codes, _ = world
    code = text(codes["cn-detonator-13"][1001])
    missing = d.assets.record(code, {"step": "produce", "by": FACTORY, "time": at(1)})
    assert missing["reason"] == "no_licence" and missing["field"] == "licence"
    unknown = d.assets.record(code, {"step": "produce", "by": FACTORY, "licence": "MB-P-999", "time": at(1)})
    assert unknown["reason"] == "refused" and "not on record" in unknown["error"]
    wrong = d.assets.record(code, {"step": "produce", "by": FACTORY, "licence": "YS-0451", "time": at(1)})
    assert "does not allow produce" in wrong["error"]
    ok(d.assets.record(code, {"step": "produce", "by": FACTORY, "licence": "MB-P-035", "time": at(1)}))
    ok(d.assets.record(code, {"step": "store_in", "by": FACTORY, "licence": "MB-P-035", "warehouse": "W2",
                              "time": at(1.1)}))
    ok(d.assets.record(code, {"step": "store_out", "by": FACTORY, "licence": "MB-P-035", "warehouse": "W2",
                              "time": at(1.2)}))
    expired = d.assets.record(code, {"step": "transport", "by": "Old Transport", "licence": "YS-OLD",
                                     "vehicle": "湘L·B0001", "driver": "Wang", "time": at(1.3)})
    assert "valid 2020-01-01 to 2025-12-31, not on 2026-03-02" in expired["error"]
    no_driver = d.assets.record(code, {"step": "transport", "by": "T", "licence": "YS-0451",
                                       "vehicle": "湘L·B0001", "time": at(1.3)})
    assert no_driver["reason"] == "invalid_step" and no_driver["field"] == "driver"
    assert [s["step"] for s in d.assets.steps(code)] == ["produce", "store_in", "store_out"]


def test_quantities_balance_or_raise_an_alert(world):
    """A case of 20 fireworks goes out of the depot; 19 arrive: an alert kept on the step and
    the item. A box of 50 detonators taken to a blast: 40 used, 8 returned: an alert too."""
    d, codes, _ = world
    case = text(codes["cn-fireworks-22"][7])
    ok(d.assets.record(case, {"step": "produce", "by": FACTORY, "licence": "MB-P-035", "time": at(1)}))
    ok(d.assets.record(case, {"step": "store_in", "by": "depot", "licence": "MB-S-112", "warehouse": "Depot A",
                              "quantity": 20, "time": at(2)}))
    ok(d.assets.record(case, {"step": "store_out", "by": "depot", "licence": "MB-S-112", "warehouse": "Depot A",
                              "quantity": 20, "time": at(3)}))
    arrived = ok(d.assets.record(case, {"step": "store_in", "by": "shop", "licence": "MB-S-112",
                                        "warehouse": "Shop 12", "quantity": 19, "time": at(4)}))
    assert arrived["alerts"] == [{"check": "out_equals_arrived", "ok": False, "expected": 20, "got": 19}]
    v = d.assets.verdict(case)
    assert v["state"] == hz.IN_STORE and v["alerts"][0]["date"] == "2026-03-05"
    stored = d.index.store.alerts_find(rule="quantity_balance", code=case)   # where tracecode alerts reads
    assert len(stored) == 1 and stored[0]["evidence"]["checks"][0]["got"] == 19
    box = text(codes["cn-detonator-13"][1002])
    flow(d, box, quantity=50)
    used = ok(d.assets.record(box, {"step": "use", "by": "team", "licence": "BP-3301", "site": "bench 4",
                                    "responsible": "Zhang San", "used": 40, "returned": 8, "time": at(2)}))
    assert used["alerts"][0]["check"] == "used_plus_returned" and used["alerts"][0]["got"] == 48
    back = ok(d.assets.record(box, {"step": "store_in", "by": FACTORY, "licence": "MB-P-035",
                                    "warehouse": "Factory store 2", "quantity": 8, "time": at(2.2)}))
    assert back["alerts"] == []
    ok(d.assets.record(box, {"step": "destroy", "by": FACTORY, "licence": "MB-P-035", "time": at(3)}))
    assert d.verify(box, record=False).verdict == Verdict.DESTROYED
    assert not d.assets.record(box, {"step": "store_out", "by": FACTORY, "licence": "MB-P-035",
                                     "warehouse": "x", "time": at(4)})["ok"]


def test_a_case_is_linked_to_its_shells_by_the_existing_pack(world):
    """Produced shells are live in the index: packed into a case's SSCC (GS1-128, Code 128)
    with the index's pack, the case lists them and each names the case."""
    from tracecode.checks import get
    d, codes, _ = world
    shells = [text(c) for c in codes["cn-detonator-13"][2000:2050]]
    for i, code in enumerate(shells):
        ok(d.assets.record(code, {"step": "produce", "by": FACTORY, "licence": "MB-P-035", "time": at(1 + i / 1e4)}))
    body = "06901234500000123"
    case = body + get("gs1").calc(body)
    assert d.apply([{"id": "case-1", "action": "pack", "parent": case, "codes": shells, "time": at(1.1)}])[0]["ok"]
    assert sorted(d.contents(case)) == sorted(shells)
    assert d.verify(shells[0], record=False).verdict == Verdict.GENUINE


def test_details_are_for_regulators_only(world):
    d, codes, _ = world
    svc = Service(d, audit_path=d.path / "hz-audit.log")
    code = text(codes["cn-detonator-13"][1003])
    scanner = Caller("site-scanner", frozenset({"scanner"}))
    res = svc.asset_steps(scanner, [{"code": code, "step": "produce", "by": FACTORY, "licence": "MB-P-035",
                                     "time": at(1)}])
    assert res[0]["ok"]
    assert svc.asset(scanner, code) == {"verdict": hz.CONTROLLED, "reasons": [], "code": code}
    full = svc.asset(POLICE, code)
    assert full["verdict"] == hz.PRODUCED and full["last_step"]["licence"] == "MB-P-035"
    assert svc.asset(Caller(FACTORY, frozenset({"issuer"})), code)["verdict"] == hz.PRODUCED
    with pytest.raises(Refusal):
        svc.licence_add(scanner, "X-1", "me", ["blasting"], "2026-01-01", "2030-01-01")
    lic = svc.licence_add(POLICE, "BP-9", "Team 9", ["blasting"], "2026-01-01", "2026-12-31")
    assert lic["kinds"] == ["blasting"] and "BP-9" in {x["number"] for x in svc.licences(POLICE)}
    with pytest.raises(Refusal):
        svc.licence_add(POLICE, "BP-10", "Team 10", ["flying"], "2026-01-01", "2026-12-31")
    svc.close()
    audit = (d.path / "hz-audit.log").read_text()
    assert "licence_add" in audit and "asset_steps" in audit


def test_an_unregistered_code_is_not_registered_whatever_the_step(world):
    # review: a hazardous step on an unknown code was refused with the equipment steps'
    # vocabulary ("step must be one of: manufacture, install...") instead of not_registered
    d, _, _ = world
    for step in ({"step": "produce", "by": FACTORY, "licence": "MB-P-035"}, {"step": "fly"}, {}):
        got = d.assets.record("6A1234567890Z", step)
        assert (got["ok"], got["reason"]) == (False, "not_registered"), got
    svc = Service(d, audit_path=d.path / "hz-unreg-audit.log")
    [got] = svc.asset_steps(POLICE, [{"code": "6A1234567890Z", "step": "produce", "by": FACTORY,
                                      "licence": "MB-P-035"}])
    assert got["reason"] == "not_registered" and "registered" in got["error"]
    svc.close()


# -- the command line ---------------------------------------------------------------------------

def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_the_command_line(tmp_path):
    path = tmp_path / "cli"
    assert run_cli("init", path).returncode == 0
    assert run_cli("licence", "add", path, "MB-P-1", "--holder", "F", "--kind", "production",
                   "--kind", "storage", "--from", "2020-01-01", "--to", "2099-12-31").returncode == 0
    listed = run_cli("licence", "list", path)
    assert json.loads(listed.stdout)["kinds"] == ["production", "storage"]
    good = [text(c) for c in detonator_codes(30, seed=5)]
    f = tmp_path / "shells.txt"
    f.write_text("\n".join(good + ["3561130c00001"]) + "\n")
    r = run_cli("register", path, f, "--scheme", "cn-detonator-13", "--owner", "F")
    assert r.returncode == 1 and "REJECTED line 31:" in r.stdout
    r = run_cli("register", path, f, "--scheme", "cn-detonator-13", "--owner", "F")
    assert "may not repeat within 10 years" in r.stdout
    steps = tmp_path / "steps.jsonl"
    steps.write_text("\n".join(json.dumps(s) for s in (
        {"code": good[0], "step": "produce", "by": "F", "licence": "MB-P-1"},
        {"code": good[0], "step": "store_in", "by": "F", "licence": "MB-P-1", "warehouse": "W"},
        {"code": good[1], "step": "produce", "by": "F"})) + "\n")
    r = run_cli("asset-steps", path, steps)
    assert r.returncode == 1 and [json.loads(x)["ok"] for x in r.stdout.splitlines()] == [True, True, False]
    r = run_cli("asset", path, good[0])
    assert json.loads(r.stdout)["verdict"] == hz.IN_STORE     # the operator is an admin


# -- the public page ------------------------------------------------------------------------------

def test_the_public_page_says_only_controlled_item(world):
    httpx = pytest.importorskip("httpx")
    from tests.web_server import serving
    from tracecode.web.app import create_app
    d, codes, _ = world
    code = text(codes["cn-detonator-13"][1004])
    flow(d, code)
    svc = Service(d, audit_path=d.path / "hz-web-audit.log")
    with serving(create_app(svc, base_url="https://trace.example")) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        page = client.get(f"/c/{code}", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        html = page.text
        assert 'id="section-hazardous"' in html and 'data-verdict="controlled_item"' in html
        assert "A controlled item" in html
        # review: a "Genuine · registered" banner stood above the section; the banner says
        # controlled item, nothing of a verdict or a registration
        assert 'id="verdict" data-verdict="controlled_item"' in html
        for told in ("Genuine", "registered on the platform", "Registered"):
            assert told not in html, told
        for secret in ("湘L·A1234", "Liu Wei", "Factory store 2", "YS-0451", FACTORY):
            assert secret not in html, secret
        zh = client.get(f"/c/{code}", headers={"Accept-Language": "zh"}).text
        assert "管控物品" in zh
        assert "正品" not in zh and "已登记" not in zh
        api = client.get(f"/api/v1/codes/{code}").json()
        assert "湘L·A1234" not in json.dumps(api, ensure_ascii=False)
        assert api["verdict"] == "controlled_item" and api["genuine"] is False and api["status"] is None
        assert "监管" in api["verdict_note"] and api["status_text"] is None and api["links"] == []
    svc.close()


# -- EPCIS capture ------------------------------------------------------------------------------

def _document(events) -> bytes:
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                                    {"tc": "urn:tracecode:ext:"}],
                       "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": events}},
                      ensure_ascii=False).encode()


def test_epcis_capture_drives_the_flow(world):
    """The steps of one detonator, rendered as EPCIS events (assets.epcis), captured for another:
    the same flow recorded; a capture again records nothing twice; a use under a transport
    licence is refused as an error of the job, the event kept; a second use is refused."""
    d, codes, _ = world
    svc = Service(d, audit_path=d.path / "hz-capture-audit.log")
    src, dst = text(codes["cn-detonator-13"][1005]), text(codes["cn-detonator-13"][1006])
    flow(d, src)
    events = d.assets.epcis(src)
    for e in events:
        e["epcList"] = [f"urn:tracecode:asset:cn-detonator-13:{dst}"]
    job = svc.capture(POLICE, _document(events), "application/ld+json")
    assert job["state"] == "success" and job["asset_steps"] == {"recorded": 4, "refused": 0}, job["errors"]
    assert [s["step"] for s in d.assets.steps(dst)] == ["produce", "store_in", "store_out", "transport"]
    assert d.assets.verdict(dst)["state"] == hz.IN_TRANSIT
    again = svc.capture(POLICE, _document(events), "application/ld+json")
    assert "asset_steps" not in again and len(d.assets.steps(dst)) == 4
    use = {"type": "ObjectEvent", "action": "OBSERVE", "epcList": [f"urn:tracecode:asset:cn-detonator-13:{dst}"],
           "eventTime": "2026-03-03T08:00:00Z", "eventTimeZoneOffset": "+08:00",
           "bizStep": "urn:tracecode:bizstep:blasting", "tc:by": "team", "tc:site": "bench 5",
           "tc:responsible": "Zhang San", "tc:used": 1, "tc:returned": 0}
    bad = svc.capture(POLICE, _document([dict(use, **{"tc:licence": "YS-0451"})]), "application/ld+json")
    assert bad["asset_steps"] == {"recorded": 0, "refused": 1}
    assert "does not allow use" in bad["errors"][0]["error"]
    good = svc.capture(POLICE, _document([dict(use, **{"tc:licence": "BP-3301"})]), "application/ld+json")
    assert good["asset_steps"] == {"recorded": 1, "refused": 0}
    twice = svc.capture(POLICE, _document([dict(use, **{"tc:licence": "BP-3301", "tc:site": "bench 6"})]),
                        "application/ld+json")
    assert twice["asset_steps"]["refused"] == 1 and "used already" in twice["errors"][0]["error"]
    assert d.assets.verdict(dst)["verdict"] == hz.USED
    svc.close()


# -- the steps as EPCIS events and back: a round trip ----------------------------------------

_texts = st.text(min_size=1, max_size=40).filter(str.strip)


def test_one_event_of_many_detonators_is_one_audited_call(world):
    # review: 1,000 detonators in one event were 1,000 Service.asset_steps calls (audit lines)
    d, codes, _ = world
    log = d.path / "hz-batch-audit.log"
    svc = Service(d, audit_path=log)
    src = text(codes["cn-detonator-13"][1007])
    flow(d, src)
    produce = d.assets.epcis(src)[0]
    many = [text(c) for c in codes["cn-detonator-13"][1100:1105]]
    produce["epcList"] = [f"urn:tracecode:asset:cn-detonator-13:{c}" for c in many]
    job = svc.capture(POLICE, _document([produce]), "application/ld+json")
    assert job["asset_steps"] == {"recorded": 5, "refused": 0}, job["errors"]
    assert all([s["step"] for s in d.assets.steps(c)] == ["produce"] for c in many)
    svc.close()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [x["steps"] for x in lines if x["event"] == "asset_steps"] == [5]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(hz.STEPS)), by=_texts, licence=_texts, place=_texts,
       qty=st.integers(1, 10_000_000), returned=st.integers(0, 10_000_000),
       t=st.integers(946_684_800, 4_102_444_800))
def test_a_step_rendered_as_epcis_reads_back_as_the_same_step(name, by, licence, place, qty, returned, t):
    """hazardous.epcis_event and asset_capture.step_of_event are inverses on checked steps
    (what capture records is what the step was), JSON in between."""
    from tracecode.app.asset_capture import step_of_event
    raw = {"step": name, "by": by, "licence": licence, "warehouse": place, "vehicle": place, "driver": place,
           "site": place, "responsible": place, "quantity": qty, "used": qty, "returned": returned, "time": t}
    rec = hz.check_step(raw)
    rec["time"] = float(t)
    ev = hz.epcis_event("urn:tracecode:asset:cn-detonator-13:3561130A00001", rec)
    back = hz.check_step(step_of_event(json.loads(json.dumps(ev))))
    assert back == rec
