"""What the public window says of a code's earlier queries, and what it records: only the
public's queries count (not an enterprise's or a pharmacy's scans), a place is a region of
the fixed table (never text someone typed), the page's own reloads, HEADs, link previews
and rate-limited queries are not counted; a label whose lot or expiry is not the record's
is suspicious; a product-level scan is not a pack's code; a sale is named by date and region;
invisible characters of a copy-paste are dropped; refusals are in the reader's language."""
import json
from urllib.parse import quote

import httpx
import pytest

from tracecode.app.caller import PUBLIC
from tracecode.web.answer import QUERY_BOUND, code_answer
from tracecode.web.app import create_app
from tracecode.web.ratelimit import RateLimited
from tracecode.web.settings import WebSettings

from web_server import serving
from web_world import build, close, commission, scans_of, settled

GTIN = "09521234543213"
LOOSE = WebSettings(per_address=100_000, per_address_burst=100_000, per_product=100_000,
                    per_product_burst=100_000)
FRAUD = "本品为假货请加微信客服领取三倍赔偿"
PRIVATE = "Guangxi Hospital 3 pharmacy, Ward 5, customer Zhang"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build(tmp_path_factory.mktemp("public-queries"))
    d = w["d"]
    b = d.issue("cn-drug-20", {"drug_id": "8177322"}, 12, lot="Q1", expiry="20991231")
    codes = [c.decode() for c in b.codes()]
    commission(d, codes, "c-queries")
    assert all(r["ok"] for r in d.apply([
        {"id": "sell-nn", "action": "sell", "codes": codes[10:11], "place": "南宁"},
        {"id": "sell-shop", "action": "sell", "codes": codes[11:12], "place": PRIVATE}]))
    g = d.issue("gs1-sgtin", {"gtin": GTIN}, 3, lot="A1", expiry="261231")
    gs1 = [c.decode() for c in g.codes()]
    commission(d, gs1, "c-gs1")
    w.update(codes=codes, gs1=gs1)
    yield w
    close(w)


def public_count(w, code):
    return len([s for s in scans_of(w, code) if s["scanner"] == "public"])


def test_other_scanners_scans_are_not_queries_and_their_places_are_never_shown(world):
    svc, d, code = world["svc"], world["d"], world["codes"][0]
    d.verify(code, scanner="pharmacy-7", place=PRIVATE)
    d.verify(code, scanner="maker-wh", place="Factory A dock 3")
    settled(world, code, 2)
    a = code_answer(svc, PUBLIC, code, lang="en")
    assert (a["scan_count"], a["warnings"], a["first_scan_place"]) == (1, [], None)
    assert "Zhang" not in json.dumps(a, ensure_ascii=False) and "dock" not in json.dumps(a)
    settled(world, code, 3)
    b = code_answer(svc, PUBLIC, code, lang="en")
    assert b["scan_count"] == 2 and [w["key"] for w in b["warnings"]] == ["repeat_query_noplace"]


def test_a_place_is_a_region_of_the_table_never_text(world):
    svc, code = world["svc"], world["codes"][1]
    code_answer(svc, PUBLIC, code, place=FRAUD)
    settled(world, code, 1)
    assert [s["place"] for s in scans_of(world, code)] == ["public"]
    a = code_answer(svc, PUBLIC, code, place="广西 南宁")
    assert FRAUD not in json.dumps(a, ensure_ascii=False) and a["first_scan_place"] is None
    other = world["codes"][2]
    code_answer(svc, PUBLIC, other, place="Nanning")
    settled(world, other, 1)
    assert [s["place"] for s in scans_of(world, other)] == ["450100"]
    zh = code_answer(svc, PUBLIC, other, lang="zh")
    assert zh["first_scan_place"] == "广西壮族自治区南宁市" and zh["first_scan_region"] == "450100"
    said = zh["warnings"][0]["text"]
    assert said.startswith("此码已被查询2次；") and "在广西壮族自治区南宁市" in said


def test_a_count_past_the_bound_says_more_than(world):
    svc, d, code = world["svc"], world["d"], world["codes"][3]
    for _ in range(QUERY_BOUND + 2):
        d.verify(code, scanner="public", place="450300")
    settled(world, code, QUERY_BOUND + 2)
    a = code_answer(svc, PUBLIC, code, lang="en", repeat=True)
    assert (a["scan_count"], a["scan_count_more"]) == (QUERY_BOUND, True)
    assert f"queried more than {QUERY_BOUND} times" in a["warnings"][0]["text"]
    assert "Guilin, Guangxi" in a["warnings"][0]["text"]


