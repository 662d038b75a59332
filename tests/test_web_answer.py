"""The public answer (tracecode.web.answer) through the Service over a data directory: every
verdict in plain words, the registry's record for a veterinary code, the repeat-query
warning, what the public sees against a signed-in caller who sees the product whole, and
the language catalogs."""
import datetime as dt
import json

import pytest

import tracecode
from tracecode import categories
from tracecode.app.caller import PUBLIC
from tracecode.app.refusal import Refusal
from tracecode.app.service import Service
from tracecode.web import i18n
from tracecode.web.answer import approval_answer, code_answer, region

from web_world import (COMPANY, DRUG, ISSUER, LINE, OTHER_ISSUER, PEST, PEST_COMPANY, REGULATOR, REQUESTER,
                       REVOKED, VALID, build, close, qr, settled)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build(tmp_path_factory.mktemp("web-answer"))
    yield w
    close(w)


def test_genuine_drug_in_plain_words(world):
    a = code_answer(world["svc"], PUBLIC, world["genuine"], lang="en")
    assert (a["verdict"], a["verdict_text"], a["tone"], a["genuine"]) == ("genuine", "Genuine", "ok", True)
    assert (a["lot"], a["expiry"], a["status"], a["category"]) == ("L7", "2099-12-31", "shipped", "drugs")
    assert a["product"]["fields"] == DRUG and a["scan_count"] == 1 and a["warnings"] == []
    # the drugs category shows the distribution path: places and dates, nothing of who
    assert [(s["action"], s["place"]) for s in a["path"]] == [("commission", "Factory A"),
                                                               ("ship", "Nanning DC")]
    assert a["audience"] == "public" and "batch" not in a and "history" not in a
    # the product's links for people, in the reader's language (the event repository's is not)
    assert a["links"] == [{"type": "gs1:pip", "href": "https://maker.example/en/8177322",
                           "title": "Product information"}]
    zh = code_answer(world["svc"], PUBLIC, world["genuine"])
    assert (zh["verdict_text"], zh["lang"]) == ("正品", "zh")
    assert zh["links"] == [{"type": "gs1:pip", "href": "https://maker.example/zh/8177322", "title": "说明书"}]
    assert code_answer(world["svc"], PUBLIC, world["unknown"])["links"] == []
    json.dumps(a, ensure_ascii=False)   # the JSON API's body as it is
    assert code_answer(world["svc"], PUBLIC, world["genuine"], lang="fr")["lang"] == "zh"


def test_recalled_names_the_date_and_what_to_do(world):
    a = code_answer(world["svc"], PUBLIC, world["recalled"], lang="en")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    assert a["verdict"] == "recalled" and a["tone"] == "bad"
    (w,) = [w for w in a["warnings"] if w["key"] == "recalled"]
    assert w["text"] == (f"This product was recalled on {today} (reason: contamination). Do not use "
                         "it: return it to where you bought it or contact the holder.")
    zh = code_answer(world["svc"], PUBLIC, world["recalled"], lang="zh")
    assert f"此产品已于{today}召回（原因：contamination）" in zh["warnings"][0]["text"]


def test_expired_sold_destroyed_unknown_not_in_circulation(world):
    svc = world["svc"]
    a = code_answer(svc, PUBLIC, world["expired"], lang="en")
    assert (a["verdict"], a["expiry"]) == ("expired", "2020-01-31")
    assert a["warnings"][0]["text"] == "This product expired on 2020-01-31. Do not use it."
    a = code_answer(svc, PUBLIC, world["sold"], lang="en")
    assert (a["verdict"], a["verdict_text"], a["tone"]) == ("sold", "Already sold or dispensed", "warn")
    assert a["path"][-1] == {"action": "sell", "action_text": "Sold", "date": a["path"][-1]["date"],
                             "place": "Pharmacy 3"}
    a = code_answer(svc, PUBLIC, world["destroyed"], lang="en")
    assert a["verdict"] == "destroyed" and "destroyed (reason: damaged)" in a["warnings"][0]["text"]
    a = code_answer(svc, PUBLIC, world["uncommissioned"], lang="en")
    assert (a["verdict"], a["verdict_text"]) == ("not_in_circulation", "Not yet in circulation")
    a = code_answer(svc, PUBLIC, world["unknown"], lang="en")
    assert (a["verdict"], a["verdict_text"], a["found"]) == ("not_found", "Not found", False)
    # a guessed code reveals nothing: no product, lot, count or path
    assert all(a[k] is None for k in ("product", "lot", "expiry", "scan_count", "path", "status"))
    assert [w["key"] for w in a["warnings"]] == ["not_found"]


