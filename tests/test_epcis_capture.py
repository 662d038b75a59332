"""EPCIS capture and query on the application layer (tracecode.app.Service.capture,
capture_job, query_events) over a real data directory: GS1's example documents, events of
our own codes changing state, idempotent re-capture, rollback and proceed, rights.

GS1's schema and examples are read from ../shared/reference/epcis (not shipped: see its
README); without them these tests skip, naming the path, except under CI=true."""
import json
import uuid

import pytest
import tracecode
import tracecode.app.epcis
from tracecode.app import Caller, ProductRule, Refusal, Service
from tracecode.app.audit import read as read_audit
from tracecode.app.clients import Clients, ClientsFile
from tracecode.epcis import to_code
from tracecode.index.verdicts import Verdict
from tracecode.store.port import EpcisQuery
from epcis_reference import EXAMPLES, SCHEMA, need

GTIN, OTHER_GTIN = "09506000134352", "09506000134376"
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]



def caller(name, *roles, products=()):
    return Caller(name, frozenset(roles), tuple(ProductRule.parse(p) for p in products))


ADMIN = caller("platform", "admin")
LINE = caller("line-3", "issuer", products=[f"gs1-sgtin:gtin={GTIN}"])
OTHER = caller("line-9", "issuer", products=[f"gs1-sgtin:gtin={OTHER_GTIN}"])
SCANNER = caller("pda-7", "scanner")
REGULATOR = caller("nmpa", "regulator")


@pytest.fixture
def svc(tmp_path):
    need(SCHEMA)
    tracecode.init(tmp_path / "data").close()
    d = tracecode.open(tmp_path / "data")
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    clients.add("line-3", ["issuer"], [f"gs1-sgtin:gtin={GTIN}"])
    clients.add("line-9", ["issuer"], [f"gs1-sgtin:gtin={OTHER_GTIN}"])
    s = Service(d, Clients(tmp_path / "clients.toml"))
    yield s
    s.close()
    d.close()


def codes(svc, n, gtin=GTIN):
    """n codes issued for a GTIN, as (GS1 Digital Link EPC, element string)."""
    b = svc.dd.issue("gs1-sgtin", {"gtin": gtin}, n)
    hri = [c.decode() for c in b.codes("hri")]
    return [f"https://id.gs1.org/01/{c[4:18]}/21/{c[22:]}" for c in hri], hri


def event(kind="ObjectEvent", *, epcs=(), action="ADD", step="commissioning", disp="active",
          time="2026-12-01T08:00:00.000+08:00", **more):
    ev = {"type": kind, "eventTime": time, "eventTimeZoneOffset": "+08:00", "action": action,
          "bizStep": step, "disposition": disp, "eventID": f"urn:uuid:{uuid.uuid4()}",
          "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"}}
    if kind == "ObjectEvent":
        ev["epcList"] = list(epcs)
    ev.update(more)
    return ev


def document(*events) -> bytes:
    return json.dumps({"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00+08:00",
                       "epcisBody": {"eventList": list(events)}}).encode()


def verdict(svc, code):
    return svc.dd.verify(code, record=False).verdict


# -- GS1's examples ------------------------------------------------------------------------
def examples():
    return sorted(EXAMPLES.glob("*.json*")) if EXAMPLES.is_dir() else []


@pytest.mark.parametrize("path", examples() or [EXAMPLES / "(none)"], ids=lambda p: p.name)
def test_every_gs1_example_is_captured_queried_back_and_idempotent(svc, path):
    body = need(path).read_bytes()
    job = svc.capture(ADMIN, body, "application/ld+json")
    n = job["counts"]["events"]
    assert job["state"] == "success", job["errors"]
    assert n >= 1 and job["counts"]["stored"] == n and job["errors"] == []
    assert svc.capture_job(ADMIN, job["id"]) == job
    got, _ = svc.query_events(REGULATOR, EpcisQuery(), per_page=1000)
    assert len(got) == n and all("recordTime" in e for e in got)
    again = svc.capture(ADMIN, body, "application/ld+json")   # the same events: stored once
    assert again["state"] == "success" and again["counts"]["stored"] == 0
    assert again["counts"]["already_stored"] == n
    assert len(svc.query_events(ADMIN, EpcisQuery(), per_page=1000)[0]) == n


