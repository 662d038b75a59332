"""The GS1 Digital Link resolver over real HTTP, against the GS1-Conformant Resolver Standard's
rules: content negotiation (page, linkset, redirect), 307 to the chosen link by type and
language or 404 with the linkset, the default link, product- and lot-level links, every
spelling of a Digital Link (short names, custom path, trailing slash, attributes), readable
400s, the resolver description, CORS, HEAD and OPTIONS; the linkset against RFC 9264."""
from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from biip import parse as biip_parse

from tracecode.app.caller import LOCAL
from tracecode.web.app import create_app
from tracecode.web.settings import WebSettings

from web_platform import BASE_URL, GTIN, OTHER_GTIN, Platform
from web_server import serving

LOOSE = WebSettings(per_address=100_000, per_address_burst=100_000, per_product=100_000,
                    per_product_burst=100_000)
LINKS = [
    {"link_type": "gs1:pip", "href": "https://brand.example.com/zh/p", "title": "产品信息",
     "lang": ["zh-CN"], "media_type": "text/html", "default": True},
    {"link_type": "gs1:pip", "href": "https://brand.example.com/en/p", "title": "Product",
     "lang": ["en"], "media_type": "text/html"},
    {"link_type": "gs1:certificationInfo", "href": "https://brand.example.com/cert", "title": "GMP"},
]
LOT_LINKS = [{"link_type": "gs1:recallStatus", "href": "https://brand.example.com/recall/L1"}]
NOT_BROWSER = {"accept": "*/*"}
BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
LINKSET = "application/linkset+json"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("resolver"), count=10)
    p.svc.set_links(LOCAL, f"01/{GTIN}", LINKS)
    p.svc.set_links(LOCAL, f"01/{GTIN}/10/L1", LOT_LINKS)
    app = create_app(p.svc, base_url=BASE_URL, settings=LOOSE)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield p, client
    p.close()


def serial(p, k=0) -> str:
    return p.gs1[k][len("01") + 14 + len("21"):]


def check_linkset(doc: dict, anchor: str) -> dict:
    """RFC 9264 section 4.2: {"linkset": [link context objects]}; a context object has an
    "anchor" and link relation members, each an array of target objects with "href"; the
    target attributes hreflang (array of strings), title and type (strings). Returns the
    context's relations."""
    assert set(doc) == {"linkset"} and isinstance(doc["linkset"], list) and len(doc["linkset"]) == 1
    context = doc["linkset"][0]
    assert context["anchor"] == anchor
    relations = {k: v for k, v in context.items() if k != "anchor"}
    for rel, targets in relations.items():
        assert rel.startswith("https://gs1.org/voc/"), rel      # extension relation types are URIs
        assert isinstance(targets, list) and targets
        for t in targets:
            assert isinstance(t["href"], str) and t["href"].startswith("https://")
            assert set(t) <= {"href", "title", "hreflang", "type"}
            assert all(isinstance(x, str) for x in t.get("hreflang", []))
            assert isinstance(t.get("title", ""), str) and isinstance(t.get("type", ""), str)
    return relations


def link_header(r) -> str:
    return r.headers["link"]


