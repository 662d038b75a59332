"""A code's tracecode history as EPCIS 2.0 (tracecode.epcis.export): real data directories,
national codes, GS1 SGTINs and SSCCs; every export validates against GS1's schema and reads
back onto the same lifecycle actions and codes."""
import json

import pytest

import tracecode
from epcis_reference import SCHEMA, need
from tracecode.epcis import EpcisError, event_hash, lifecycle_of, read_document, to_code, validate
from tracecode.epcis.export import CONTEXT, document, event_time, from_history, gs1_codes, history_document

BASE = "https://trace.example.gov.cn"
SSCC = "(00)106141411234567897"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("epcis") / "d", base_url=BASE)
    national = [c.decode() for c in d.issue("cn-drug-20", {"drug_id": "8177322"}, 30).codes()]
    gs1 = [c.decode() for c in d.issue("gs1-sgtin", {"gtin": "09521234543213"}, 4).codes()]
    results = d.apply([
        {"id": "c1", "action": "commission", "codes": national[:24], "time": "2026-11-30T09:15:00+08:00",
         "place": "车间 3"},
        {"id": "p1", "action": "pack", "codes": national[:24], "parent": SSCC, "time": "2026-11-30T10:00:00+08:00"},
        {"id": "s1", "action": "ship", "codes": [SSCC], "time": "2026-11-30T11:00:00+08:00"},
        {"id": "r1", "action": "receive", "codes": [SSCC], "time": "2026-12-01T08:00:00+08:00", "place": "Hangzhou"},
        {"id": "u1", "action": "unpack", "codes": national[:1], "parent": SSCC, "time": "2026-12-01T09:00:00+08:00"},
        {"id": "x1", "action": "sell", "codes": national[:1], "time": "2026-12-01T10:00:00+08:00"},
        {"id": "g1", "action": "commission", "codes": gs1, "time": "2026-11-30T09:00:00Z"},
        {"id": "g2", "action": "recall", "codes": gs1[:1], "reason": "label misprint"},
        {"id": "d1", "action": "destroy", "codes": national[24:25]},
    ])
    assert all(r["ok"] for r in results), results
    yield d, national, gs1
    d.close()


def _valid(doc):
    problems = validate(json.loads(json.dumps(doc)), need(SCHEMA))
    assert problems == [], problems


def test_a_national_codes_history_validates_and_reads_back(world):
    d, national, _ = world
    doc = history_document(d, national[1])     # still in its case: the case's events are its own
    _valid(doc)
    events = doc["epcisBody"]["eventList"]
    assert [(e["type"], e["action"], e["bizStep"]) for e in events] == [
        ("ObjectEvent", "ADD", "commissioning"), ("AggregationEvent", "ADD", "packing"),
        ("ObjectEvent", "OBSERVE", "shipping"), ("ObjectEvent", "OBSERVE", "receiving"),
        ("AggregationEvent", "DELETE", "unpacking")]     # the case's: another unit left it
    first = events[0]
    assert first["eventTime"] == "2026-11-30T09:15:00.000+08:00" and first["eventTimeZoneOffset"] == "+08:00"
    assert f"{BASE}/c/{national[1]}" in first["epcList"]
    assert first["tracecode:place"] == "车间 3" and first["tracecode:id"] == "c1"
    assert events[1]["parentID"] == "https://id.gs1.org/00/106141411234567897"
    assert events[2]["tracecode:via"] == SSCC and events[2]["epcList"] == ["https://id.gs1.org/00/106141411234567897"]
    # what an integrator does with it: read it, and the lifecycle it means is ours again
    back = read_document(json.dumps(doc).encode(), "application/ld+json")
    lcs = [lc for e in back.events for lc in lifecycle_of(e, BASE, context=back.context)]
    assert [lc["action"] for lc in lcs] == ["commission", "pack", "ship", "receive", "unpack"]
    assert set(lcs[0]["codes"]) == set(national[:24]) and lcs[1]["parent"] == SSCC and lcs[2]["codes"] == [SSCC]
    for e, lc in zip(back.events, lcs):
        assert e["eventID"] == event_hash({k: v for k, v in e.items() if k != "eventID"}, CONTEXT) == lc["id"]


def test_an_unpacked_code_keeps_its_own_events(world):
    d, national, _ = world
    doc = history_document(d, national[0])
    _valid(doc)
    assert [e["bizStep"] for e in doc["epcisBody"]["eventList"]] == [
        "commissioning", "packing", "unpacking", "retail_selling"]


def test_gs1_and_sscc_histories_validate(world):
    d, _, gs1 = world
    doc = history_document(d, gs1[0])
    _valid(doc)
    events = doc["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in events] == ["commissioning", "holding"]
    assert events[1]["disposition"] == "recalled" and events[1]["tracecode:reason"] == "label misprint"
    dl = f"https://id.gs1.org/01/{gs1[0][:14]}/21/{gs1[0][14:]}"
    assert dl in events[0]["epcList"] and to_code(dl) == f"(01){gs1[0][:14]}(21){gs1[0][14:]}"
    sscc = history_document(d, SSCC)
    _valid(sscc)
    assert [e["bizStep"] for e in sscc["epcisBody"]["eventList"]] == ["packing", "shipping", "receiving", "unpacking"]


def test_destroyed_and_unknown_codes(world):
    d, national, _ = world
    doc = history_document(d, national[24])
    _valid(doc)
    assert [e["disposition"] for e in doc["epcisBody"]["eventList"]] == ["destroyed"]
    empty = history_document(d, national[29])      # issued, never an event
    _valid(empty)
    assert empty["epcisBody"]["eventList"] == []


def test_national_codes_need_the_base_url(world):
    d, national, _ = world
    items = d.history(national[0], scans=False)
    with pytest.raises(EpcisError, match="base URL"):
        from_history(items, None, convert=gs1_codes(d.schemes, d.master_key))
    assert from_history([{"kind": "scan", "time": 1.0}], BASE) == []
    assert from_history([{"kind": "event", "action": "ship", "time": None, "time_given": "yesterday"}], BASE) == []


def test_document_and_times():
    doc = document([], creation_date="2026-12-02T00:00:00.000Z")
    assert doc["@context"] == CONTEXT and doc["schemaVersion"] == "2.0"
    assert event_time(0.0, None) == ("1970-01-01T00:00:00.000+00:00", "+00:00")
    assert event_time(0.0, "-05:30") == ("1969-12-31T18:30:00.000-05:30", "-05:30")