def test_unreadable_scans_are_refused(world):
    for scan in ("123", "", "8" * 5000, "81773229421737919058"):
        with pytest.raises(Refusal) as info:
            code_answer(world["svc"], PUBLIC, scan)
        assert info.value.reason == "unreadable_scan", scan


def test_repeat_query_warning(world):
    svc, code = world["svc"], world["repeat"]
    first = code_answer(svc, PUBLIC, code, place="Nanning", lang="en")
    assert first["scan_count"] == 1 and first["warnings"] == []
    settled(world, code, 1)
    for n in (2, 3):
        code_answer(svc, PUBLIC, code, place="Nanning")
        settled(world, code, n)
    a = code_answer(svc, PUBLIC, code, lang="en")
    settled(world, code, 4)
    day = a["first_scan_time"][:10]
    assert (a["scan_count"], a["first_scan_place"], a["first_scan_region"]) == (4, "Nanning, Guangxi", "450100")
    assert a["warnings"] == [{"key": "repeat_query", "text": (
        f"This code has been queried 4 times; the first query was on {day} in Nanning, Guangxi. If this "
        "is your first query, the product may be a copy.")}]
    zh = code_answer(svc, PUBLIC, code, lang="zh")
    assert zh["warnings"][0]["text"].startswith(f"此码已被查询5次；首次查询于{day}在广西壮族自治区南宁市。")


def test_public_queries_are_recorded_as_scans(world):
    svc, code = world["svc"], world["fresh"]
    code_answer(svc, PUBLIC, code)                      # no region: "public"
    code_answer(svc, PUBLIC, code, place="  广西  南宁 ")  # a region, cleaned
    scans = settled(world, code, 2)
    assert [(s["scanner"], s["place"]) for s in scans] == [("public", "public"), ("public", "450100")]
    assert region("x" * 100) is None and region("\x00bad") is None and region(None) is None
    code_answer(svc, PUBLIC, code, place="call 400-800-1234")   # shown to the next reader: not kept
    assert [s["place"] for s in settled(world, code, 3)][-1] == "public"


def test_suspicious_when_queried_at_too_many_places(world):
    svc, code = world["svc"], world["suspicious"]
    for n, place in enumerate(("Nanning", "Harbin", "Lhasa", "Urumqi"), 1):
        code_answer(svc, PUBLIC, code, place=place)
        settled(world, code, n)
    a = code_answer(svc, PUBLIC, code, place="Sanya", lang="en")
    assert (a["verdict"], a["verdict_text"]) == ("suspicious", "Suspicious")
    keys = [w["key"] for w in a["warnings"]]
    assert keys[0] == "suspicious" and "repeat_query" in keys


def test_veterinary_code_with_a_registry(world):
    svc = world["svc"]
    a = code_answer(svc, PUBLIC, qr(world["vet"], VALID), lang="en")
    assert (a["verdict"], a["category"], a["company"]) == ("genuine", "veterinary", COMPANY)
    assert a["product"]["name"] == "阿莫西林可溶性粉" and a["product"]["dosage_form"] == "粉剂"
    assert a["approval"]["number"] == VALID and a["approval"]["valid"] is True
    assert a["approval"]["validity"] == "valid until 2099-12-31" and a["lot"] == "V1"
    assert all(c["ok"] for c in a["checks"]) and "detail" not in a["checks"][0]
    # the bare code (typed by hand) is checked too
    assert code_answer(svc, PUBLIC, world["vet2"])["approval"]["number"] == VALID
    # a QR payload naming another approval than the code's record: a copy
    a = code_answer(svc, PUBLIC, qr(world["vet"], REVOKED), lang="en")
    assert a["verdict"] == "suspicious" and "approval_mismatch" in [w["key"] for w in a["warnings"]]
    # a code under a revoked approval
    a = code_answer(svc, PUBLIC, world["revoked"], lang="en")
    assert a["verdict"] == "suspicious"
    assert a["approval"]["validity"] == "revoked (since 2024-01-01)"
    assert {"key": "approval_invalid", "text": f"The approval number {REVOKED} is not valid: revoked "
            "(since 2024-01-01)."} in a["warnings"]