# -- our own codes -------------------------------------------------------------------------
def test_commission_pack_and_ship_change_the_state_of_our_codes(svc):
    epcs, hri = codes(svc, 3)
    assert verdict(svc, hri[0]) == Verdict.NOT_COMMISSIONED
    sscc = "urn:epc:id:sscc:9506000.1000000001"
    commission = event(epcs=epcs)
    pack = event("AggregationEvent", parentID=sscc, childEPCs=epcs[:2], step="packing",
                 disp="in_progress", time="2026-12-01T09:00:00.000+08:00")
    ship = event(epcs=[sscc], action="OBSERVE", step="shipping", disp="in_transit",
                 time="2026-12-01T10:00:00.000+08:00")
    job = svc.capture(LINE, document(commission, pack, ship), "application/json")
    assert job["state"] == "success", job["errors"]
    assert job["counts"] == {"events": 3, "stored": 3, "already_stored": 0, "applied": 3, "failed": 0}
    assert verdict(svc, hri[2]) == Verdict.GENUINE            # commissioned, not on the pallet
    bare = [c.replace("(01)", "").replace("(21)", "") for c in hri[:2]]
    assert sorted(svc.dd.contents(to_code(sscc))) == sorted(bare)
    history = svc.dd.history(hri[0], scans=False)
    assert [e["action"] for e in history] == ["commission", "pack", "ship"]
    stored = svc.query_events(LINE, EpcisQuery(epcs=(epcs[0],)))[0]
    assert [e["eventID"] for e in stored] == [commission["eventID"], pack["eventID"]]
    assert stored[0]["readPoint"] == commission["readPoint"]   # the event as sent, kept whole
    urn = f"urn:epc:id:sgtin:9506000.013435.{epcs[0].rsplit('/', 1)[1]}"   # the same code, spelled as a URN
    assert svc.query_events(LINE, EpcisQuery(epcs=(urn,)))[0] == stored
    parent = svc.query_events(LINE, EpcisQuery(epcs=("https://id.gs1.org/00/195060000000000012",),
                                                epc_roles=("parent",)))[0]
    assert [e["eventID"] for e in parent] == [pack["eventID"]]

    again = svc.capture(LINE, document(commission, pack, ship), "application/json")
    assert again["state"] == "success" and again["counts"]["already_stored"] == 3
    assert again["counts"]["applied"] == 0
    assert [e["action"] for e in svc.dd.history(hri[0], scans=False)] == ["commission", "pack", "ship"]


def test_an_event_without_event_id_is_known_by_its_gs1_hash(svc):
    epcs, hri = codes(svc, 1)
    ev = event(epcs=epcs)
    del ev["eventID"]
    first = svc.capture(LINE, document(ev), "application/ld+json")
    assert first["state"] == "success", first["errors"]
    again = svc.capture(LINE, document(ev), "application/ld+json")
    assert again["counts"]["already_stored"] == 1 and again["counts"]["stored"] == 0
    [stored] = svc.query_events(LINE, EpcisQuery(epcs=(epcs[0],)))[0]
    assert "eventID" not in stored   # kept as sent; the store knows it by its hash


