"""Livestock lifecycle completeness (issue 15): an animal that dies is disposed of harmlessly
(its tag collected and retired, a later scan SUSPICIOUS as after slaughter), and a lost tag
is replaced (the old tag answers "replaced by NEW", the new tag carries the old one's
history link), through the Python API and through EPCIS capture, and on the public page."""
import datetime as dt
import json

import pytest

import tracecode
from tracecode.app.caller import LOCAL, Caller
from tracecode.app.service import Service
from tracecode.categories import livestock as lv
from tracecode.index import Verdict
from tracecode.index.register import register
from tests.livestock_data import ear_tags

DAY = 86_400
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc).timestamp()
FARM = "Tumed Right Banner Hasu Cattle Farm"
PLANT = "Baotou Harmless Treatment Centre"


def at(days: float) -> float:
    return T0 + days * DAY


def ok(result):
    assert result["ok"], result
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("livestock-life") / "data")
    tags = [t.decode() for t in ear_tags(2_000, seed=44)]
    assert register(d.index, lv.SCHEME, tags, owner="Tumed Right Banner Bureau", when=at(0)).registered == 2_000
    svc = Service(d, audit_path=d.path / "audit.log")
    by_species = {s: [t for t in tags if t[0] == s] for s in "123"}
    yield d, svc, by_species
    svc.close()
    d.close()


def tagged(d, code, day=1.0):
    ok(d.assets.record(code, {"step": "tag", "by": FARM, "place": "Hasu farm", "time": at(day)}))
    ok(d.assets.record(code, {"step": "move", "by": FARM, "certificate": "1500260004321",
                              "place": "Baotou cattle market", "time": at(day + 30)}))


def test_death_and_harmless_disposal_retire_the_tag(world):
    d, _, tags = world
    code = tags["2"][0]
    tagged(d, code)
    no_cause = d.assets.record(code, {"step": "dispose", "by": PLANT, "place": "Baotou"})
    assert not no_cause["ok"] and no_cause["field"] == "cause"
    ok(d.assets.record(code, {"step": "dispose", "by": PLANT, "place": "Baotou", "cause": "bloat",
                              "record": "WH-2026-0077", "time": at(40)}))
    v = d.assets.verdict(code)
    assert v["verdict"] == lv.SUSPICIOUS and v["state"] == lv.DISPOSED
    assert v["disposal"] == {"by": PLANT, "date": "2026-04-10", "place": "Baotou", "cause": "bloat",
                             "record": "WH-2026-0077"}
    assert "harmless disposal of a dead animal" in v["reasons"][0]
    assert d.verify(code, record=False).verdict == Verdict.DESTROYED
    # the misuse pattern: the dead animal's tag turns up at a market; a movement is refused
    moved = d.assets.record(code, {"step": "move", "by": "Dealer Li", "certificate": "1500260009999",
                                   "place": "Hohhot", "time": at(50)})
    assert not moved["ok"] and moved["reason"] == "refused" and "harmless disposal" in moved["error"]
    assert not d.assets.record(code, {"step": "slaughter", "by": "X", "mark": "M", "place": "Y"})["ok"]
    ok(d.assets.record(code, {"step": "check", "by": "Hohhot market inspector", "place": "Hohhot",
                              "time": at(51)}))
    v = d.assets.verdict(code)
    assert v["verdict"] == lv.SUSPICIOUS and v["readings_after_slaughter"] == 1
    assert "Hohhot market inspector" in v["reasons"][1]


def test_an_untagged_tag_cannot_be_disposed(world):
    d, _, tags = world
    got = d.assets.record(tags["2"][1], {"step": "dispose", "by": PLANT, "place": "Baotou", "cause": "x"})
    assert not got["ok"] and "registered" in got["error"]


