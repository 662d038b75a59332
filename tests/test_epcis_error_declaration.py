"""An EPCIS event captured again with an errorDeclaration undoes the state change tracecode's
lifecycle applied for it (index/undo.py through the application layer), when no later event
depends on it; else the declaration is refused with a per-event error naming the later event.
Each runs on a data directory over LMDB and over PostgreSQL (a real server)."""
from __future__ import annotations

import json
import uuid

import pytest

import tracecode
from tracecode.app import Caller, ProductRule, Service
from tracecode.app.audit import read as read_audit
from tracecode.app.clients import Clients, ClientsFile
from tracecode.index.verdicts import Verdict

from epcis_reference import SCHEMA, need

GTIN = "09506000134352"
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
LINE = Caller("line-3", frozenset({"issuer"}), (ProductRule.parse(f"gs1-sgtin:gtin={GTIN}"),))
REGULATOR = Caller("nmpa", frozenset({"regulator"}))
SSCC = "urn:epc:id:sscc:9506000.1000000001"


@pytest.fixture(params=["lmdb", "postgres"])
def svc(request, tmp_path):
    need(SCHEMA)
    store = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    tracecode.init(tmp_path / "data", **({"store": store} if store else {})).close()
    d = tracecode.open(tmp_path / "data")
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    clients.add("line-3", ["issuer"], [f"gs1-sgtin:gtin={GTIN}"])
    s = Service(d, Clients(tmp_path / "clients.toml"))
    yield s
    s.close()
    d.close()


def codes(svc, n):
    b = svc.dd.issue("gs1-sgtin", {"gtin": GTIN}, n)
    hri = [c.decode() for c in b.codes("hri")]
    return [f"https://id.gs1.org/01/{c[4:18]}/21/{c[22:]}" for c in hri], hri


def event(kind="ObjectEvent", *, epcs=(), action="ADD", step="commissioning", disp="active", minute=0, **more):
    ev = {"type": kind, "eventTime": f"2026-12-01T08:{minute:02d}:00.000+08:00", "eventTimeZoneOffset": "+08:00",
          "action": action, "bizStep": step, "disposition": disp, "eventID": f"urn:uuid:{uuid.uuid4()}"}
    if kind == "ObjectEvent":
        ev["epcList"] = list(epcs)
    ev.update(more)
    return ev


def declared(ev, reason="incorrect_data", corrective=()):
    return {**ev, "errorDeclaration": {"declarationTime": "2026-12-02T08:00:00.000+08:00", "reason": reason,
                                       **({"correctiveEventIDs": list(corrective)} if corrective else {})}}


def capture(svc, *events, who=LINE, behaviour="rollback"):
    body = json.dumps({"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00+08:00", "epcisBody": {"eventList": list(events)}})
    return svc.capture(who, body.encode(), "application/ld+json", behaviour=behaviour)


def ok(job):
    assert job["state"] == "success", job["errors"]
    return job


def verdict(svc, code):
    return svc.dd.verify(code, record=False).verdict


def test_a_commission_declared_erroneous_leaves_the_codes_not_commissioned(svc):
    epcs, hri = codes(svc, 3)
    commission = event(epcs=epcs)
    ok(capture(svc, commission))
    assert verdict(svc, hri[0]) == Verdict.GENUINE
    fix = event(epcs=epcs[:2], minute=30)
    job = ok(capture(svc, declared(commission, corrective=[fix["eventID"]])))
    assert job["undone"] == [{"event_id": commission["eventID"], "codes": 3}]
    assert {verdict(svc, c) for c in hri} == {Verdict.NOT_COMMISSIONED}
    # the erroneous event stays in the history, with its declaration beside it
    items, _ = svc.history(REGULATOR, hri[0])
    assert [i.get("action") for i in items if i["kind"] == "event"] == ["commission"]
    [said] = [i for i in items if i["kind"] == "error_declaration"]
    assert said["event_id"] == commission["eventID"] and said["corrective_event_ids"] == [fix["eventID"]]
    # the corrective event commissions what should have been
    ok(capture(svc, fix))
    assert [verdict(svc, c) for c in hri] == [Verdict.GENUINE, Verdict.GENUINE, Verdict.NOT_COMMISSIONED]
    # declared twice: stored once, nothing undone again
    again = ok(capture(svc, declared(commission, corrective=[fix["eventID"]])))
    assert again["counts"]["already_stored"] == 1 and "undone" not in again
    audit = [r for r in read_audit(svc.dd.path / "audit.log") if r.get("event") == "epcis_undo"]
    assert len(audit) == 1 and audit[0]["codes"] == 3 and audit[0]["event_id"] == commission["eventID"]


