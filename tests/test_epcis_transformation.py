"""TransformationEvents change state: their instance inputs of ours are consumed (a later
scan says destroyed, the history says what they were transformed into), their outputs of
ours still issued are commissioned, live outputs and partners' codes are left as they are,
and class-level inputs/outputs are stored by role for the lot's quantities. Real LMDB."""
from __future__ import annotations

import json

import pytest

from tracecode.app.caller import LOCAL
from tracecode.epcis import transform
from tracecode.store.port import EpcisQuery

from web_platform import GTIN, Platform

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


def _doc(*events) -> bytes:
    return json.dumps({"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00.000+08:00",
                       "epcisBody": {"eventList": list(events)}}).encode()


def _dl(element: str) -> str:   # 01GTIN21SERIAL -> its Digital Link
    return f"https://id.gs1.org/01/{element[2:16]}/21/{element[18:]}"


def _tf(n: int, **fields) -> dict:
    return {"type": "TransformationEvent", "eventID": f"urn:uuid:00000000-0000-4000-8000-0000000002{n:02d}",
            "eventTime": f"2026-11-30T10:{n:02d}:00.000+08:00", "eventTimeZoneOffset": "+08:00",
            "bizStep": "commissioning", **fields}


@pytest.fixture
def world(tmp_path):
    p = Platform(tmp_path, count=4)
    batch = p.dd.issue("gs1-sgtin", {"gtin": GTIN}, 3)          # issued, never commissioned: outputs
    fresh = [c.decode() for c in p.dd.issuer("gs1-sgtin", {"gtin": GTIN}).codes(batch.record.start, 3, "element")]
    yield p, fresh
    p.close()


def _verdict(p, code):
    return p.dd.verify(code, record=False)


def test_inputs_are_consumed_and_outputs_commissioned(world):
    p, fresh = world
    inputs, [out] = p.gs1[:2], fresh[:1]
    assert _verdict(p, out).status == "issued"
    job = p.svc.capture(LOCAL, _doc(_tf(1, inputEPCList=[_dl(c) for c in inputs], outputEPCList=[_dl(out)])),
                        "application/ld+json")
    assert job["state"] == "success", job["errors"]
    assert job["counts"]["applied"] == 2 and job["counts"]["stored"] == 1
    for c in inputs:
        a = _verdict(p, c)
        assert (a.status, a.verdict.name) == ("destroyed", "DESTROYED")
    assert _verdict(p, out).verdict.name == "GENUINE"
    items, _ = p.svc.history(LOCAL, inputs[0])
    [consumed] = [i for i in items if i.get("action") == "destroy"]
    assert consumed["reason"] == "transformed into 1 item"     # public (the trail): no other item's serial
    # captured again: idempotent, nothing applied twice
    again = p.svc.capture(LOCAL, _doc(_tf(1, inputEPCList=[_dl(c) for c in inputs], outputEPCList=[_dl(out)])),
                          "application/ld+json")
    assert again["state"] == "success" and again["counts"]["already_stored"] == 1 and again["counts"]["applied"] == 0


def test_a_consumed_input_cannot_be_consumed_again(world):
    p, fresh = world
    a = p.gs1[0]
    ok = p.svc.capture(LOCAL, _doc(_tf(2, inputEPCList=[_dl(a)], outputEPCList=[_dl(fresh[0])])), "application/json")
    assert ok["state"] == "success", ok["errors"]
    twice = p.svc.capture(LOCAL, _doc(_tf(3, inputEPCList=[_dl(a)], outputEPCList=[_dl(fresh[1])])),
                          "application/json")
    assert twice["state"] == "failure"
    assert twice["errors"][0]["reason"] == "illegal_transition" and "destroyed" in twice["errors"][0]["error"]
    assert _verdict(p, fresh[1]).status == "issued"          # rollback: the output was not made either


def test_live_outputs_and_partner_codes_are_left_alone(world):
    p, fresh = world
    partner = "https://id.gs1.org/01/10614141073464/21/77"    # not ours: stored, no state
    job = p.svc.capture(LOCAL, _doc(_tf(4, inputEPCList=[_dl(p.gs1[1]), partner],
                                        outputEPCList=[_dl(p.gs1[2]), _dl(fresh[2])])), "application/json")
    assert job["state"] == "success", job["errors"]
    assert _verdict(p, p.gs1[1]).status == "destroyed"
    assert _verdict(p, p.gs1[2]).status == "commissioned"     # live already: not commissioned again
    assert _verdict(p, fresh[2]).status == "commissioned"


def test_an_issuer_may_not_consume_a_rivals_code(world):
    p, fresh = world
    rival = p.svc.clients.by_token(p.tokens["other_issuer"])
    job = p.svc.capture(rival, _doc(_tf(5, inputEPCList=[_dl(p.gs1[3])], outputEPCList=[_dl(fresh[0])])),
                        "application/json")
    assert job["state"] == "failure" and _verdict(p, p.gs1[3]).status == "commissioned"


def test_class_level_transformations_are_stored_by_role(world):
    p, _ = world
    lot_in, lot_out = f"https://id.gs1.org/01/{GTIN}/10/ORE-1", f"https://id.gs1.org/01/{GTIN}/10/OX-1"
    job = p.svc.capture(LOCAL, _doc(_tf(6, inputQuantityList=[{"epcClass": lot_in, "quantity": 3, "uom": "TNE"}],
                                        outputQuantityList=[{"epcClass": lot_out, "quantity": 900.5, "uom": "KGM"}])),
                        "application/json")
    assert job["state"] == "success" and job["counts"]["applied"] == 0 and job["counts"]["stored"] == 1
    made, _ = p.svc.epcis.query_events(LOCAL, EpcisQuery(epcs=(lot_out,), epc_roles=("output_class",)))
    assert transform.into(made[0]) == f"transformed into (01){GTIN}(10)OX-1"
    used, _ = p.svc.epcis.query_events(LOCAL, EpcisQuery(epcs=(lot_in,), epc_roles=("input_class",)))
    assert [e["eventID"] for e in made] == [e["eventID"] for e in used] == [_tf(6)["eventID"]]
    assert made[0]["outputQuantityList"][0]["quantity"] == 900.5