def test_a_lost_tag_replaced_links_the_new_tag_to_the_old(world):
    d, _, tags = world
    old, new = tags["2"][2], tags["2"][3]
    tagged(d, old)
    ok(d.assets.record(old, {"step": "replace", "by": FARM, "new_tag": new, "place": "Hasu farm",
                             "note": "left ear tag torn off", "time": at(60)}))
    v_old = d.assets.verdict(old)
    assert v_old["verdict"] == lv.REPLACED_TAG and v_old["replaced_by"] == new
    assert f"replaced by {new}" in v_old["reasons"][0]
    assert d.verify(old, record=False).verdict == Verdict.DESTROYED
    v_new = d.assets.verdict(new)
    assert v_new["verdict"] == lv.LIVE and v_new["replaces"] == old
    assert d.assets.steps(new)[0]["replaces"] == old
    # the animal's history, newest tag first, reaches its tagging and movement under the old tag
    chain = lv.history_chain(d.assets, new)
    assert [c for c, _ in chain] == [new, old]
    assert [s["step"] for s in chain[1][1]] == ["tag", "move", "replace"]
    # the new tag goes on with the animal's life; the old one moves nowhere
    ok(d.assets.record(new, {"step": "slaughter", "by": "Baotou Meat", "mark": "BT-0001", "place": "Baotou",
                             "time": at(90)}))
    assert not d.assets.record(old, {"step": "move", "by": FARM, "certificate": "1",
                                     "place": "x"})["ok"]
    # found later on another animal: a reading of the old tag makes it suspicious
    ok(d.assets.record(old, {"step": "check", "by": "checkpoint 7", "place": "G6", "time": at(95)}))
    assert d.assets.verdict(old)["verdict"] == lv.SUSPICIOUS


@pytest.mark.parametrize("why, new_of, expect", [
    ("unregistered", lambda t: "299999900000001", "no registered ear tag"),
    ("already on an animal", lambda t: t["2"][5], "never put on an animal"),
    ("another species", lambda t: t["1"][0], "for a pig"),
    ("itself", lambda t: t["2"][4], "cannot replace itself"),
])
def test_a_replacement_tag_is_checked(world, why, new_of, expect):
    d, _, tags = world
    old = tags["2"][4]
    if not d.assets.steps(old):
        tagged(d, old)
    if not d.assets.steps(tags["2"][5]):
        tagged(d, tags["2"][5])
    new = new_of(tags)
    before = len(d.assets.steps(old)), len(d.assets.steps(new))
    got = d.assets.record(old, {"step": "replace", "by": FARM, "new_tag": new})
    assert not got["ok"] and expect in got["error"], (why, got)
    assert (len(d.assets.steps(old)), len(d.assets.steps(new))) == before
    assert d.assets.verdict(old)["verdict"] == lv.LIVE


def test_a_tag_step_cannot_claim_to_replace_on_its_own(world):
    d, _, tags = world
    old, new = tags["2"][6], tags["2"][7]
    tagged(d, old)
    got = d.assets.record(new, {"step": "tag", "by": FARM, "place": "farm", "replaces": old})
    assert not got["ok"] and "only through a replace step" in got["error"]
    bad = d.assets.record(old, {"step": "replace", "by": FARM, "new_tag": "12AB"})
    assert not bad["ok"] and bad["field"] == "new_tag"


def _doc(events) -> bytes:
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                                    {"tc": "urn:tracecode:ext:"}],
                       "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-09-01T00:00:00Z",
                       "epcisBody": {"eventList": events}}, ensure_ascii=False).encode()


def _uri(code):
    return f"urn:tracecode:asset:{lv.SCHEME}:{code}"


