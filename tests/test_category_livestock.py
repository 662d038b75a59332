"""Livestock end to end (issue 15): ear tags the tagging authority assigned (15 digits,
species, GB/T 2260 county, serial) registered with structure checks; tagged, moved under
quarantine certificates, slaughtered with the tag's number on the inspection mark, through
the Python API and through EPCIS capture; a scan of a tag after slaughter is SUSPICIOUS and
a collected tag cannot move or be slaughtered again; carcass to cuts as TransformationEvents
so a cut's lot traces to its animals; the public page's section over real HTTP.

Generated data: tests/livestock_data.py.
"""
import datetime as dt
import json

import numpy as np
import pytest

import tracecode
from tracecode import categories, schemes
from tracecode.app.caller import LOCAL, Caller
from tracecode.app.service import Service
from tracecode.categories import livestock as lv
from tracecode.index import Verdict
from tracecode.index.register import register
from tests.livestock_data import ear_tags

N = 20_000
DAY = 86_400
T0 = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc).timestamp()
AUTHORITY = "Santai County Animal Husbandry Bureau"
FARM = "Santai Jinhe Pig Farm"
VET = Caller("santai-vet-station", frozenset({"scanner"}))
GTIN = "06901234000128"        # the slaughterhouse's carcass and cut items


def at(days: float) -> float:
    return T0 + days * DAY


def ok(result):
    assert result["ok"], result
    return result


def uri(code: str) -> str:
    return f"urn:tracecode:asset:{lv.SCHEME}:{code}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("livestock") / "data")
    tags = ear_tags(N)
    rep = register(d.index, lv.SCHEME, tags, owner=AUTHORITY, source="tags-2026.txt", when=at(0))
    svc = Service(d, audit_path=d.path / "audit.log")
    yield d, svc, [t.decode() for t in tags], rep
    svc.close()
    d.close()


def life(d, code, start=1.0):
    """A pig from its farm to the slaughterhouse."""
    ok(d.assets.record(code, {"step": "tag", "by": FARM, "place": "Santai, Jinhe farm", "time": at(start)}))
    ok(d.assets.record(code, {"step": "move", "by": FARM, "certificate": "5100260012345",
                              "place": "Mianyang Fresh Meat Slaughterhouse", "time": at(start + 120)}))
    return ok(d.assets.record(code, {"step": "slaughter", "by": "Mianyang Fresh Meat Slaughterhouse",
                                     "mark": "MY-2026-0098123", "place": "Mianyang", "time": at(start + 121)}))


def test_the_scheme_is_data_registered_never_issued():
    sch = schemes.builtin()[lv.SCHEME]
    assert sch.external and sch.length == 15 and categories.of_scheme(sch).name == "livestock"
    assert [f.name for f in sch.code_fields] == ["species", "county", "serial"]
    assert all(s.startswith(categories.OUR_NAMESPACE) for s in lv.CATEGORY.lifecycle)


def test_registration_checks_structure(world, tmp_path):
    d, _, tags, rep = world
    assert rep.registered == N and rep.rejected == 0
    bad = ["410522000000001",        # species 4: none
           "199522000000001",        # county of no province (99)
           "15107220000001",         # 14 digits
           "1510722000000A1"]        # a letter
    d2 = tracecode.init(tmp_path / "d2")
    got = register(d2.index, lv.SCHEME, bad + tags[:3], owner=AUTHORITY)
    assert got.registered == 3 and got.rejected == 4
    d2.close()


