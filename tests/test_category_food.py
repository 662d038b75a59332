"""Food, farm produce and imported food end to end (issue 15): GS1 trade items issued by lot;
the lot's events captured as EPCIS (a farm produce certificate with its organic code, a
packaged food lot under its SC licence, an imported milk powder lot's customs clearance
with declaration and certificate numbers, importer and filing, the importer's sales and a
market's resale as TransactionEvents); the numbers checked (bad ones refused before any
event is built); events found by declaration number; the public page's section over HTTP
(what the public sees and what it does not: quantities sold, sales record numbers)."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tracecode
from tracecode.app.caller import LOCAL
from tracecode.app.service import Service
from tracecode.categories import farm_produce as fp
from tracecode.categories import food_lots
from tracecode.categories import imported_food as im
from tracecode.categories import packaged_food as pf
from tracecode.store.port import EpcisQuery


def gtin14(body13: str) -> str:
    s = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body13)))
    return body13 + str((10 - s % 10) % 10)


MILK = gtin14("0930012345678")      # an Australian milk powder (GS1 Australia prefix 93)
OIL = gtin14("0690123400015")       # a Chinese edible oil
APPLES = gtin14("0690123400022")    # a farm's apples
DECL, CERT, FILING = "310120261001234567", "310000126000123", "IMP3100012345"
SC = "SC10231011400123"


def _doc(events) -> bytes:
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                                    {"tc": "urn:tracecode:ext:"}],
                       "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-01T00:00:00Z",
                       "epcisBody": {"eventList": events}}, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("food") / "data")
    codes = {}
    for gtin, lot in ((MILK, "L2611"), (OIL, "B20261020"), (APPLES, "F-1102")):
        batch = d.issue("gs1-sgtin", {"gtin": gtin}, 50, lot=lot)
        codes[gtin] = [c.decode() for c in batch.codes()]
        assert d.apply([{"id": f"commission-{gtin}", "action": "commission", "codes": codes[gtin]}])[0]["ok"]
    svc = Service(d, audit_path=d.path / "audit.log")
    events = [
        im.clearance_event(MILK, "L2611", declaration=DECL, certificate=CERT, importer="Shanghai Ausmilk Trading",
                           filing=FILING, quantity=1200, time="2026-11-02T10:00:00+08:00"),
        im.sale_event(MILK, "L2611", seller="Shanghai Ausmilk Trading", buyer="Minhang Wholesale Market",
                      record="SR-2026-000417", quantity=600, time="2026-11-05T09:00:00+08:00"),
        im.sale_event(MILK, "L2611", seller="Minhang Wholesale Market", buyer="Lianhua Supermarket Xinzhuang",
                      record="MWM-88121", quantity=48, time="2026-11-06T07:30:00+08:00"),
        pf.production_event(OIL, "B20261020", sc=SC, producer="Jiangsu Golden Seed Oils", quantity=5000,
                            time="2026-10-20T08:00:00+08:00", expiry="2028-04-19"),
        fp.certificate_event(APPLES, "F-1102", producer="Qixia Hongfu Orchard", product="Fuji apples",
                             quantity=850, uom="KGM", date="2026-11-02",
                             commitments=["no_banned_drugs", "withdrawal_periods_kept"],
                             organic="12326012345678901", time="2026-11-02T06:00:00+08:00"),
    ]
    job = svc.capture(LOCAL, _doc(events), "application/ld+json")
    assert job["state"] == "success", job["errors"]
    yield d, svc, codes
    svc.close()
    d.close()


# -- the numbers ---------------------------------------------------------------------------------

def test_sc_licence_structure_region_and_check_option():
    got = pf.sc_licence("sc 1023 1011 4001 23")
    assert got["number"] == SC and got["category"] == "102" and got["province"] == "31"
    assert not got["check_verified"]                       # the algorithm is unverified: data
    for bad in ("SC1023101140012", "SC30231011400123", "SC10299011400123", "XK10231011400123", "SC1023101140012X"):
        with pytest.raises(pf.FoodError):
            pf.sc_licence(bad)
    body = SC[2:15]
    good = "SC" + body + pf._mod10(body)
    assert pf.sc_licence(good, check="mod10")["check_verified"]
    with pytest.raises(pf.FoodError, match="check digit"):
        pf.sc_licence("SC" + body + str((int(pf._mod10(body)) + 1) % 10), check="mod10")


@given(st.text(max_size=30))
def test_sc_licence_never_fails_but_with_its_error(text):
    try:
        got = pf.sc_licence(text)
    except pf.FoodError:
        return
    assert got["number"].startswith("SC") and len(got["number"]) == 16


@given(st.from_regex(r"[0-9]{13}", fullmatch=True))
def test_mod10_catches_every_single_digit_error(body):
    check = pf._mod10(body)
    for i in range(13):
        wrong = body[:i] + str((int(body[i]) + 1) % 10) + body[i + 1:]
        assert pf._mod10(wrong) != check


def test_import_and_certificate_numbers_are_checked_before_any_event():
    with pytest.raises(pf.FoodError, match="declaration"):
        im.clearance_event(MILK, "L1", declaration="3101202610012345", certificate=CERT, importer="x",
                           filing=FILING, quantity=1, time="2026-11-01T00:00:00Z")
    with pytest.raises(pf.FoodError, match="certificate"):
        im.clearance_event(MILK, "L1", declaration=DECL, certificate="31000012600012", importer="x",
                           filing=FILING, quantity=1, time="2026-11-01T00:00:00Z")
    with pytest.raises(pf.FoodError, match="organic"):
        fp.organic_code("1232601234567890")
    with pytest.raises(pf.FoodError, match="commitments"):
        fp.certificate_event(APPLES, "F", producer="p", product="apples", quantity=1, uom="KGM",
                             date="2026-11-02", commitments=["trust me"], time="2026-11-02T00:00:00Z")
    with pytest.raises(pf.FoodError, match="GTIN"):
        im.lot_class("123", "L")


# -- the lots' events ------------------------------------------------------------------------------

def test_the_lot_record_and_the_chain(world):
    d, _, _ = world
    events, more = food_lots.lot_events(d.index.store, im.lot_class(MILK, "L2611"))
    rec = food_lots.lot_record(events)
    assert not more and rec["clearance"] == {"declaration": DECL, "certificate": CERT,
                                             "importer": "Shanghai Ausmilk Trading", "filing": FILING,
                                             "time": "2026-11-02T10:00:00+08:00"}
    assert [(h["from"], h["to"]) for h in rec["chain"]] == [
        ("Shanghai Ausmilk Trading", "Minhang Wholesale Market"),
        ("Minhang Wholesale Market", "Lianhua Supermarket Xinzhuang")]


def test_events_are_found_by_declaration_number(world):
    _, svc, _ = world
    q = EpcisQuery(refs=(("transaction", (("urn:tracecode:btt:customs_declaration",
                                           f"urn:tracecode:bt:customs_declaration:{DECL}"),)),))
    events, _ = svc.epcis.query_events(LOCAL, q)
    assert len(events) == 1 and events[0]["tc:importer"] == "Shanghai Ausmilk Trading"


def test_the_sections(world):
    d, svc, codes = world
    milk = food_lots.section(svc, codes[MILK][3], "en")
    rows = dict(milk["rows"])
    assert rows["Customs declaration"] == DECL and rows["Inspection & quarantine certificate"] == CERT
    assert rows["Importer"] == "Shanghai Ausmilk Trading" and "Lianhua Supermarket Xinzhuang" in rows["Sales chain"]
    assert "SR-2026-000417" not in json.dumps(milk) and "600" not in rows["Sales chain"]
    oil = dict(food_lots.section(svc, codes[OIL][0], "en")["rows"])
    assert oil["SC production licence"].startswith(SC) and "not verified" in oil["SC production licence"]
    apples = dict(food_lots.section(svc, codes[APPLES][0], "zh")["rows"])
    assert apples["生产者"] == "Qixia Hongfu Orchard" and apples["有机码"] == "12326012345678901"
    other = d.issue("gs1-sgtin", {"gtin": gtin14("0690123400039")}, 1, lot="NONE").codes()[0].decode()
    assert food_lots.section(svc, other, "en") is None          # a lot without food events: no section


def test_the_public_page(world):
    httpx = pytest.importorskip("httpx")
    from tests.web_server import serving
    from tracecode.web.app import create_app
    d, _, codes = world
    svc = Service(d, audit_path=d.path / "web-audit.log")
    with serving(create_app(svc, base_url="https://trace.example")) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        page = client.get(f"/c/{codes[MILK][7]}", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        html = page.text
        assert 'id="section-gs1_trade"' in html and DECL in html and CERT in html and FILING in html
        assert "Shanghai Ausmilk Trading" in html and "SR-2026-000417" not in html
        zh = client.get(f"/c/{codes[MILK][7]}", headers={"Accept-Language": "zh"}).text
        assert "报关单号" in zh
    svc.close()


def test_a_bad_certificate_is_refused_and_one_stored_never_breaks_the_page(world, monkeypatch):
    # review: a string tc:certificate was stored, then /c/CODE was 500 for every code of the lot
    httpx = pytest.importorskip("httpx")
    from tests.web_server import serving
    from tracecode.web.app import create_app
    d, svc, _ = world
    pears = gtin14("0690123400053")
    codes = [c.decode() for c in d.issue("gs1-sgtin", {"gtin": pears}, 3, lot="P-1").codes()]
    good = fp.certificate_event(pears, "P-1", producer="Laiyang Pear Farm", product="pears", quantity=10, uom="KGM",
                                date="2026-11-02", commitments=["no_banned_drugs"], time="2026-11-02T06:00:00+08:00")
    bad = dict(good, **{"tc:certificate": "just a string"})
    job = svc.capture(LOCAL, _doc([bad]), "application/ld+json")
    assert job["state"] == "failure" and job["counts"]["stored"] == 0
    assert [e["pointer"] for e in job["errors"]] == ["/epcisBody/eventList/0/tc:certificate"]
    worse = dict(good, **{"tc:certificate": {**good["tc:certificate"], "quantity": -1, "commitments": ["x"]}})
    assert [w for w, _ in food_lots.problems(worse)] == ["/tc:certificate/quantity", "/tc:certificate/commitments"]
    assert [w for w, _ in food_lots.problems(dict(good, **{"tc:organic": 12}))] == ["/tc:organic"]
    # records stored before capture checked them: skipped and said, never a 500
    monkeypatch.setattr(food_lots, "problems", lambda ev: [])
    assert svc.capture(LOCAL, _doc([bad, dict(worse, eventTime="2026-11-02T07:00:00+08:00")]),
                       "application/ld+json")["counts"]["stored"] == 2
    section = food_lots.section(svc, codes[0], "en")
    assert section["tone"] == "warn" and "2 stored record(s)" in section["notes"][0]
    page_svc = Service(d, audit_path=d.path / "web-audit-bad.log")
    with serving(create_app(page_svc, base_url="https://trace.example")) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        page = client.get(f"/c/{codes[1]}", headers={"Accept-Language": "en"})
        assert page.status_code == 200 and "could not be read" in page.text
    page_svc.close()


# -- meat and vegetable circulation (SB/T 10680, layouts assumed) ------------------------------------

PORK = gtin14("0690123400046")
SLAUGHTER, MARKET, SUPER = "510703101", "510703201", "510703402"     # Mianyang nodes: kinds 1, 2, 4


def test_circulation_codes_are_checked():
    assert im.circulation(MARKET, MARKET + "0042", "0101") == {
        "node": MARKET, "node_kind": "wholesale market", "operator": MARKET + "0042",
        "commodity": "0101", "commodity_name": "pork (猪肉)"}
    for bad in ({"node": "51070320"}, {"node": "510703901"}, {"node": MARKET, "operator": SUPER + "0001"},
                {"commodity": "9999"}):
        with pytest.raises(pf.FoodError):
            im.circulation(**bad)


def test_a_receipt_code_shows_the_chain(world):
    """Pork cuts from the slaughterhouse through the wholesale market to a supermarket: the
    code printed on the shopper's receipt (one of the lot's codes) shows every hop and node."""
    d, svc, _ = world
    batch = d.issue("gs1-sgtin", {"gtin": PORK}, 20, lot="CUT-1121")
    receipt = batch.codes()[5].decode()
    hops = [("Mianyang Fresh Meat Slaughterhouse", "Gaoshuiqiao Wholesale Market", SLAUGHTER, "R-1"),
            ("Gaoshuiqiao Wholesale Market", "Hongqi Supermarket Fucheng", MARKET, "R-2")]
    events = [im.sale_event(PORK, "CUT-1121", seller=a, buyer=b, record=r, quantity=300 - 200 * i, uom="KGM",
                            time=f"2026-11-2{1 + i}T05:00:00+08:00", node=n, operator=n + "0007", commodity="0101")
              for i, (a, b, n, r) in enumerate(hops)]
    job = svc.capture(LOCAL, _doc(events), "application/ld+json")
    assert job["state"] == "success", job["errors"]
    rows = dict(food_lots.section(svc, receipt, "en")["rows"])
    chain = rows["Sales chain"]
    assert chain.index("Mianyang Fresh Meat Slaughterhouse") < chain.index("Hongqi Supermarket Fucheng")
    assert f"slaughterhouse {SLAUGHTER}" in chain and f"wholesale market {MARKET}" in chain
    assert rows["Commodity"] == "pork (猪肉)" and "R-1" not in chain


@pytest.mark.parametrize("backend", ["lmdb", "postgres"])
def test_a_sale_declared_erroneous_leaves_the_lot_record(backend, request, tmp_path):
    """An event declared erroneous (EPCIS errorDeclaration) and its declaration say nothing on
    the lot's page; the corrective sale takes its place."""
    store = request.getfixturevalue("pg_dsn") if backend == "postgres" else None
    d = tracecode.init(tmp_path / "data", **({"store": store} if store else {}))
    svc = Service(d, audit_path=d.path / "audit.log")
    try:
        wrong = im.sale_event(MILK, "L2611", seller="Shanghai Ausmilk Trading", buyer="Wrong Buyer Ltd",
                              record="SR-1", quantity=600, time="2026-11-05T09:00:00+08:00")
        right = im.sale_event(MILK, "L2611", seller="Shanghai Ausmilk Trading", buyer="Minhang Wholesale Market",
                              record="SR-2", quantity=600, time="2026-11-05T10:00:00+08:00")
        said = {**wrong, "errorDeclaration": {"declarationTime": "2026-11-06T08:00:00+08:00",
                                              "reason": "incorrect_data"}}
        for doc in ([wrong], [said, right]):
            job = svc.capture(LOCAL, _doc(doc), "application/ld+json")
            assert job["state"] == "success", job["errors"]
        events, _ = food_lots.lot_events(d.index.store, im.lot_class(MILK, "L2611"))
        assert [h["to"] for h in food_lots.lot_record(events)["chain"]] == ["Minhang Wholesale Market"]
    finally:
        svc.close()
        d.close()