def test_disposal_and_replacement_through_epcis_capture(world):
    d, svc, tags = world
    dead, old, new = tags["3"][0], tags["3"][1], tags["3"][2]
    tagged(d, dead)
    tagged(d, old)
    # the events as this index exports them, sent for other tags: the same steps recorded
    src_dead, src_old, src_new = tags["3"][3], tags["3"][4], tags["3"][5]
    tagged(d, src_dead)
    tagged(d, src_old)
    ok(d.assets.record(src_dead, {"step": "dispose", "by": PLANT, "place": "Xilinhot", "cause": "cold",
                                  "time": at(45)}))
    ok(d.assets.record(src_old, {"step": "replace", "by": FARM, "new_tag": src_new, "time": at(46)}))
    dispose = dict(d.assets.epcis(src_dead)[-1], epcList=[_uri(dead)],
                   eventID="urn:uuid:00000000-0000-4000-8000-000000001501")
    replace = dict(d.assets.epcis(src_old)[-1], epcList=[_uri(old)], **{"tc:new_tag": new},
                   eventID="urn:uuid:00000000-0000-4000-8000-000000001502")
    assert dispose["bizStep"] == "urn:tracecode:bizstep:harmless_disposal" and dispose["disposition"] == "destroyed"
    assert replace["bizStep"] == "urn:tracecode:bizstep:tag_replacement"
    job = svc.capture(LOCAL, _doc([dispose, replace]), "application/ld+json")
    assert job["state"] == "success", job["errors"]
    assert job["asset_steps"] == {"recorded": 2, "refused": 0}
    assert d.assets.verdict(dead)["verdict"] == lv.SUSPICIOUS
    assert d.assets.verdict(dead)["disposal"]["cause"] == "cold"
    assert d.assets.verdict(old)["replaced_by"] == new and d.assets.verdict(new)["replaces"] == old
    assert d.assets.steps(new)[0]["event"] == "urn:uuid:00000000-0000-4000-8000-000000001502"
    again = svc.capture(LOCAL, _doc([dispose, replace]), "application/ld+json")
    assert "asset_steps" not in again and len(d.assets.steps(new)) == 1


def test_the_public_page_shows_disposal_and_replacement(world):
    httpx = pytest.importorskip("httpx")
    from tests.web_server import serving
    from tracecode.web.app import create_app
    d, _, tags = world
    dead, old, new = tags["1"][10], tags["1"][11], tags["1"][12]
    for c in (dead, old):
        tagged(d, c)
    ok(d.assets.record(dead, {"step": "dispose", "by": PLANT, "place": "Santai", "cause": "swine fever suspected",
                              "time": at(40)}))
    ok(d.assets.record(old, {"step": "replace", "by": FARM, "new_tag": new, "time": at(41)}))
    svc = Service(d, audit_path=d.path / "web-audit.log")
    with serving(create_app(svc, base_url="https://trace.example")) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        page = client.get(f"/c/{dead}", headers={"Accept-Language": "en"}).text
        assert 'data-verdict="suspicious"' in page and "swine fever suspected" in page
        assert "Died, harmlessly disposed of" in page
        page = client.get(f"/c/{old}", headers={"Accept-Language": "en"}).text
        assert 'data-verdict="replaced"' in page and new in page
        page = client.get(f"/c/{new}", headers={"Accept-Language": "en"}).text
        assert 'data-verdict="live"' in page and "Replaces lost tag" in page and old in page
        assert "Hasu farm" in page                   # where the lost tag was first put on
        zh = client.get(f"/c/{old}", headers={"Accept-Language": "zh"}).text
        assert "已补标" in zh
        assert FARM not in page and PLANT not in page      # who recorded the steps is not shown
    svc.close()


def test_a_replacement_tag_goes_on_where_the_animal_was(world):
    d, _, tags = world
    old, new = tags["1"][20], tags["1"][21]
    tagged(d, old)                                        # last moved to Baotou cattle market
    ok(d.assets.record(old, {"step": "replace", "by": FARM, "new_tag": new, "time": at(70)}))
    assert d.assets.verdict(new)["tagged"]["place"] == "Baotou cattle market"


def test_the_section_notes_are_in_the_page_language_and_name_nobody(world):
    d, svc, tags = world
    code = tags["3"][30]
    tagged(d, code)
    ok(d.assets.record(code, {"step": "dispose", "by": PLANT, "place": "Xilinhot", "cause": "cold",
                              "time": at(40)}))
    ok(d.assets.record(code, {"step": "check", "by": "Hohhot market inspector", "place": "Hohhot",
                              "time": at(52)}))
    zh = lv.section(svc, code, "zh")
    assert zh["notes"] == ["此耳标已于 2026-04-10 在病死畜禽无害化处理时回收，不应再出现在任何牲畜上",
                           "回收后又被读取 1 次，最近一次在 2026-04-22"]
    en = lv.section(svc, code, "en")
    assert en["notes"][1] == "Read 1 time(s) since, last on 2026-04-22"
    assert not any("inspector" in n or PLANT in n for n in en["notes"] + zh["notes"])