# -- one bad event in the middle -----------------------------------------------------------
@pytest.mark.parametrize("bad", ["schema", "illegal", "cbv"])
def test_rollback_stores_nothing_proceed_stores_the_good_ones(svc, bad):
    epcs, hri = codes(svc, 3)
    if bad == "schema":
        middle = event(epcs=[epcs[1]])
        del middle["eventTime"]
    elif bad == "illegal":   # shipping a code never commissioned
        middle = event(epcs=[epcs[1]], action="OBSERVE", step="shipping", disp="in_transit")
    else:                    # an AggregationEvent ADD without its parent
        middle = event("AggregationEvent", childEPCs=[epcs[1]], step="packing", disp="in_progress")
    events = [event(epcs=[epcs[0]]), middle, event(epcs=[epcs[2]])]

    job = svc.capture(LINE, document(*events), "application/json")   # rollback by default
    assert job["state"] == "failure" and job["behaviour"] == "rollback"
    assert job["counts"]["stored"] == 0 and job["counts"]["failed"] == 1
    [err] = job["errors"]
    assert err["pointer"].startswith("/epcisBody/eventList/1"), err
    assert verdict(svc, hri[0]) == verdict(svc, hri[2]) == Verdict.NOT_COMMISSIONED
    assert svc.query_events(LINE, EpcisQuery())[0] == []

    job = svc.capture(LINE, document(*events), "application/json", behaviour="proceed")
    assert job["state"] == "failure" and job["counts"]["stored"] == 2, job
    assert [e["pointer"][:22] for e in job["errors"]] == ["/epcisBody/eventList/1"]
    assert verdict(svc, hri[0]) == verdict(svc, hri[2]) == Verdict.GENUINE
    assert verdict(svc, hri[1]) == Verdict.NOT_COMMISSIONED
    ids = {e["eventID"] for e in svc.query_events(LINE, EpcisQuery())[0]}
    assert ids == {events[0]["eventID"], events[2]["eventID"]}


def test_a_document_that_is_no_epcis_document_is_a_failed_job_saying_where(svc):
    job = svc.capture(LINE, b'{"type": "EPCISDocument"}', "application/json")
    assert job["state"] == "failure" and job["errors"][0]["pointer"] == "/epcisBody"
    job = svc.capture(LINE, b"line 1", "application/json")
    assert job["state"] == "failure" and "JSON" in job["errors"][0]["error"]
    assert svc.capture_job(LINE, job["id"])["state"] == "failure"


# -- rights --------------------------------------------------------------------------------
def test_an_issuer_captures_only_its_products_codes(svc):
    mine, mine_hri = codes(svc, 1)
    theirs, theirs_hri = codes(svc, 1, OTHER_GTIN)
    job = svc.capture(OTHER, document(event(epcs=theirs), event(epcs=mine)), "application/json",
                      behaviour="proceed")
    assert job["counts"]["stored"] == 1
    [err] = job["errors"]
    assert (err["pointer"], err["reason"]) == ("/epcisBody/eventList/1", "permission_denied")
    assert verdict(svc, mine_hri[0]) == Verdict.NOT_COMMISSIONED
    assert verdict(svc, theirs_hri[0]) == Verdict.GENUINE
    with pytest.raises(Refusal) as info:
        svc.capture(SCANNER, document(event(epcs=mine)), "application/json")
    assert info.value.reason == "permission_denied"
    with pytest.raises(Refusal) as info:   # another client's job is not said to exist
        svc.capture_job(LINE, job["id"])
    assert info.value.reason == "not_found"
    assert svc.capture_job(REGULATOR, job["id"])["id"] == job["id"]
    audit = [r for r in read_audit(svc.dd.path / "audit.log") if r.get("event", "").startswith("capture")]
    assert [r["event"] for r in audit][-2:] == ["capture_intent", "capture"]


def test_an_issuer_captures_only_classes_of_its_gtins(svc):
    lot = {"epcClass": "urn:epc:class:lgtin:9506000.013435.L1", "quantity": 20, "uom": "KGM"}
    other = {"epcClass": "urn:epc:class:lgtin:9506000.013437.L1", "quantity": 5}
    receive = dict(action="OBSERVE", step="receiving", disp="in_progress")
    job = svc.capture(LINE, document(event(quantityList=[lot], **receive), event(quantityList=[other], **receive)),
                      "application/json", behaviour="proceed")
    assert job["counts"]["stored"] == 1, job["errors"]
    assert [(e["pointer"], e["reason"]) for e in job["errors"]] == [("/epcisBody/eventList/1", "permission_denied")]
    [stored] = svc.query_events(LINE, EpcisQuery(epcs=(lot["epcClass"],), epc_roles=("class",)))[0]
    assert stored["quantityList"] == [lot]