def test_a_code_the_registry_cannot_confirm(world):
    """No check failed, one could not run (no expiry on record): the index's verdict, with a
    note saying what to check on the label."""
    a = code_answer(world["svc"], PUBLIC, world["vet_no_expiry"], lang="en")
    assert a["verdict"] == "genuine" and a["approval"]["number"] == VALID
    assert [c["state"] for c in a["checks"] if c["name"] == "not_expired"] == ["unchecked"]
    assert [w["key"] for w in a["warnings"]] == ["no_expiry_on_record"]
    assert "check the date on the label" in a["warnings"][0]["text"]


def test_pesticide_code_with_a_registry(world):
    a = code_answer(world["svc"], PUBLIC, world["pest"], lang="zh")
    assert (a["verdict"], a["category"], a["category_title"]) == ("genuine", "pesticides", "农药")
    assert (a["company"], a["approval"]["number"], a["product"]["name"]) == (PEST_COMPANY, PEST, "吡虫啉")
    assert a["approval"]["validity"] == "有效，至2099-12-31" and a["lot"] == "P1"


def test_approval_answer(world):
    svc = world["svc"]
    a = approval_answer(svc, PUBLIC, "兽药字（2015）010012345", lang="en")
    assert (a["number"], a["company"], a["valid"], a["verdict_text"]) == (VALID, COMPANY, True, "Valid")
    assert a["products"] == [{"name": "阿莫西林可溶性粉", "dosage_form": "粉剂", "specification": "100g"}]
    assert a["kind_text"] == "Veterinary drug approval"
    a = approval_answer(svc, PUBLIC, REVOKED, lang="zh")
    assert (a["verdict"], a["validity"]) == ("approval_invalid", "已撤销（自2024-01-01）")
    for number, reason in (("not a number", "invalid_argument"), ("兽药字(2019)010099999", "unknown_approval"),
                           ("", "invalid_argument")):
        with pytest.raises(Refusal) as info:
            approval_answer(svc, PUBLIC, number)
        assert info.value.reason == reason


def _text(answer) -> str:
    return json.dumps(answer, ensure_ascii=False)


def test_public_never_sees_line_requester_or_volumes(world):
    svc, code = world["svc"], world["private"]
    for who in (PUBLIC, OTHER_ISSUER):
        for lang in ("zh", "en"):
            a = code_answer(svc, who, code, lang=lang)
            body = _text(a)
            assert LINE not in body and REQUESTER not in body
            assert "batch" not in a and "history" not in a and a["audience"] == "public"
            assert '"count"' not in body and '"id": "c-drugs"' not in body
    # nor do a veterinary answer's registry check sentences (they name our batch ids)
    assert "batch" not in _text(code_answer(svc, PUBLIC, world["vet"]))


def test_signed_in_owner_and_regulator_see_the_whole_record(world):
    svc, code = world["svc"], world["private"]
    for who in (ISSUER, REGULATOR):
        a = code_answer(svc, who, code, lang="en")
        assert a["audience"] == "whole" and a["caller"] == who.name
        assert (a["batch"]["line"], a["batch"]["requester"], a["batch"]["count"]) == (LINE, REQUESTER, 12)
        assert [h["action"] for h in a["history"] if h["kind"] == "event"] == ["commission"]
        assert set(a["shown"]) == set(categories.PUBLIC_FIELDS)
    a = code_answer(svc, REGULATOR, world["vet"], lang="en")
    assert a["audience"] == "whole" and all("detail" in c for c in a["checks"])


