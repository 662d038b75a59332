"""What a TransformationEvent means: a cut's lot traces back to its carcass and the carcass
to its animals (Service.lineage), a code's history shows the transformations it came out
of with their inputs, and its history as EPCIS carries them (GS1's schema), with the
rights of history. Real LMDB, GS1's schema."""
from __future__ import annotations

import json

import jsonschema
import pytest

from tracecode.app.caller import LOCAL
from tracecode.app.refusal import Refusal

from epcis_reference import SCHEMA, need
from web_platform import GTIN, Platform

ANIMALS = [f"urn:epc:id:sgtin:0614141.107346.{n}" for n in (1, 2)]     # a farm's: no code of ours


def _doc(*events) -> bytes:
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                       "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00.000+08:00",
                       "epcisBody": {"eventList": list(events)}}).encode()


def _dl(element: str) -> str:
    return f"https://id.gs1.org/01/{element[2:16]}/21/{element[18:]}"


def _transformation(n: int, minute: int, **fields) -> dict:
    return {"type": "TransformationEvent", "eventID": f"urn:uuid:00000000-0000-4000-8000-00000000010{n}",
            "eventTime": f"2026-11-30T09:{minute:02d}:00.000+08:00", "eventTimeZoneOffset": "+08:00",
            "bizStep": "commissioning", **fields}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    need(SCHEMA)
    p = Platform(tmp_path_factory.mktemp("lineage"), count=4)
    batch = p.dd.issue("gs1-sgtin", {"gtin": GTIN}, 2, lot="CUT-7")   # the cuts, by lot
    issuer = p.dd.issuer("gs1-sgtin", {"gtin": GTIN})
    bare = [c.decode() for c in issuer.codes(batch.record.start, 2)]
    assert p.dd.apply([{"id": "commission-cuts", "action": "commission", "codes": bare}])[0]["ok"]
    cut = issuer.codes(batch.record.start, 1, "element")[0].decode()
    carcass = p.gs1[0]
    lot = f"https://id.gs1.org/01/{GTIN}/10/CUT-7"
    doc = _doc(_transformation(1, 10, inputEPCList=ANIMALS, outputEPCList=[_dl(carcass)]),
               _transformation(2, 20, inputEPCList=[_dl(carcass)],
                               outputQuantityList=[{"epcClass": lot, "quantity": 12.5, "uom": "KGM"}]))
    job = p.svc.capture(LOCAL, doc, "application/ld+json")
    assert job["state"] == "success", job["errors"]
    yield p, cut, carcass
    p.close()


def test_a_cut_traces_to_its_carcass_and_the_carcass_to_its_animals(world):
    p, cut, carcass = world
    got = p.svc.epcis.lineage(LOCAL, cut)
    assert got["keys"][1] == f"(01){GTIN}(10)CUT-7"           # by its lot's class
    [step] = got["made_from"]
    assert step["event_id"].endswith("0102") and step["inputs"] == [f"(01){carcass[2:16]}(21){carcass[18:]}"]
    [farm] = step["made_from"]
    assert farm["event_id"].endswith("0101")
    assert farm["inputs"] == ["(01)10614141073464(21)1", "(01)10614141073464(21)2"] and farm["made_from"] == []
    assert p.svc.epcis.lineage(LOCAL, cut, depth=1)["made_from"][0]["made_from"] == []
    assert p.svc.epcis.lineage(LOCAL, p.gs1[3])["made_from"] == []      # made from nothing recorded


def test_history_shows_the_transformations_and_exports_them(world):
    p, cut, carcass = world
    items, _ = p.svc.history(LOCAL, carcass)
    [made] = [i for i in items if i["kind"] == "transformation"]
    assert made["inputs"] == ["(01)10614141073464(21)1", "(01)10614141073464(21)2"] and made["time"]
    times = [i["time"] for i in items]
    assert times == sorted(times) and {"event", "transformation"} <= {i["kind"] for i in items}   # in time order
    doc = p.svc.history_epcis(LOCAL, cut)
    jsonschema.validate(doc, json.loads(need(SCHEMA).read_text()))
    assert "TransformationEvent" in [e["type"] for e in doc["epcisBody"]["eventList"]]


def test_lineage_has_the_rights_of_history(world):
    p, cut, carcass = world
    brand = p.svc.clients.by_token(p.tokens["issuer"])
    assert p.svc.epcis.lineage(brand, cut)["made_from"][0]["event_id"].endswith("0102")   # its products'
    rival = p.svc.clients.by_token(p.tokens["other_issuer"])
    with pytest.raises(Refusal) as e:
        p.svc.epcis.lineage(rival, cut)
    assert e.value.reason == "permission_denied"
    with pytest.raises(Refusal) as e:
        p.svc.epcis.lineage(LOCAL, cut, depth=0)
    assert e.value.field == "depth"


def test_an_error_declaration_is_named_in_the_history_and_queryable(world):
    p = world[0]
    code = p.gs1[1]
    shipped = {"type": "ObjectEvent", "eventID": "urn:uuid:00000000-0000-4000-8000-000000000201",
               "action": "OBSERVE", "bizStep": "shipping", "eventTime": "2026-11-30T10:00:00.000+08:00",
               "eventTimeZoneOffset": "+08:00", "epcList": [_dl(code)]}
    assert p.svc.capture(LOCAL, _doc(shipped), "application/ld+json")["counts"]["applied"] == 1
    corrective = "urn:uuid:00000000-0000-4000-8000-000000000202"
    declared = {**shipped, "errorDeclaration": {"declarationTime": "2026-11-30T11:00:00.000+08:00",
                                                "reason": "incorrect_data", "correctiveEventIDs": [corrective]}}
    job = p.svc.capture(LOCAL, _doc(declared), "application/ld+json")
    assert job["state"] == "success" and job["counts"]["stored"] == 1, job
    items, _ = p.svc.history(LOCAL, code)
    [named] = [i for i in items if i["kind"] == "error_declaration"]
    assert named["event_id"] == shipped["eventID"] and named["reason"] == "incorrect_data"
    assert named["corrective_event_ids"] == [corrective]
    events, _ = p.svc.query_epcis(LOCAL, {"EXISTS_errorDeclaration": ""})
    assert [e["eventID"] for e in events] == [shipped["eventID"]] and "errorDeclaration" in events[0]
    both = p.svc.epcis_event(LOCAL, shipped["eventID"])
    assert len(both) == 2 and sum("errorDeclaration" in e for e in both) == 1
    with pytest.raises(Refusal) as e:
        p.svc.query_epcis(LOCAL, {"EXISTS_errorDeclaration": "no"})
    assert e.value.field == "EXISTS_errorDeclaration"