def test_a_document_over_the_event_limit_is_refused_whole(svc, monkeypatch):
    monkeypatch.setattr(tracecode.app.epcis, "MAX_EVENTS", 2)
    epcs, _ = codes(svc, 3)
    job = svc.capture(LINE, document(*[event(epcs=[e]) for e in epcs]), "application/json", behaviour="proceed")
    assert job["state"] == "failure" and job["counts"]["stored"] == 0
    assert job["errors"][0]["reason"] == "too_many_events" and "split" in job["errors"][0]["error"]


def test_capture_refuses_unknown_behaviours_and_versions(svc):
    for kw in ({"behaviour": "maybe"}, {"epcis_version": "1.2"}, {"cbv_version": "1.0"}):
        with pytest.raises(Refusal) as info:
            svc.capture(LINE, document(), "application/json", **kw)
        assert info.value.reason == "invalid_argument"


# -- query -----------------------------------------------------------------------------------
def test_query_by_epc_time_and_type_with_paging_and_rights(svc):
    mine, _ = codes(svc, 6)
    theirs, _ = codes(svc, 1, OTHER_GTIN)
    evs = [event(epcs=[e], time=f"2026-12-01T0{i}:00:00.000+08:00") for i, e in enumerate(mine)]
    evs.append(event(epcs=mine, action="OBSERVE", step="shipping", disp="in_transit",
                     time="2026-12-01T07:00:00.000+08:00"))
    assert svc.capture(LINE, document(*evs), "application/json")["state"] == "success"
    assert svc.capture(OTHER, document(event(epcs=theirs)), "application/json")["state"] == "success"

    def all_pages(who, query, per_page):
        out, token = [], None
        while True:
            got, token = svc.query_events(who, query, token, per_page)
            out += got
            if token is None:
                return out
    by_epc = all_pages(LINE, EpcisQuery(epcs=(mine[2],)), 1)
    assert [e["eventID"] for e in by_epc] == [evs[2]["eventID"], evs[6]["eventID"]]
    t0 = tracecode.app.epcis.instant("2026-12-01T01:00:00+08:00")
    t1 = tracecode.app.epcis.instant("2026-12-01T04:00:00+08:00")
    in_range = all_pages(LINE, EpcisQuery(ge_event_time=t0, lt_event_time=t1), 2)
    assert [e["eventID"] for e in in_range] == [e["eventID"] for e in evs[1:4]]
    shipped = all_pages(LINE, EpcisQuery(biz_steps=("shipping",), event_types=("ObjectEvent",)), 5)
    assert [e["eventID"] for e in shipped] == [evs[6]["eventID"]]
    assert len(all_pages(LINE, EpcisQuery(), 3)) == 7           # not line-9's event
    assert len(all_pages(OTHER, EpcisQuery(), 3)) == 1
    assert len(all_pages(REGULATOR, EpcisQuery(), 3)) == 8
    for who, reason in ((SCANNER, "permission_denied"),):
        with pytest.raises(Refusal) as info:
            svc.query_events(who, EpcisQuery())
        assert info.value.reason == reason
    with pytest.raises(Refusal) as info:
        svc.query_events(LINE, EpcisQuery(), "bogus")
    assert info.value.reason == "invalid_argument"


