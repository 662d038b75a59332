"""The rare-earth section of the public page (issue 15): a drum of metal carries a GS1 code
of its lot; its page shows the lot, the product (GTIN), the weight it was made with, the step
that made it, the enterprise and the lots it came from back to the ore, and nothing the
public may not see (quotas, checks, VAT invoice and customs declaration numbers, quantities
sold or exported, the capturing client). Real LMDB, real HTTP."""
import json

import pytest

import tracecode
from tracecode.app.caller import LOCAL
from tracecode.app.service import Service
from tracecode.categories import rare_earth as re_

GTIN = "06901234500011"
ENTERPRISE = "Baotou Northern Rare Earth Smelting Co."
PARTY = f"urn:tracecode:party:{ENTERPRISE.replace(' ', '%20')}"
INVOICE, DECLARATION = "1500194130-08812345", "020220261000654321"


def _lot(lot):
    return f"https://id.gs1.org/01/{GTIN}/10/{lot}"


def _q(lot, quantity, uom):
    return {"epcClass": _lot(lot), "quantity": quantity, "uom": uom}


def _ev(n, kind, month, **fields):
    return {"type": kind, "eventID": f"urn:uuid:00000000-0000-4000-8000-0000000156{n:02d}",
            "eventTime": f"2026-{month:02d}-10T09:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
            "sourceList": [{"type": "owning_party", "source": PARTY}], **fields}


def _bt(kind, number):
    return {"type": re_.TRANSACTIONS[kind]["type"], "bizTransaction": re_.transaction_id(kind, number)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("rare-earth-page") / "data")
    drums = [c.decode() for c in d.issue("gs1-sgtin", {"gtin": GTIN}, 5, lot="NDPR-2605").codes()]
    ore = [c.decode() for c in d.issue("gs1-sgtin", {"gtin": GTIN}, 2, lot="ORE-2603").codes()]
    other = [c.decode() for c in d.issue("gs1-sgtin", {"gtin": GTIN}, 2, lot="NONE-1").codes()]
    for i, codes in enumerate((drums, ore, other)):
        assert d.apply([{"id": f"c{i}", "action": "commission", "codes": codes}])[0]["ok"]
    svc = Service(d, audit_path=d.path / "audit.log")
    svc.quotas.set(LOCAL, ENTERPRISE, 2026, "mining", 100, "t")
    events = [
        _ev(1, "ObjectEvent", 3, action="ADD", bizStep=re_.STEPS["mining"], quantityList=[_q("ORE-2603", 60, "TNE")]),
        _ev(2, "TransformationEvent", 4, bizStep=re_.STEPS["separating"], inputQuantityList=[_q("ORE-2603", 60, "TNE")],
            outputQuantityList=[_q("OX-2604", 40_000, "KGM")]),
        _ev(3, "TransformationEvent", 5, bizStep=re_.STEPS["smelting"],
            inputQuantityList=[_q("OX-2604", 30, "TNE"), _q("OX-2599", 2_500, "KGM")],
            outputQuantityList=[_q("NDPR-2605", 31_250.5, "KGM")]),
        _ev(4, "ObjectEvent", 7, action="OBSERVE", bizStep="shipping", quantityList=[_q("NDPR-2605", 10, "TNE")],
            bizTransactionList=[_bt("vat_special_invoice", INVOICE)]),
        _ev(5, "ObjectEvent", 8, action="OBSERVE", bizStep=re_.STEPS["exporting"],
            quantityList=[_q("NDPR-2605", 7.25, "TNE")],
            bizTransactionList=[_bt("customs_export_declaration", DECLARATION)]),
    ]
    doc = json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                      "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-12-01T08:00:00Z",
                      "epcisBody": {"eventList": events}}).encode()
    job = svc.capture(LOCAL, doc, "application/ld+json")
    assert job["state"] == "success", job["errors"]
    yield d, svc, {"drum": drums, "ore": ore, "other": other}
    svc.close()
    d.close()


def test_lot_origin_walks_back_to_the_ore(world):
    d, _, _ = world
    got = re_.lot_origin(d.index.store, f"(01){GTIN}(10)NDPR-2605")
    assert got == {"lot": "NDPR-2605", "gtin": GTIN, "step": "smelting", "date": "2026-05-10", "kg": 31_250.5,
                   "enterprise": ENTERPRISE, "from": [("OX-2604", 30_000.0), ("OX-2599", 2_500.0)],
                   "chain": [("OX-2604", "separating"), ("ORE-2603", "mining")]}
    ore = re_.lot_origin(d.index.store, f"(01){GTIN}(10)ORE-2603")
    assert ore["step"] == "mining" and ore["kg"] == 60_000 and ore["from"] == [] and ore["chain"] == []
    assert re_.lot_origin(d.index.store, f"(01){GTIN}(10)NONE-1") is None