def test_a_ship_declared_erroneous_goes_back_to_the_state_before(svc):
    epcs, hri = codes(svc, 2)
    ship = event(epcs=epcs, action="OBSERVE", step="shipping", disp="in_transit", minute=10)
    ok(capture(svc, event(epcs=epcs), ship))
    ok(capture(svc, declared(ship)))
    # commissioned again: receiving is refused (only from shipped), shipping is allowed
    refused = capture(svc, event(epcs=epcs[:1], action="OBSERVE", step="receiving", disp="in_progress", minute=20))
    assert refused["state"] == "failure" and refused["errors"][0]["reason"] == "illegal_transition"
    ok(capture(svc, event(epcs=epcs, action="OBSERVE", step="shipping", disp="in_transit", minute=30)))
    assert verdict(svc, hri[1]) == Verdict.GENUINE
    # the history keeps the undone ship, marked; the public trail leaves it out
    from tracecode.app.caller import PUBLIC
    from tracecode.app.trail import trail
    items, _ = svc.history(REGULATOR, hri[0])
    assert [(i["action"], bool(i.get("undone"))) for i in items if i["kind"] == "event"] == [
        ("commission", False), ("ship", True), ("ship", False)]
    assert [s["action"] for s in trail(svc, PUBLIC, hri[0])] == ["commission", "ship"]
    # as EPCIS: the undone ship marked, and the document still GS1's schema's
    import jsonschema
    doc = svc.history_epcis(REGULATOR, hri[0])
    jsonschema.validate(doc, json.loads(need(SCHEMA).read_text()))
    assert [e.get("tracecode:undone", False) for e in doc["epcisBody"]["eventList"]] == [False, True, False]


def test_a_later_event_refuses_the_undo_naming_it_and_nothing_is_stored(svc):
    epcs, hri = codes(svc, 2)
    ship = event(epcs=epcs, action="OBSERVE", step="shipping", disp="in_transit", minute=10)
    receive = event(epcs=epcs[:1], action="OBSERVE", step="receiving", disp="in_progress", minute=20)
    ok(capture(svc, event(epcs=epcs), ship, receive))
    job = capture(svc, declared(ship))
    assert job["state"] == "failure" and job["counts"]["stored"] == 0
    [err] = job["errors"]
    assert err["reason"] == "illegal_transition" and receive["eventID"] in err["error"], err
    assert err["pointer"] == "/epcisBody/eventList/0"
    got, _ = svc.query_epcis(REGULATOR, {"EXISTS_errorDeclaration": ""})
    assert got == []   # the declaration refused is not stored
    # proceed: the good events of the document are stored, the refused declaration is not
    other = event(epcs=epcs[1:], action="OBSERVE", step="receiving", disp="in_progress", minute=40)
    job = capture(svc, declared(ship), other, behaviour="proceed")
    assert job["counts"]["stored"] == 1 and job["counts"]["failed"] == 1


def test_a_commission_followed_by_a_pack_is_not_undone(svc):
    epcs, _ = codes(svc, 2)
    commission = event(epcs=epcs)
    pack = event("AggregationEvent", parentID=SSCC, childEPCs=epcs, step="packing", disp="in_progress", minute=5)
    ok(capture(svc, commission, pack))
    job = capture(svc, declared(commission))
    assert job["state"] == "failure" and pack["eventID"] in job["errors"][0]["error"]
    # a pack is undone by its opposite event, not by a declaration
    job = capture(svc, declared(pack))
    assert job["state"] == "failure" and "unpack" in job["errors"][0]["error"]


def test_a_pallets_ship_is_undone_while_its_units_have_nothing_since(svc):
    epcs, hri = codes(svc, 2)
    pack = event("AggregationEvent", parentID=SSCC, childEPCs=epcs, step="packing", disp="in_progress", minute=5)
    ship = event(epcs=[SSCC], action="OBSERVE", step="shipping", disp="in_transit", minute=10)
    ok(capture(svc, event(epcs=epcs), pack, ship))
    ok(capture(svc, declared(ship)))
    # the pallet is alive (as packed) again: shipping it again is allowed, receiving it is not
    refused = capture(svc, event(epcs=[SSCC], action="OBSERVE", step="receiving", disp="in_progress", minute=15))
    assert refused["state"] == "failure"
    ok(capture(svc, event(epcs=[SSCC], action="OBSERVE", step="shipping", disp="in_transit", minute=20)))


def test_a_unit_event_after_its_pallets_ship_refuses_the_pallets_undo(svc):
    epcs, hri = codes(svc, 2)
    pack = event("AggregationEvent", parentID=SSCC, childEPCs=epcs, step="packing", disp="in_progress", minute=5)
    ship = event(epcs=[SSCC], action="OBSERVE", step="shipping", disp="in_transit", minute=10)
    recall = event(epcs=epcs[:1], action="OBSERVE", step="holding", disp="recalled", minute=20)
    ok(capture(svc, event(epcs=epcs), pack, ship, recall))
    job = capture(svc, declared(ship))
    assert job["state"] == "failure" and recall["eventID"] in job["errors"][0]["error"], job["errors"]