def test_an_admin_captures_national_codes_by_their_uri_and_partners_events_unapplied(svc):
    b = svc.dd.issue("cn-drug-20", {"drug_id": "8177322"}, 2)
    national = [c.decode() for c in b.codes()]
    ours = event(epcs=[f"https://trace.example.gov.cn/c/{c}" for c in national])
    partners = event(epcs=["urn:epc:id:sgtin:0614141.107346.2017"])   # never issued here
    job = svc.capture(ADMIN, document(ours, partners), "application/ld+json")
    assert job["state"] == "success", job["errors"]
    assert job["counts"]["stored"] == 2 and job["counts"]["applied"] == 1   # the partner's: stored only
    assert verdict(svc, national[1]) == Verdict.GENUINE
    assert [e["action"] for e in svc.dd.history(national[0], scans=False)] == ["commission"]


def test_the_index_writes_nothing_of_a_call_whose_also_raises(svc):
    _, hri = codes(svc, 1)

    def also(view, results):
        assert results[0]["ok"]
        raise RuntimeError("the EPCIS part failed")
    with pytest.raises(RuntimeError):
        svc.dd.apply([{"id": "c1", "action": "commission", "codes": hri}], also=also)
    assert verdict(svc, hri[0]) == Verdict.NOT_COMMISSIONED


def test_events_past_the_schemas_problem_bound_are_still_validated(svc, monkeypatch):
    from tracecode.epcis import schema
    monkeypatch.setattr(schema, "MAX_PROBLEMS", 1)   # validate() stops after the first
    epcs, hri = codes(svc, 3)
    events = [event(epcs=[e]) for e in epcs]
    del events[0]["eventTime"], events[2]["eventTime"]
    job = svc.capture(LINE, document(*events), "application/json", behaviour="proceed")
    assert job["counts"]["stored"] == 1
    assert sorted({e["pointer"][:22] for e in job["errors"]}) == ["/epcisBody/eventList/0",
                                                                  "/epcisBody/eventList/2"]
    assert verdict(svc, hri[2]) == Verdict.NOT_COMMISSIONED


def test_an_error_declaration_is_stored_beside_the_event_it_declares(svc):
    epcs, hri = codes(svc, 1)
    wrong = event(epcs=epcs)
    assert svc.capture(LINE, document(wrong), "application/json")["state"] == "success"
    declared = {**wrong, "errorDeclaration": {"declarationTime": "2026-12-02T08:00:00.000+08:00",
                                              "reason": "incorrect_data"}}
    job = svc.capture(LINE, document(declared), "application/json")
    assert job["state"] == "success" and job["counts"]["stored"] == 1, job
    got = svc.query_events(LINE, EpcisQuery(epcs=(epcs[0],)))[0]
    assert [("errorDeclaration" in e) for e in got] == [False, True]
    assert verdict(svc, hri[0]) == Verdict.NOT_COMMISSIONED   # undone (tests/test_epcis_error_declaration.py)


def test_an_epcis_xml_document_is_captured_like_its_json(svc):
    epcs, hri = codes(svc, 2)
    urns = [f"urn:epc:id:sgtin:9506000.013435.{e.rsplit('/', 1)[1]}" for e in epcs]
    xml = ('<?xml version="1.0" encoding="UTF-8"?><epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
           'schemaVersion="2.0" creationDate="2026-12-01T08:00:00+08:00"><EPCISBody><EventList><ObjectEvent>'
           '<eventTime>2026-12-01T08:00:00.000+08:00</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>'
           f'<epcList>{"".join(f"<epc>{u}</epc>" for u in urns)}</epcList><action>ADD</action>'
           '<bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep><disposition>urn:epcglobal:cbv:disp:active'
           '</disposition></ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>')
    job = svc.capture(LINE, xml.encode(), "application/xml")
    assert job["state"] == "success" and job["counts"]["applied"] == 1, job["errors"]
    assert verdict(svc, hri[1]) == Verdict.GENUINE
    [stored] = svc.query_events(LINE, EpcisQuery(epcs=(epcs[0],)))[0]   # found by its Digital Link
    assert stored["epcList"] == urns