def test_the_section_in_both_languages(world):
    d, svc, codes = world
    en = re_.section(svc, codes["drum"][0], "en")
    rows = dict(en["rows"])
    assert en["category"] == "rare_earth" and en["verdict"] == "on_record"
    assert rows == {"Lot": "NDPR-2605", "Product (GTIN)": GTIN, "Weight": "31.250 t",
                    "Made by": "smelting · 2026-05-10", "Enterprise": ENTERPRISE,
                    "Made from lots": "OX-2604 (30.000 t), OX-2599 (2.500 t)",
                    "Origin": "NDPR-2605 ← OX-2604 (separation) ← ORE-2603 (mining)"}
    zh = dict(re_.section(svc, codes["drum"][0], "zh")["rows"])
    assert zh["生产环节"] == "金属冶炼 · 2026-05-10"
    assert re_.section(svc, codes["other"][0], "en") is None       # no rare-earth step made that lot


def test_the_public_page(world):
    httpx = pytest.importorskip("httpx")
    from tests.web_server import serving
    from tracecode.web.app import create_app
    d, svc, codes = world
    with serving(create_app(svc, base_url="https://trace.example")) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        page = client.get(f"/c/{codes['drum'][1]}", headers={"Accept-Language": "en"}).text
        assert 'id="section-rare_earth"' in page and 'data-verdict="on_record"' in page
        for shown in ("NDPR-2605", "31.250 t", ENTERPRISE, "OX-2604 (30.000 t)", "ORE-2603 (mining)"):
            assert shown in page, shown
        for hidden in (INVOICE, DECLARATION, "7.25", "7.250", "quota", "mass_balance"):
            assert hidden not in page, hidden
        zh = client.get(f"/c/{codes['drum'][1]}", headers={"Accept-Language": "zh"}).text
        assert "稀土产品追溯" in zh
        plain = client.get(f"/c/{codes['other'][0]}", headers={"Accept-Language": "en"}).text
        assert "section-rare_earth" not in plain and "section-gs1_trade" not in plain


@pytest.fixture(params=["lmdb", "postgres"])
def fresh(request, tmp_path):
    store = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    d = tracecode.init(tmp_path / "data", **({"store": store} if store else {}))
    drums = [c.decode() for c in d.issue("gs1-sgtin", {"gtin": GTIN}, 2, lot="NDPR-2605").codes()]
    assert d.apply([{"id": "c0", "action": "commission", "codes": drums}])[0]["ok"]
    svc = Service(d, audit_path=d.path / "audit.log")
    yield d, svc, drums
    svc.close()
    d.close()


def _capture(svc, *events):
    doc = json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                      "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-12-01T08:00:00Z",
                      "epcisBody": {"eventList": list(events)}}).encode()
    job = svc.capture(LOCAL, doc, "application/ld+json")
    assert job["state"] == "success", job["errors"]


def test_an_event_declared_erroneous_gives_way_to_its_corrective_event(fresh):
    d, svc, drums = fresh
    wrong = _ev(11, "ObjectEvent", 3, action="ADD", bizStep=re_.STEPS["mining"],
                quantityList=[_q("NDPR-2605", 999, "TNE")])
    _capture(svc, wrong)
    assert dict(re_.section(svc, drums[0], "en")["rows"])["Weight"] == "999.000 t"
    fix = _ev(12, "ObjectEvent", 4, action="ADD", bizStep=re_.STEPS["mining"], quantityList=[_q("NDPR-2605", 5, "TNE")])
    said = {**wrong, "errorDeclaration": {"declarationTime": "2026-04-01T08:00:00.000+08:00",
                                          "reason": "incorrect_data", "correctiveEventIDs": [fix["eventID"]]}}
    _capture(svc, said, fix)
    got = re_.lot_origin(d.index.store, f"(01){GTIN}(10)NDPR-2605")
    assert got["kg"] == 5_000 and got["date"] == "2026-04-10", got
    assert dict(re_.section(svc, drums[0], "en")["rows"])["Weight"] == "5.000 t"
    # declared erroneous with no corrective event: no rare-earth step made the lot any more
    _capture(svc, {**fix, "errorDeclaration": {"declarationTime": "2026-05-01T08:00:00.000+08:00",
                                               "reason": "incorrect_data"}})
    assert re_.lot_origin(d.index.store, f"(01){GTIN}(10)NDPR-2605") is None