def test_a_replacement_whose_new_tag_step_fails_writes_neither(world, monkeypatch):
    """Another client tags the new tag between the replacement's check and its write: the
    replacement is refused whole (the old tag not retired "replaced by NEW" beside a new tag
    with no tag step of this animal), and nothing is written on either tag."""
    d, _, tags = world
    old, new = tags["2"][40], tags["2"][41]
    tagged(d, old)
    store, read = d.assets.store, d.assets.store.asset_steps
    raced = []

    def steps_then_race(code):
        got = read(code)
        if code == new and not raced:      # right after this read, someone tags the new tag
            raced.append(store.asset_append(new, 0, json.dumps(
                {"step": "tag", "by": "Farm B", "place": "elsewhere", "time": at(59)}).encode()))
        return got
    monkeypatch.setattr(store, "asset_steps", steps_then_race)
    got = d.assets.record(old, {"step": "replace", "by": FARM, "new_tag": new, "time": at(60)})
    monkeypatch.undo()
    assert raced == [True]
    assert not got["ok"] and got["reason"] == "refused" and "it is tagged" in got["error"], got
    assert [s["step"] for s in d.assets.steps(old)] == ["tag", "move"]
    assert d.assets.verdict(old)["verdict"] == lv.LIVE and d.verify(old, record=False).verdict != Verdict.DESTROYED
    assert [s["by"] for s in d.assets.steps(new)] == ["Farm B"]


# -- who may record a disposal or a replacement (the tag retired) ---------------------------------
SCANNER = Caller("someScanner", frozenset({"scanner"}))
FARM_A = Caller("farmA", frozenset({"issuer"}))
FARM_B = Caller("farmB", frozenset({"issuer"}))
VET_AUTHORITY = Caller("Tumed Right Banner Veterinary Bureau", frozenset({"regulator"}))
ADMIN = Caller("ops", frozenset({"admin"}))


@pytest.fixture(scope="module")
def farms(tmp_path_factory):
    """Cattle tags registered by farmA, farmB and the veterinary bureau (20 each)."""
    d = tracecode.init(tmp_path_factory.mktemp("livestock-rights") / "data")
    cattle = [t.decode() for t in ear_tags(600, seed=46) if t[:1] == b"2"][:60]
    owned = {"farmA": cattle[:20], "farmB": cattle[20:40], VET_AUTHORITY.name: cattle[40:60]}
    for owner, tags in owned.items():
        assert register(d.index, lv.SCHEME, tags, owner=owner, when=at(0)).registered == 20
        for t in tags[:5]:           # the first five on animals, the others spare
            tagged(d, t)
    svc = Service(d, audit_path=d.path / "audit.log")
    yield d, svc, owned
    svc.close()
    d.close()


def _replace(old, new):
    return {"code": old, "step": "replace", "by": "farm hand", "new_tag": new, "time": at(60)}


def _dispose(code):
    return {"code": code, "step": "dispose", "by": PLANT, "place": "Baotou", "cause": "bloat", "time": at(60)}


@pytest.mark.parametrize("caller, step, expect", [
    (SCANNER, lambda o: _dispose(o["farmA"][0]), "it needs one of admin, issuer, regulator"),
    (SCANNER, lambda o: _replace(o["farmA"][0], o["farmA"][5]), "it needs one of admin, issuer, regulator"),
    # the repro: farmA's animal retired and farmB's tag put on it, by a plain scanner
    (SCANNER, lambda o: _replace(o["farmA"][0], o["farmB"][5]), "it needs one of admin, issuer, regulator"),
    (FARM_B, lambda o: _dispose(o["farmA"][0]), "registered by farmA"),
    (FARM_B, lambda o: _replace(o["farmA"][0], o["farmB"][5]), "registered by farmA"),
    (FARM_A, lambda o: _replace(o["farmA"][0], o["farmB"][5]), "(registered by farmB) on an animal"),
    (VET_AUTHORITY, lambda o: _replace(o["farmA"][0], o["farmB"][5]), "(registered by farmB) on an animal"),
])
def test_disposal_and_replacement_are_refused_to_others(farms, caller, step, expect):
    d, svc, owned = farms
    entry = step(owned)
    before = {c: len(d.assets.steps(c)) for c in (entry["code"], entry.get("new_tag")) if c}
    got = svc.asset_steps(caller, [entry])[0]
    assert not got["ok"] and got["reason"] == "permission_denied" and expect in got["error"], got
    assert {c: len(d.assets.steps(c)) for c in before} == before          # nothing written
    assert d.assets.verdict(entry["code"])["verdict"] == lv.LIVE