# -- content negotiation ---------------------------------------------------------------------
def test_a_browser_gets_the_page_of_the_code(site):
    p, client = site
    r = client.get(f"/01/{GTIN}/21/{serial(p)}", headers=BROWSER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert serial(p) in r.text
    anchor = f"{BASE_URL}/01/{GTIN}/21/{serial(p)}"
    assert f'<{anchor}?linkType=linkset>; rel="linkset"' in link_header(r)
    assert f'<{anchor}>; rel="owl:sameAs"' in link_header(r)
    # the page's query is recorded: the API sees it counted
    before = client.get(f"/api/v1/codes/{p.gs1[0]}").json()["scan_count"]
    assert before >= 1


def test_linkset_by_link_type_or_accept(site):
    p, client = site
    path = f"/01/{GTIN}/21/{serial(p, 1)}"
    anchor = BASE_URL + path
    for params, headers in (({"linkType": "linkset"}, {}), ({"linkType": "all"}, BROWSER),
                            ({}, {"accept": LINKSET})):
        r = client.get(path, params=params, headers=headers)
        assert r.status_code == 200, (params, headers)
        assert r.headers["content-type"] == LINKSET
        rel = check_linkset(r.json(), anchor)
        assert [t["href"] for t in rel["https://gs1.org/voc/pip"]] == [LINKS[0]["href"], LINKS[1]["href"]]
        assert rel["https://gs1.org/voc/defaultLink"][0]["href"] == LINKS[0]["href"]
        assert rel["https://gs1.org/voc/pip"][0]["hreflang"] == ["zh-CN"]
        assert rel["https://gs1.org/voc/certificationInfo"][0]["title"] == "GMP"


def test_link_type_redirects_by_language(site):
    p, client = site
    path = f"/01/{GTIN}/21/{serial(p, 2)}"
    cases = [("gs1:pip", "en-GB,en;q=0.9", LINKS[1]["href"]), ("gs1:pip", "zh-CN,zh;q=0.9", LINKS[0]["href"]),
             ("pip", "fr", LINKS[0]["href"]),                       # no French: the default
             ("https://gs1.org/voc/pip", "en", LINKS[1]["href"]),
             ("gs1:certificationInfo", "", LINKS[2]["href"]),
             ("gs1:defaultLink", "en", LINKS[0]["href"])]
    for link_type, lang, want in cases:
        for headers in (NOT_BROWSER, BROWSER):       # an explicit linkType wins over the page
            r = client.get(path, params={"linkType": link_type}, headers={**headers, "accept-language": lang})
            assert r.status_code == 307, (link_type, lang, r.status_code)
            assert r.headers["location"] == want, (link_type, lang)
            assert 'rel="linkset"' in link_header(r)
    r = client.get(path, params={"linkType": "gs1:pip", "lang": "en"})
    assert r.headers["location"] == LINKS[1]["href"]


def test_a_missing_link_type_is_404_with_the_linkset(site):
    p, client = site
    path = f"/01/{GTIN}/21/{serial(p, 3)}"
    r = client.get(path, params={"linkType": "gs1:epcis"})
    assert r.status_code == 404 and r.headers["content-type"] == LINKSET
    check_linkset(r.json(), BASE_URL + path)
    r = client.get(path, params={"linkType": "gs1:noSuchType"})
    assert r.status_code == 400 and "noSuchType" in r.json()["error"]["message"]


def test_no_link_type_not_a_browser_gets_the_default_or_the_linkset(site):
    p, client = site
    r = client.get(f"/01/{GTIN}/21/{serial(p, 4)}", headers=NOT_BROWSER)
    assert r.status_code == 307 and r.headers["location"] == LINKS[0]["href"]
    other = p.other_gs1[0][len("01") + 14 + len("21"):]
    r = client.get(f"/01/{OTHER_GTIN}/21/{other}", headers=NOT_BROWSER)    # no links at all
    assert r.status_code == 200 and r.headers["content-type"] == LINKSET
    assert r.json()["linkset"][0] == {"anchor": f"{BASE_URL}/01/{OTHER_GTIN}/21/{other}"}


def test_lot_links_before_product_links(site):
    _, client = site
    r = client.get(f"/01/{GTIN}/10/L1", params={"linkType": "gs1:recallStatus"})
    assert r.status_code == 307 and r.headers["location"] == LOT_LINKS[0]["href"]
    r = client.get(f"/01/{GTIN}/10/L2", params={"linkType": "gs1:pip"}, headers={"accept-language": "en"})
    assert r.status_code == 307 and r.headers["location"] == LINKS[1]["href"]   # no links of L2: the product's
    r = client.get(f"/01/{GTIN}/10/L1", params={"linkType": "gs1:pip"}, headers={"accept-language": "en"})
    assert r.status_code == 307 and r.headers["location"] == LINKS[1]["href"]   # L1 has no pip: the product's
    rel = check_linkset(client.get(f"/01/{GTIN}/10/L1?linkType=linkset").json(), f"{BASE_URL}/01/{GTIN}/10/L1")
    assert list(rel)[0] == "https://gs1.org/voc/recallStatus" and "https://gs1.org/voc/pip" in rel


def test_a_browser_on_a_uri_naming_no_pack(site):
    _, client = site
    # a product (or lot) URI: its default link; with no links, a page saying there is no pack to verify
    r = client.get(f"/01/{GTIN}", headers=BROWSER)
    assert r.status_code == 307 and r.headers["location"] == LINKS[0]["href"]
    r = client.get(f"/01/{GTIN}/10/L1", headers=BROWSER)
    assert r.status_code == 307 and r.headers["location"] == LINKS[0]["href"]
    for path in (f"/01/{OTHER_GTIN}", "/00/106141411234567897", "/414/9506000134352"):
        r = client.get(path, headers=BROWSER)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
        assert "不是某一件商品的追溯码" in r.text, path
        assert 'rel="linkset"' in r.headers["link"]
    r = client.get(f"/01/{OTHER_GTIN}", headers={**BROWSER, "accept-language": "en"})
    assert "nothing here to verify" in r.text


# -- every spelling of one Digital Link -------------------------------------------------------
def test_spellings_resolve_alike(site):
    p, client = site
    s = serial(p, 5)
    canonical = f"{BASE_URL}/01/{GTIN}/21/{s}"
    spellings = [f"/01/{GTIN}/21/{s}", f"/01/{GTIN}/21/{s}/", f"/gtin/{GTIN}/ser/{s}",
                 f"/01/{GTIN[1:]}/21/{s}", f"/shop/catalogue/01/{GTIN}/21/{s}",
                 f"/01/{GTIN}/21/{quote(s)}"]
    for path in spellings:
        r = client.get(path, params={"linkType": "linkset"})
        assert r.status_code == 200, (path, r.text)
        assert r.json()["linkset"][0]["anchor"] == canonical, path
    # the anchor is the same identity for an independent parser (biip)
    found = {e.ai.ai: e.value for e in biip_parse(canonical).gs1_digital_link_uri.element_strings}
    assert found == {"01": GTIN, "21": s}
    # data attributes in the query stay in the identity
    r = client.get(f"/01/{GTIN}/21/{s}?17=261231&linkType=linkset")
    assert r.json()["linkset"][0]["anchor"] == canonical + "?17=261231"


def test_product_level_uris(site):
    _, client = site
    r = client.get(f"/01/{GTIN}", headers=NOT_BROWSER)
    assert r.status_code == 307 and r.headers["location"] == LINKS[0]["href"]
    r = client.get(f"/01/{GTIN}?linkType=linkset")
    check_linkset(r.json(), f"{BASE_URL}/01/{GTIN}")
    r = client.head(f"/01/{GTIN}", headers=NOT_BROWSER)
    assert r.status_code == 307


@pytest.mark.parametrize("path, words", [
    (f"/01/{GTIN[:-1]}5/21/1", "check digit"),
    (f"/01/{GTIN}/21/1/10/L1", "must come before"),
    ("/01/abc", "GTIN"),
    (f"/01/{GTIN}/17/261231", "query"),
    (f"/01/{GTIN}/21/1?17=261399", "17"),
    (f"/01/{GTIN}/21/", "no value"),
    (f"/01/{GTIN}/21/%zz", "%"),
])
def test_what_the_standard_refuses_is_a_readable_400(site, path, words):
    _, client = site
    r = client.get(path, headers=NOT_BROWSER)
    assert r.status_code == 400, (path, r.status_code, r.text)
    err = r.json()["error"]
    assert err["reason"] == "invalid_digital_link" and words in err["message"], err
    page = client.get(path, headers=BROWSER)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "Traceback" not in page.text


def test_paths_naming_no_key_are_404(site):
    _, client = site
    for path in ("/nothing", "/favicon.png", "/wp-admin/login.php", "/shop/catalogue"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
    assert client.get("/nothing", headers={"accept": "application/json"}).json()["error"]["status"] == 404


# -- the resolver description, CORS, methods ---------------------------------------------------
def test_resolver_description(site):
    _, client = site
    r = client.get("/.well-known/gs1resolver", headers={"origin": "https://app.example.org"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    # the standard's description-file schema: these members, these types
    assert doc["resolverRoot"] == BASE_URL and isinstance(doc["name"], str) and doc["name"]
    assert doc["supportedPrimaryKeys"] == ["all"]
    assert doc["supportedLinkType"] == [{"namespace": "https://gs1.org/voc/", "prefix": "gs1:"}]
    assert doc["linkTypeDefaultCanBeLinkset"] is True
    assert r.headers["access-control-allow-origin"] == "*"


def test_cors_head_and_options_on_the_resolver(site):
    _, client = site
    path = f"/01/{GTIN}"
    r = client.get(path, params={"linkType": "linkset"}, headers={"origin": "https://app.example.org"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "link" in r.headers["access-control-expose-headers"].lower()
    pre = client.options(path, headers={"origin": "https://app.example.org", "access-control-request-method": "GET"})
    assert pre.status_code == 200 and "GET" in pre.headers["access-control-allow-methods"]
    plain = client.options(path)
    assert plain.status_code == 204 and set(plain.headers["allow"].replace(" ", "").split(",")) == {
        "GET", "HEAD", "OPTIONS"}
    assert client.head(path, params={"linkType": "linkset"}).status_code == 200


# -- national codes and QR payloads at /c/ ---------------------------------------------------------
def test_national_codes_and_payloads_resolve_at_c(site):
    p, client = site
    vet, pesticide = p.national["cn-vet-24"][1], p.national["cn-pesticide-32"][1]
    scans = [p.national["cn-drug-20"][1], vet, pesticide,
             f"{vet}，兽用阿莫西林可溶性粉，兽药字(2015)010012345，某某动物药业有限公司，0571-88888888",
             f"https://www.icama.cn/q/{pesticide}?from=qr", p.gs1[6], f"(01){GTIN}(21){serial(p, 6)}"]
    for scan in scans:
        r = client.get("/c/" + quote(scan, safe=""), headers=BROWSER)
        assert r.status_code == 200, (scan, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
    r = client.get("/c", params={"code": p.national["cn-drug-20"][2]})
    assert r.status_code == 200 and p.national["cn-drug-20"][2] in r.text
    assert client.get("/c", follow_redirects=False).status_code == 303