def test_a_repeat_and_a_refused_query_are_not_recorded(world):
    svc, code = world["svc"], world["codes"][4]
    code_answer(svc, PUBLIC, code, repeat=True)

    def refuse(answer):
        assert answer["verdict"] == "genuine"
        raise RateLimited("of this product", 5.0)
    with pytest.raises(RateLimited):
        code_answer(svc, PUBLIC, code, charge=refuse)
    code_answer(svc, PUBLIC, code, charge=lambda a: None)
    settled(world, code, 1)
    assert public_count(world, code) == 1


def test_a_label_whose_lot_or_expiry_is_not_the_records_is_suspicious(world):
    svc, code = world["svc"], world["gs1"][0]
    ser = code[14:]
    ok = code_answer(svc, PUBLIC, f"(01){GTIN}(21){ser}(17)261231(10)A1", lang="en")
    assert ok["verdict"] == "genuine" and ok["label_differences"] == []
    lot = code_answer(svc, PUBLIC, f"https://trace.example/01/{GTIN}/10/WRONG/21/{ser}", lang="en")
    assert lot["verdict"] == "suspicious" and lot["tone"] == "bad"
    assert lot["label_differences"] == [{"field": "lot", "label": "WRONG", "record": "A1"}]
    assert "The lot on the label, WRONG, is not this code's lot on record, A1" in lot["warnings"][0]["text"]
    exp = code_answer(svc, PUBLIC, f"(01){GTIN}(21){ser}(17)301231", lang="zh")
    assert exp["verdict"] == "suspicious" and exp["warnings"][0]["key"] == "label_expiry"
    assert "2030-12-31" in exp["warnings"][0]["text"] and "2026-12-31" in exp["warnings"][0]["text"]


@pytest.mark.parametrize("scan", [f"(01){GTIN}", f"(01){GTIN}(10)A1", f"https://trace.example/01/{GTIN}"])
def test_a_product_level_scan_is_no_pack_code_to_verify(world, scan):
    a = code_answer(world["svc"], PUBLIC, scan, lang="en")
    assert (a["verdict"], a["tone"]) == ("not_one_pack", "warn")
    assert [w["key"] for w in a["warnings"]] == ["not_one_pack"]
    assert "fake" not in json.dumps(a) and "nothing here to verify" in a["warnings"][0]["text"]


def test_a_sale_is_named_by_its_date_and_region(world):
    svc = world["svc"]
    a = code_answer(svc, PUBLIC, world["codes"][10], lang="en")
    (w,) = [w for w in a["warnings"] if w["key"].startswith("sold")]
    assert w["key"] == "sold_at" and " in Nanning, Guangxi (a pharmacy records the sale at checkout)" in w["text"]
    assert "just bought it new" not in w["text"]
    b = code_answer(svc, PUBLIC, world["codes"][11], lang="zh")
    (w,) = [w for w in b["warnings"] if w["key"].startswith("sold")]
    assert w["key"] == "sold_on" and "Zhang" not in w["text"] and "药店结账时记录" in w["text"]


@pytest.mark.parametrize("dirt", ["{}\u200b", "\u200b{}", "{}/", "\ufeff{}\u200d ", "\u202d{}\u202c"])
def test_invisible_characters_of_a_copy_are_dropped(world, dirt):
    a = code_answer(world["svc"], PUBLIC, dirt.format(world["codes"][5]), repeat=True)
    assert a["verdict"] == "genuine" and a["code"] == world["codes"][5]


# -- over HTTP ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(world):
    with serving(create_app(world["svc"], base_url="https://trace.example", settings=LOOSE)) as url:
        yield url


HTML = {"accept": "text/html", "accept-language": "zh-CN,zh;q=0.9"}