def test_the_life_of_a_pig_and_its_verdicts(world):
    d, _, tags, _ = world
    code = next(t for t in tags if t[0] == "1")
    assert d.assets.verdict(code)["verdict"] == lv.NOT_TAGGED
    ok(d.assets.record(code, {"step": "tag", "by": FARM, "place": "Santai, Jinhe farm", "time": at(1)}))
    v = d.assets.verdict(code)
    assert v["verdict"] == lv.LIVE and v["species"] == "pig" and v["county"] == code[1:7]
    no_cert = d.assets.record(code, {"step": "move", "by": FARM, "place": "market", "time": at(60)})
    assert not no_cert["ok"] and no_cert["field"] == "certificate"
    ok(d.assets.record(code, {"step": "move", "by": FARM, "certificate": "5100260012345",
                              "place": "Mianyang Fresh Meat Slaughterhouse", "time": at(120)}))
    assert d.assets.verdict(code)["last_move"]["certificate"] == "5100260012345"
    no_mark = d.assets.record(code, {"step": "slaughter", "by": "slaughterhouse", "place": "Mianyang"})
    assert not no_mark["ok"] and no_mark["field"] == "mark"
    ok(d.assets.record(code, {"step": "slaughter", "by": "Mianyang Fresh Meat Slaughterhouse",
                              "mark": "MY-2026-0098123", "place": "Mianyang", "time": at(121)}))
    v = d.assets.verdict(code)
    assert v["verdict"] == lv.SUSPICIOUS and v["slaughter"]["mark"] == "MY-2026-0098123"
    assert "collected at slaughter" in v["reasons"][0]
    # the index retires the tag too: every Verify of it answers DESTROYED
    assert d.verify(code, record=False).verdict == Verdict.DESTROYED


def test_a_tag_after_slaughter_is_suspicious_and_cannot_move_again(world):
    """The misuse pattern: a collected tag put on another animal. Its readings are kept (and
    counted), a movement or second slaughter under it is refused, nothing written."""
    d, _, tags, _ = world
    code = tags[11]
    life(d, code)
    before = len(d.assets.steps(code))
    moved = d.assets.record(code, {"step": "move", "by": "Dealer Wang", "certificate": "5100260099999",
                                   "place": "Chengdu", "time": at(130)})
    assert not moved["ok"] and moved["reason"] == "refused" and "collected at slaughter" in moved["error"]
    again = d.assets.record(code, {"step": "slaughter", "by": "Backyard", "mark": "X", "place": "?"})
    assert not again["ok"] and len(d.assets.steps(code)) == before
    ok(d.assets.record(code, {"step": "check", "by": "Chengdu market inspector", "place": "Chengdu",
                              "time": at(131)}))
    v = d.assets.verdict(code)
    assert v["verdict"] == lv.SUSPICIOUS and v["readings_after_slaughter"] == 1
    assert "Chengdu market inspector" in v["reasons"][1]
    # the others of the batch are untouched: not tagged yet
    assert d.assets.verdict(tags[12])["verdict"] == lv.NOT_TAGGED


def test_steps_through_the_service_are_audited_and_need_a_known_client(world):
    d, svc, tags, _ = world
    code = tags[20]
    out = svc.assets.steps(VET, [{"code": code, "step": "tag", "by": FARM, "place": "farm"},
                                 {"code": code, "step": "tag", "by": FARM, "place": "farm"},
                                 {"code": "299999900000000", "step": "tag", "by": FARM, "place": "farm"}])
    assert [r["ok"] for r in out] == [True, False, False]
    assert out[1]["reason"] == "refused"      # tagged already
    assert "no registered asset code" in out[2]["error"] or out[2]["reason"] == "invalid_step"
    assert svc.assets.asset(VET, code)["verdict"] == lv.LIVE
    assert "asset_steps" in (d.path / "audit.log").read_text()


def _doc(events) -> bytes:
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                                    {"tc": "urn:tracecode:ext:"}],
                       "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-09-01T00:00:00Z",
                       "epcisBody": {"eventList": events}}, ensure_ascii=False).encode()


def test_epcis_capture_drives_the_life_and_is_idempotent(world):
    d, svc, tags, _ = world
    src, dst = tags[30], tags[31]
    life(d, src)
    events = d.assets.epcis(src)
    assert [e["bizStep"] for e in events] == [lv.STEPS[s].biz_step for s in ("tag", "move", "slaughter")]
    for e in events:
        e["epcList"] = [uri(dst)]
    job = svc.capture(LOCAL, _doc(events), "application/ld+json")
    assert job["state"] == "success" and job["asset_steps"] == {"recorded": 3, "refused": 0}, job["errors"]
    assert [s["step"] for s in d.assets.steps(dst)] == ["tag", "move", "slaughter"]
    assert d.assets.steps(dst)[1]["certificate"] == "5100260012345"
    again = svc.capture(LOCAL, _doc(events), "application/ld+json")
    assert "asset_steps" not in again and len(d.assets.steps(dst)) == 3
    move = dict(events[1], eventTime="2026-12-01T08:00:00Z")
    late = svc.capture(LOCAL, _doc([move]), "application/ld+json")
    assert late["asset_steps"] == {"recorded": 0, "refused": 1}
    assert "collected at slaughter" in late["errors"][0]["error"]
    assert d.assets.verdict(dst)["verdict"] == lv.SUSPICIOUS