@pytest.mark.parametrize("caller, old, new", [
    (FARM_A, ("farmA", 1), ("farmA", 6)),                  # its own tag, its own spare
    (VET_AUTHORITY, ("farmB", 1), ("farmB", 6)),           # the authority, the farm's spare
    (VET_AUTHORITY, ("farmB", 2), (VET_AUTHORITY.name, 6)),   # the authority's own spare
    (ADMIN, ("farmA", 2), ("farmB", 7)),                   # an admin acts on anything
])
def test_the_registrant_the_authority_and_admins_replace(farms, caller, old, new):
    d, svc, owned = farms
    old, new = owned[old[0]][old[1]], owned[new[0]][new[1]]
    assert svc.asset_steps(caller, [_replace(old, new)])[0]["ok"]
    assert d.assets.verdict(old)["replaced_by"] == new and d.assets.verdict(new)["replaces"] == old


@pytest.mark.parametrize("caller, owner", [(FARM_A, "farmA"), (VET_AUTHORITY, "farmB"), (ADMIN, "farmB")])
def test_the_registrant_the_authority_and_admins_dispose(farms, caller, owner):
    d, svc, owned = farms
    code = next(c for c in owned[owner][:5] if d.assets.verdict(c)["verdict"] == lv.LIVE)
    assert svc.asset_steps(caller, [_dispose(code)])[0]["ok"]
    assert d.assets.verdict(code)["state"] == lv.DISPOSED


@pytest.mark.parametrize("form", ["urn", "page"])
def test_the_registrant_records_its_disposal_and_replacement_by_capture(farms, form):
    """An issuer whose product rules name no ear tag captures its own animals' death and lost
    tag as EPCIS events, naming its tags as our URN or as their page: rights by registration."""
    d, svc, owned = farms
    dead, old, new = owned["farmA"][10:13] if form == "urn" else owned["farmA"][13:16]
    tagged(d, dead)
    tagged(d, old)
    epc = _uri if form == "urn" else (lambda c: f"https://trace.example/c/{c}")
    template = lv.epcis_event(_uri(dead), {"step": "dispose", "by": PLANT, "place": "Baotou", "cause": "cold",
                                           "time": at(45)})
    n = 1601 if form == "urn" else 1611
    dispose = dict(template, epcList=[epc(dead)], eventID=f"urn:uuid:00000000-0000-4000-8000-00000000{n}")
    replace = dict(template, epcList=[epc(old)], bizStep="urn:tracecode:bizstep:tag_replacement",
                   disposition="inactive", **{"tc:new_tag": new},
                   eventID=f"urn:uuid:00000000-0000-4000-8000-00000000{n + 1}")
    job = svc.capture(FARM_A, _doc([dispose, replace]), "application/ld+json")
    assert job["state"] == "success", job["errors"]
    assert job["asset_steps"] == {"recorded": 2, "refused": 0}
    assert d.assets.verdict(dead)["state"] == lv.DISPOSED
    assert d.assets.verdict(old)["replaced_by"] == new and d.assets.verdict(new)["replaces"] == old
    # farmB's tags are not farmA's to capture about, in either form
    other = dict(dispose, epcList=[epc(owned["farmB"][4])], eventID=f"urn:uuid:00000000-0000-4000-8000-00000000{n + 2}")
    job = svc.capture(FARM_A, _doc([other]), "application/ld+json")
    assert job["state"] != "success" and job["errors"][0]["reason"] == "permission_denied", job
    assert d.assets.verdict(owned["farmB"][4])["verdict"] == lv.LIVE