def transformation(inputs, outputs, minute):
    return {"type": "TransformationEvent", "eventID": f"urn:uuid:{uuid.uuid4()}",
            "eventTime": f"2026-12-01T08:{minute:02d}:00.000+08:00", "eventTimeZoneOffset": "+08:00",
            "bizStep": "commissioning", "inputEPCList": list(inputs), "outputEPCList": list(outputs)}


def test_a_transformation_declared_erroneous_undoes_both_sides_or_neither(svc):
    inputs, hin = codes(svc, 2)
    outputs, hout = codes(svc, 2)
    made = transformation(inputs, outputs, 10)
    ok(capture(svc, event(epcs=inputs), made))
    assert verdict(svc, hin[0]) == Verdict.DESTROYED and verdict(svc, hout[0]) == Verdict.GENUINE
    # an output shipped since: neither side is undone
    ship = event(epcs=outputs[:1], action="OBSERVE", step="shipping", disp="in_transit", minute=20)
    ok(capture(svc, ship))
    job = capture(svc, declared(made), behaviour="proceed")
    assert job["state"] == "failure" and ship["eventID"] in job["errors"][0]["error"], job["errors"]
    assert verdict(svc, hin[0]) == Verdict.DESTROYED and verdict(svc, hout[1]) == Verdict.GENUINE
    # once the ship is itself declared erroneous, the transformation can be: inputs live, outputs issued
    ok(capture(svc, declared(ship)))
    ok(capture(svc, declared(made)))
    assert [verdict(svc, c) for c in hin] == [Verdict.GENUINE] * 2
    assert [verdict(svc, c) for c in hout] == [Verdict.NOT_COMMISSIONED] * 2


def test_a_declaration_in_the_document_of_its_event_undoes_it(svc):
    """EPCIS: a declaration names an event already captured; one earlier in the same document
    is (applied first, then undone); one later in it is not captured yet: that declaration is
    refused, nothing else of a rollback capture stored."""
    epcs, hri = codes(svc, 2)
    commission = event(epcs=epcs)
    job = ok(capture(svc, commission, declared(commission)))
    assert job["counts"]["stored"] == 2 and job["counts"]["applied"] == 1
    assert job["undone"] == [{"event_id": commission["eventID"], "codes": 2}]
    assert {verdict(svc, c) for c in hri} == {Verdict.NOT_COMMISSIONED}
    audit = [r for r in read_audit(svc.dd.path / "audit.log") if r.get("event") == "epcis_undo"]
    assert len(audit) == 1 and audit[0]["codes"] == 2
    # the declaration before its event: refused with a per-event error, the event not applied
    epcs2, hri2 = codes(svc, 1)
    later = event(epcs=epcs2, minute=5)
    job = capture(svc, declared(later), later)
    assert job["state"] == "failure" and job["counts"]["stored"] == 0
    [err] = job["errors"]
    assert err["pointer"] == "/epcisBody/eventList/0" and err["reason"] == "invalid_event", err
    assert verdict(svc, hri2[0]) == Verdict.NOT_COMMISSIONED
    # proceed: the event is stored and applied, its early declaration refused
    job = capture(svc, declared(later), later, behaviour="proceed")
    assert job["counts"]["stored"] == 1 and job["counts"]["failed"] == 1 and "undone" not in job
    assert verdict(svc, hri2[0]) == Verdict.GENUINE


def test_a_write_run_again_reports_its_undo_once(svc, monkeypatch):
    """store.write may run its body again (PgStore after a lost connection): the capture's body
    changes no job, so a rerun neither doubles the undo nor its audit line."""
    epcs, hri = codes(svc, 2)
    commission = event(epcs=epcs)
    ok(capture(svc, commission))
    store = svc.dd.index.store
    write, runs = store.write, []

    class Lost(Exception):
        pass

    def twice(body):   # the first run's transaction lost before its commit, then run again
        def first(view):
            runs.append(body(view))
            raise Lost()
        try:
            write(first)
        except Lost:
            pass
        return write(body)
    monkeypatch.setattr(store, "write", twice)
    job = ok(capture(svc, declared(commission)))
    monkeypatch.undo()
    assert runs, "the capture's body was not run through store.write"
    assert job["undone"] == [{"event_id": commission["eventID"], "codes": 2}]
    assert job["counts"]["stored"] == 1 and job["counts"]["failed"] == 0
    assert {verdict(svc, c) for c in hri} == {Verdict.NOT_COMMISSIONED}
    audit = [r for r in read_audit(svc.dd.path / "audit.log") if r.get("event") == "epcis_undo"]
    assert len(audit) == 1 and audit[0]["codes"] == 2


def test_the_pages_know_a_declarations_store_id():
    from tracecode.app.epcis import DECLARED
    from tracecode.categories.declared import DECLARED as PAGES
    assert PAGES == DECLARED
