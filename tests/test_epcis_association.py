"""AssociationEvents (CBV 2.0: a device or asset, parentID, linked to goods, childEPCs) are
not aggregation: captured, they change no packing and no state of the codes named, and
queries by parentID and by childEPC find them. An issuer associates its own
codes with a sensor or a returnable asset that is no code of tracecode's; a parentID that is
another company's code is refused as any other EPC of theirs."""
from __future__ import annotations

import pytest

import tracecode
from tracecode.app import Service
from tracecode.app.clients import Clients, ClientsFile
from tracecode.epcis import to_code
from tracecode.index.verdicts import Verdict
from tracecode.store.port import EpcisQuery

from epcis_reference import SCHEMA, need
from test_epcis_capture import ADMIN, LINE, REGULATOR, codes, document, event, verdict

SENSOR = "urn:epc:id:giai:4000001.12345"            # a temperature logger
CRATE = "urn:epc:id:grai:4012345.55555.987"          # a returnable crate
SSCC = "urn:epc:id:sscc:9506000.1000000001"


@pytest.fixture
def svc(tmp_path):   # as test_epcis_capture's: a data directory, its two issuers
    need(SCHEMA)
    tracecode.init(tmp_path / "data").close()
    d = tracecode.open(tmp_path / "data")
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    clients.add("line-3", ["issuer"], ["gs1-sgtin:gtin=09506000134352"])
    s = Service(d, Clients(tmp_path / "clients.toml"))
    yield s
    s.close()
    d.close()


def _associate(action, parent, children, minute):
    return event("AssociationEvent", action=action, step="assembling", disp="in_progress",
                 time=f"2026-12-01T09:{minute:02d}:00.000+08:00", parentID=parent, childEPCs=list(children))


def test_an_association_is_stored_found_by_parent_and_child_and_packs_nothing(svc):
    epcs, hri = codes(svc, 3)
    assert svc.capture(LINE, document(event(epcs=epcs)), "application/json")["state"] == "success"
    add, delete = _associate("ADD", SENSOR, epcs[:2], 5), _associate("DELETE", SENSOR, epcs[:1], 7)
    job = svc.capture(LINE, document(add, delete), "application/json")
    assert job["state"] == "success", job["errors"]
    assert job["counts"] == {"events": 2, "stored": 2, "already_stored": 0, "applied": 0, "failed": 0}
    # no packing: the sensor holds nothing, the codes' histories have no pack nor unpack
    with pytest.raises(Exception, match="never issued"):   # the sensor never became a container
        svc.dd.contents(to_code(SENSOR))
    assert [e["action"] for e in svc.dd.history(hri[0], scans=False)] == ["commission"]
    assert verdict(svc, hri[0]) == Verdict.GENUINE
    ids = {add["eventID"]: "add", delete["eventID"]: "delete"}

    def found(who, **q):
        return sorted(ids.get(e["eventID"], "other") for e in svc.query_events(who, EpcisQuery(**q))[0])
    for who in (LINE, REGULATOR):
        assert found(who, epcs=(SENSOR,), epc_roles=("parent",)) == ["add", "delete"]     # MATCH_parentID
        assert found(who, epcs=(epcs[1],), epc_roles=("epc", "child")) == ["add", "other"]   # MATCH_epc
        assert found(who, epcs=(hri[0],), epc_roles=("epc", "child")) == ["add", "delete", "other"]
        assert found(who, event_types=("AssociationEvent",)) == ["add", "delete"]
    # through the parameter table, as HTTP and gRPC read it
    got, _ = svc.query_epcis(REGULATOR, {"MATCH_parentID": SENSOR, "EQ_action": "DELETE"})
    assert [e["eventID"] for e in got] == [delete["eventID"]]
    # the codes can still be packed: the association bound nothing
    pack = event("AggregationEvent", parentID=SSCC, childEPCs=epcs[:2], step="packing", disp="in_progress",
                 time="2026-12-01T10:00:00.000+08:00")
    assert svc.capture(LINE, document(pack), "application/json")["state"] == "success"
    assert len(list(svc.dd.contents(to_code(SSCC)))) == 2


def test_an_overseers_association_of_our_codes_changes_no_state_either(svc):
    epcs, hri = codes(svc, 2)
    assert svc.capture(LINE, document(event(epcs=epcs)), "application/json")["state"] == "success"
    job = svc.capture(ADMIN, document(_associate("ADD", CRATE, epcs, 5)), "application/json")
    assert job["state"] == "success" and job["counts"]["stored"] == 1 and job["counts"]["applied"] == 0
    assert [e["action"] for e in svc.dd.history(hri[1], scans=False)] == ["commission"]
    with pytest.raises(Exception, match="never issued"):
        svc.dd.contents(to_code(CRATE))


@pytest.mark.parametrize("parent_kind", ["other company's code", "our own code"])
def test_an_issuers_association_needs_rights_over_a_parent_that_is_a_code(svc, parent_kind):
    epcs, _ = codes(svc, 2)
    others, _ = codes(svc, 1, gtin="09506000134376")
    svc.capture(ADMIN, document(event(epcs=others)), "application/json")
    assert svc.capture(LINE, document(event(epcs=epcs)), "application/json")["state"] == "success"
    parent = others[0] if parent_kind == "other company's code" else epcs[1]
    job = svc.capture(LINE, document(_associate("ADD", parent, epcs[:1], 5)), "application/json")
    if parent_kind == "our own code":
        assert job["state"] == "success", job["errors"]
    else:
        assert job["state"] == "failure" and job["errors"][0]["reason"] == "permission_denied", job


def test_an_issuer_cannot_associate_another_companys_children(svc):
    others, _ = codes(svc, 1, gtin="09506000134376")
    svc.capture(ADMIN, document(event(epcs=others)), "application/json")
    job = svc.capture(LINE, document(_associate("ADD", SENSOR, others, 5)), "application/json")
    assert job["state"] == "failure" and job["errors"][0]["reason"] == "permission_denied", job