def test_public_fields_are_the_categorys(world, monkeypatch):
    """What the public sees is the category's declaration: a category that hides the lot
    and the path hides them."""
    from dataclasses import replace
    drugs = categories.ALL["drugs"]
    monkeypatch.setitem(categories.ALL, "drugs", replace(drugs, public=("verdict", "expiry")))
    a = code_answer(world["svc"], PUBLIC, world["genuine"])
    assert a["lot"] is None and a["path"] is None and a["scan_count"] is None
    assert a["expiry"] == "2099-12-31" and a["shown"] == ["expiry", "verdict"]


def test_catalogs_have_the_same_keys_and_fields():
    assert set(i18n.ZH) == set(i18n.EN)
    for key in i18n.ZH:
        assert i18n.fields_of(i18n.ZH[key]) == i18n.fields_of(i18n.EN[key]), key
    # every verdict, status, action and check the answer can name has its words
    from tracecode.index import Status
    from tracecode.scan import Fault
    from tracecode.registry import CHECKS
    from tracecode.web.answer import TONE
    from tracecode.app.trail import PATH_ACTIONS
    from tracecode.index import ACTIONS
    assert set(PATH_ACTIONS) <= set(ACTIONS)
    needed = ([f"verdict.{k}" for k in TONE] + [f"verdict_note.{k}" for k in TONE]
              + [f"status.{s.name.lower()}" for s in Status] + [f"action.{a}" for a in ACTIONS]
              + [f"check.{c}" for c in CHECKS] + [f"fault.{f.name}" for f in Fault if f != Fault.OK])
    assert [k for k in needed if k not in i18n.ZH] == []


class _Req:
    def __init__(self, query=None, cookies=None, headers=None):
        self.query_params, self.cookies, self.headers = query or {}, cookies or {}, headers or {}


def test_negotiate_query_then_cookie_then_accept_language():
    assert i18n.negotiate(_Req()) == "zh"
    assert i18n.negotiate(_Req(headers={"accept-language": "en-US,en;q=0.9"})) == "en"
    assert i18n.negotiate(_Req(headers={"accept-language": "de,en;q=0.3,zh;q=0.8"})) == "zh"
    assert i18n.negotiate(_Req(cookies={"lang": "en"}, headers={"accept-language": "zh"})) == "en"
    assert i18n.negotiate(_Req({"lang": "zh"}, {"lang": "en"}, {"accept-language": "en"})) == "zh"
    assert i18n.negotiate(_Req({"lang": "fr"}, {"lang": "xx"}, {"accept-language": "q=;;,,"})) == "zh"
    assert i18n.pick("en;q=abc, zh;q=0.1") == "zh" and i18n.pick("EN_gb") == "en"


def test_trail_reads_events_only_and_history_events_are_kept_short(tmp_path):
    """The public trail is places and dates (no client, codes or ids); history's events
    list at most HISTORY_CODES codes, kept decoded per store, each reader its own copy."""
    from tracecode.app.trail import trail
    from tracecode.index.index import HISTORY_CODES
    d = tracecode.init(tmp_path / "data")
    try:
        b = d.issue("cn-drug-20", DRUG, HISTORY_CODES * 3)
        codes = [c.decode() for c in b.codes()]
        assert d.apply([{"id": "c", "action": "commission", "codes": codes, "place": "Factory A"}],
                       client="maker")[0]["ok"]
        svc = Service(d)
        svc.verify(PUBLIC, codes[7], place="Nanning")
        (step,) = trail(svc, PUBLIC, codes[7])
        assert step == {"action": "commission", "time": step["time"], "place": "Factory A"}
        first = d.history(codes[7], scans=False)
        assert [i["kind"] for i in first] == ["event"]
        assert (first[0]["codes_total"], len(first[0]["codes"])) == (HISTORY_CODES * 3, HISTORY_CODES)
        first[0]["codes"].clear()
        first[0]["place"] = "changed by a reader"
        again = d.history(codes[8])
        assert again[0]["place"] == "Factory A" and len(again[0]["codes"]) == HISTORY_CODES
        assert again[0]["codes"] == codes[:HISTORY_CODES]
        svc.close()
    finally:
        d.close()