def test_a_cut_traces_to_its_animals(world):
    """Carcasses from two pigs, cuts from both carcasses: the cut lot's lineage reaches both tags."""
    d, svc, tags, _ = world
    pigs = [t for t in tags if t[0] == "1"][40:42]
    for p in pigs:
        life(d, p)
    carcass = f"https://id.gs1.org/01/{GTIN}/10/CARCASS-0912"
    cuts = f"https://id.gs1.org/01/{GTIN}/10/CUT-0913"

    def transformation(n, inputs, outputs, minute):
        return {"type": "TransformationEvent", "eventID": f"urn:uuid:00000000-0000-4000-8000-0000000015{n:02d}",
                "eventTime": f"2026-11-20T09:{minute:02d}:00.000+08:00", "eventTimeZoneOffset": "+08:00",
                "bizStep": "commissioning", **inputs, **outputs}
    doc = _doc([transformation(1, {"inputEPCList": [uri(p) for p in pigs]},
                               {"outputQuantityList": [{"epcClass": carcass, "quantity": 162.4, "uom": "KGM"}]}, 10),
                transformation(2, {"inputQuantityList": [{"epcClass": carcass, "quantity": 162.4, "uom": "KGM"}]},
                               {"outputQuantityList": [{"epcClass": cuts, "quantity": 140.0, "uom": "KGM"}]}, 40)])
    job = svc.capture(LOCAL, doc, "application/ld+json")
    assert job["state"] == "success", job["errors"]
    got = svc.epcis.lineage(LOCAL, cuts)          # the cut lot, by its class as stored
    assert lv.animals_of(got) == pigs
    assert all(d.assets.verdict(p)["verdict"] == lv.SUSPICIOUS for p in pigs)   # their tags are collected


def test_the_public_page_section(world):
    httpx = pytest.importorskip("httpx")
    from tests.web_server import serving
    from tracecode.web.app import create_app
    d, _, tags, _ = world
    live, dead = tags[50], tags[51]
    ok(d.assets.record(live, {"step": "tag", "by": FARM, "place": "Tumed Right Banner, Hasu farm"}))
    life(d, dead)
    svc = Service(d, audit_path=d.path / "web-audit.log")
    with serving(create_app(svc, base_url="https://trace.example")) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        page = client.get(f"/c/{live}", headers={"Accept-Language": "en"}).text
        assert 'id="section-livestock"' in page and 'data-verdict="live"' in page
        assert "Tumed Right Banner, Hasu farm" in page
        page = client.get(f"/c/{dead}", headers={"Accept-Language": "en"}).text
        assert 'data-verdict="suspicious"' in page and "MY-2026-0098123" in page and "5100260012345" in page
        assert 'data-verdict="destroyed"' in page or "Destroyed" in page          # the banner agrees
        zh = client.get(f"/c/{dead}", headers={"Accept-Language": "zh"}).text
        assert "屠宰时回收" in zh
    svc.close()


def test_ear_tags_are_read_as_their_scheme_among_all():
    """Every built-in scheme loaded: ear tags are read as cn-eartag-15, none ambiguous
    (tests/test_categories.py checks the other way round at 1e5 codes of each)."""
    from tracecode.scan import Fault, ScanParser
    tags = ear_tags(20_000, seed=3)
    batch = ScanParser(schemes.builtin()).parse_many([t.decode() for t in tags])
    assert (batch.records["fault"] == Fault.OK).all()
    assert set(np.array(batch.scheme_names)[batch.records["scheme"]]) == {lv.SCHEME}