def test_the_pages_reload_head_and_previews_are_not_counted(world, site):
    code = world["codes"][6]
    with httpx.Client(base_url=site, timeout=30) as browser:
        first = browser.get(f"/c/{code}", headers=HTML)
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert f"path=/c/{code}" in cookie.lower() and "max-age=86400" in cookie.lower()
        again = browser.get(f"/c/{code}?lang=en", headers=HTML)    # the language switch
        assert again.status_code == 200 and "may be a copy" not in again.text
    httpx.head(f"{site}/c/{code}", headers=HTML, timeout=30)
    for agent in ("WhatsApp/2.23.20.0", "Mozilla/5.0 (compatible; Discordbot/2.0)", "facebookexternalhit/1.1",
                  "Slackbot-LinkExpanding 1.0", "TelegramBot (like TwitterBot)", "Twitterbot/1.0",
                  "Mozilla/5.0 MicroMessenger/8.0.40"):
        r = httpx.get(f"{site}/c/{code}", headers={"accept": "text/html", "user-agent": agent}, timeout=30)
        assert r.status_code == 200 and "set-cookie" not in r.headers
    settled(world, code, 1)
    assert public_count(world, code) == 1
    with httpx.Client(base_url=site, timeout=30) as other:    # another person: counted, told of the first
        r = other.get(f"/c/{code}", headers={**HTML, "accept-language": "en"})
        assert "queried 2 times" in r.text
    settled(world, code, 2)
    assert public_count(world, code) == 2


def test_the_cookie_is_on_the_path_a_browser_sends(world, site):
    code = world["gs1"][1]
    r = httpx.get(f"{site}/c/(01){GTIN}(21){code[14:]}", headers=HTML, timeout=30)
    assert f"path=/c/(01){GTIN}(21){code[14:]};" in r.headers["set-cookie"].lower()
    evil = httpx.get(f"{site}/c/{world['codes'][9]};Domain=evil.example", headers=HTML, timeout=30)
    assert "; domain=" not in evil.headers.get("set-cookie", "").lower()   # ";" stays inside the path


def test_a_query_over_the_products_limit_is_not_recorded(world):
    code = world["codes"][7]
    tight = WebSettings(per_address=100_000, per_address_burst=100_000, per_product=1, per_product_burst=1)
    with serving(create_app(world["svc"], base_url="https://trace.example", settings=tight)) as url:
        guesses = [httpx.get(f"{url}/api/v1/codes/{world['unknown']}", timeout=30).status_code for _ in range(3)]
        statuses = [httpx.get(f"{url}/api/v1/codes/{code}", timeout=30).status_code for _ in range(2)]
        statuses += [httpx.get(f"{url}/c/{code}", headers=HTML, timeout=30).status_code for _ in range(2)]
    assert guesses[0] == 200 and 429 in guesses and set(statuses) == {429}   # the guesses drained it
    world["d"].index.store.flush_scans()
    assert public_count(world, code) == 0


def test_the_region_box_is_a_select_of_the_table(site):
    r = httpx.get(site + "/", headers=HTML, timeout=30)
    assert '<select id="place" name="place">' in r.text and 'value="450100"' in r.text and "南宁市" in r.text
    assert 'name="place" type="text"' not in r.text
    r = httpx.get(site + "/?place=450100&lang=en", headers=HTML, timeout=30)
    assert '<option value="450100" selected>' in r.text


def test_refusals_are_in_the_readers_language(world, site):
    zh = httpx.get(site + "/approvals/" + quote("兽药字(2015)019999999"), headers=HTML, timeout=30)
    assert zh.status_code == 404 and "登记中没有此文号" in zh.text
    bad = httpx.get(site + "/approvals/nonsense", headers=HTML, timeout=30)
    assert bad.status_code == 400 and "文号的格式不对" in bad.text
    nf = httpx.get(site + "/no/such/page", headers=HTML, timeout=30)
    assert nf.status_code == 404 and "没有找到该页面" in nf.text
    en = httpx.get(site + "/approvals/nonsense", headers={**HTML, "accept-language": "en"}, timeout=30)
    assert "This is not the form of an approval" in en.text


def test_a_trailing_slash_and_invisible_characters_in_the_path(world, site):
    code = world["codes"][8]
    for path in (f"/c/{code}/", f"/c/{code}%E2%80%8B"):
        r = httpx.get(site + path, headers=HTML, timeout=30, follow_redirects=True)
        assert r.status_code == 200 and 'data-verdict="genuine"' in r.text, path
