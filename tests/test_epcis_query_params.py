"""The EPCIS query parameters read from the event's facets (tracecode.epcis.facets): ilmd and
extension fields (EQ_ / EXISTS_), quantities (EQ_/GT_/GE_/LT_/LE_quantity), the error
declaration's time, reason and corrective events, WD_readPoint / WD_bizLocation over a GLN's
sub-locations, maxEventCount; and event ids with EPCs together (both must hold). Each runs
on both stores (LMDB, and PostgreSQL over a real server) through the one parameter table,
and over real HTTP for what the application adds (413 QueryTooLargeException)."""
from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracecode.app import epcis_params
from tracecode.app.refusal import Refusal
from tracecode.epcis.facets import facets_of
from tracecode.store.port import EpcisQuery, EpcisRecord

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
           {"example": "http://ns.example.com/epcis/"}]
GLN_ROOT = "urn:epc:id:sgln:0614141.07346.0"
DOCK = "urn:epc:id:sgln:0614141.07346.1234"          # a sub-location of GLN_ROOT
ELSEWHERE = "urn:epc:id:sgln:0614141.07399.0"
A, B = "urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"
LOT = "urn:epc:class:lgtin:4012345.012345.998877"


def _event(eid, minute, **fields):
    return {"type": "ObjectEvent", "eventID": eid, "action": "OBSERVE", "bizStep": "shipping",
            "eventTime": f"2026-11-30T09:{minute:02d}:00.000+08:00", "eventTimeZoneOffset": "+08:00", **fields}


EVENTS = [
    _event("e0", 1, epcList=[A], action="ADD", bizStep="commissioning",
           ilmd={"example:batch": "XYZ", "cbvmda:itemExpirationDate": "2027-01-01", "example:count": 5},
           readPoint={"id": DOCK}),
    _event("e1", 2, epcList=[B], quantityList=[{"epcClass": LOT, "quantity": 12.5, "uom": "KGM"},
                                                {"epcClass": LOT, "quantity": 3}],
           **{"example:myField": "red", "example:flag": True}, bizLocation={"id": GLN_ROOT}),
    _event("e2", 3, epcList=[A, B], readPoint={"id": ELSEWHERE},
           errorDeclaration={"declarationTime": "2026-12-01T10:00:00.000+08:00",
                             "reason": "incorrect_data",
                             "correctiveEventIDs": ["urn:uuid:fix-1"]}),
    _event("e3", 4, epcList=[A], quantityList=[{"epcClass": LOT, "quantity": 7}], readPoint={"id": GLN_ROOT},
           persistentDisposition={"set": ["completeness_verified"], "unset": ["completeness_inferred"]}),
]


def _records():
    out = []
    for i, ev in enumerate(EVENTS):
        roles = {"epc": list(ev.get("epcList", []))}
        if "quantityList" in ev:
            roles["class"] = [q["epcClass"] for q in ev["quantityList"]]
        rp, bl = ev.get("readPoint"), ev.get("bizLocation")
        out.append(EpcisRecord(event_id=ev["eventID"], event=ev, event_time=1.78e9 + 60 * i, time_offset="+08:00",
                               record_time=1.79e9 + i, type=ev["type"], biz_step=ev["bizStep"], action=ev["action"],
                               read_point=rp and rp["id"], biz_location=bl and bl["id"], epcs=roles,
                               declared="errorDeclaration" in ev, facets=facets_of(ev, CONTEXT)))
    return out


# store: both stores, from conftest.py


def _ids(store, params=None, **query):
    q = epcis_params.parse(params)[0] if params is not None else EpcisQuery(**query)
    out, token = [], None
    while True:
        got, token = store.epcis_find(q, token, limit=2)   # paged: the filters hold across pages
        out += [r.event_id for r in got]
        if token is None:
            return sorted(out)


def test_event_ids_with_epcs_both_hold(store):
    assert all(store.epcis_put(_records()))
    assert _ids(store, event_ids=("e0", "e1"), epcs=(A,)) == ["e0"]
    assert _ids(store, event_ids=("e0", "e1", "e2"), epcs=(B,)) == ["e1", "e2"]
    assert _ids(store, event_ids=("e0", "e1"), epcs=(A,), epc_roles=("parent",)) == []
    assert _ids(store, event_ids=("e1",), epcs=(A,)) == []
    for order in ("eventTime", "recordTime"):
        assert _ids(store, event_ids=("e0", "e1", "e3"), epcs=(A,), order_by=order) == ["e0", "e3"]
    assert _ids(store, {"EQ_eventID": "e0|e1|e2", "MATCH_epc": B}) == ["e1", "e2"]


@pytest.mark.parametrize("params,expected", [
    ({"EQ_ILMD_example:batch": "XYZ"}, ["e0"]),
    ({"EQ_ILMD_example:batch": "ABC|XYZ"}, ["e0"]),
    ({"EQ_ILMD_example:batch": "ABC"}, []),
    ({"EQ_ILMD_http://ns.example.com/epcis/batch": "XYZ"}, ["e0"]),          # its IRI
    ({"EQ_ILMD_http://ns.example.com/epcis#batch": "XYZ"}, ["e0"]),          # namespace#name
    ({"EQ_ILMD_urn:epcglobal:cbv:mda#itemExpirationDate": "2027-01-01"}, ["e0"]),   # GS1's cbvmda
    ({"EQ_ILMD_example:count": "5.0"}, ["e0"]),                               # a number as a number
    ({"EXISTS_ILMD_example:batch": ""}, ["e0"]),
    ({"EXISTS_ILMD_example:other": ""}, []),
    ({"EQ_example:myField": "red"}, ["e1"]),
    ({"EQ_example:flag": "true"}, ["e1"]),
    ({"EXISTS_example:myField": "true"}, ["e1"]),
    ({"EQ_example:batch": "XYZ"}, []),                                        # ilmd is not an extension
    ({"EQ_quantity": "3"}, ["e1"]),
    ({"EQ_quantity": "12.5"}, ["e1"]),
    ({"GT_quantity": "7"}, ["e1"]),
    ({"GE_quantity": "7"}, ["e1", "e3"]),
    ({"LT_quantity": "7"}, ["e1"]),
    ({"LE_quantity": "7"}, ["e1", "e3"]),
    ({"GE_quantity": "4", "LT_quantity": "5"}, ["e1"]),                       # each holds for some element
    ({"GE_errorDeclarationTime": "2026-12-01T00:00:00Z"}, ["e2"]),
    ({"LT_errorDeclarationTime": "2026-12-01T00:00:00Z"}, []),
    ({"EQ_errorReason": "incorrect_data"}, ["e2"]),
    ({"EQ_errorReason": "https://ref.gs1.org/cbv/ER-incorrect_data"}, ["e2"]),
    ({"EQ_errorReason": "did_not_occur"}, []),
    ({"EQ_correctiveEventID": "urn:uuid:fix-1"}, ["e2"]),
    ({"WD_readPoint": GLN_ROOT}, ["e0", "e3"]),                               # itself and its dock
    ({"WD_readPoint": "https://id.gs1.org/414/0614141073467"}, ["e0", "e3"]),
    ({"WD_bizLocation": GLN_ROOT}, ["e1"]),
    ({"WD_readPoint": ELSEWHERE}, ["e2"]),
    ({"WD_readPoint": GLN_ROOT, "EQ_ILMD_example:batch": "XYZ", "MATCH_epc": A}, ["e0"]),
    ({"EQ_persistentDisposition_set": "completeness_verified"}, ["e3"]),
    ({"EQ_persistentDisposition_set": "https://ref.gs1.org/cbv/Disp-completeness_verified"}, ["e3"]),
    ({"EQ_persistentDisposition_unset": "completeness_verified"}, []),
    ({"EQ_persistentDisposition_unset": "completeness_inferred|active"}, ["e3"]),
])
def test_facet_parameters_on_both_stores(store, params, expected):
    assert all(store.epcis_put(_records()))
    assert _ids(store, params) == expected


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                     max_leaves=20)
_KEYS = st.sampled_from(["ilmd", "quantityList", "childQuantityList", "errorDeclaration", "readPoint",
                         "bizLocation", "example:f", "@context", "x:\x00", "ex:\ud800"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _JSON, max_size=6), _JSON)
def test_facets_of_any_event_are_json_every_store_can_keep(event, context):
    """Whatever an event holds (schema validation runs first, but facets never assume it), its
    facets are JSON without NaN, NUL or lone surrogates: what PostgreSQL's jsonb accepts."""
    f = facets_of(event, context)
    text = json.dumps(f, allow_nan=False, ensure_ascii=False)
    assert "\x00" not in text and "\\u0000" not in text
    text.encode("utf-8")   # no lone surrogate


def test_transformation_id_on_both_stores(store):
    ev = {"type": "TransformationEvent", "eventID": "t1", "eventTime": "2026-11-30T10:00:00.000+08:00",
          "eventTimeZoneOffset": "+08:00", "transformationID": "urn:epc:id:gdti:0614141.12345.400",
          "inputEPCList": [A], "outputEPCList": [B]}
    rec = EpcisRecord(event_id="t1", event=ev, event_time=1.79e9, time_offset="+08:00", record_time=1.8e9,
                      type=ev["type"], epcs={"input": [A], "output": [B]}, facets=facets_of(ev, CONTEXT))
    assert all(store.epcis_put(_records() + [rec]))
    assert _ids(store, {"EQ_transformationID": "urn:epc:id:gdti:0614141.12345.400"}) == ["t1"]
    assert _ids(store, {"EQ_transformationID": "urn:epc:id:gdti:0614141.12345.401"}) == []
    assert _ids(store, {"EQ_transformationID": "urn:x|urn:epc:id:gdti:0614141.12345.400",
                        "MATCH_outputEPC": B}) == ["t1"]


@pytest.mark.parametrize("params,field", [
    ({"WD_readPoint": DOCK}, "WD_readPoint"),                  # no master data: a dock has no known children
    ({"WD_readPoint": "https://example.com/places/7"}, "WD_readPoint"),
    ({"maxEventCount": "2", "eventCountLimit": "3"}, "maxEventCount"),
    ({"maxEventCount": "0"}, "maxEventCount"),
    ({"EQ_quantity": "many"}, "EQ_quantity"),
    ({"EXISTS_ILMD_example:batch": "XYZ"}, "EXISTS_ILMD_example:batch"),
    ({"EQ_deviceID": "urn:x|"}, "EQ_deviceID"),                # an empty value (test_epcis_sensor_query: the rest)
    ({"EQ_persistentDisposition_set": ""}, "EQ_persistentDisposition_set"),
    ({"GT_ILMD_example:count": "three"}, "GT_ILMD_example:count"),   # numbers and date-times compare
    ({"GE_errorDeclarationTime": "2026-12-02T00:00:00Z", "LT_errorDeclarationTime": "2026-12-01T00:00:00Z"},
     "LT_errorDeclarationTime"),
])
def test_parameters_refused_by_name(params, field):
    with pytest.raises(Refusal) as e:
        epcis_params.fields(params)
    assert e.value.reason == "invalid_argument" and e.value.field == field, e.value.detail


def test_the_openapi_document_names_every_parameter_of_the_table():
    from tracecode.web.epcis_openapi import _query_params
    by_name = {p["name"]: p for p in _query_params()}
    for name in ("maxEventCount", "EQ_quantity", "GT_quantity", "WD_readPoint", "EQ_errorReason",
                 "GE_errorDeclarationTime", "EQ_correctiveEventID"):
        assert name in by_name
    assert by_name["EQ_quantity"]["schema"]["type"] == "number"
    assert by_name["maxEventCount"]["schema"]["maximum"] == epcis_params.MAX_EVENT_COUNT


# -- through the application and real HTTP: captured facets, maxEventCount -------------------
def _doc(*events) -> bytes:
    return json.dumps({"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00.000+08:00",
                       "epcisBody": {"eventList": list(events)}}).encode()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from epcis_site import captured
    # a partner's goods (no code of ours): an admin's capture stores them, no lifecycle step
    with captured(tmp_path_factory.mktemp("epcisfacets"), (_doc(*EVENTS), "application/ld+json")) as (p, client, _):
        yield p, client


def _http(site, params):
    p, client = site
    return client.get("/epcis/events", params=params, headers=p.auth("admin"))


def _http_ids(site, params):
    r = _http(site, params)
    assert r.status_code == 200, r.text
    return sorted(e["eventID"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def test_captured_events_are_found_by_their_facets_over_http(site):
    assert _http_ids(site, {"EQ_ILMD_example:batch": "XYZ"}) == ["e0"]
    assert _http_ids(site, {"EQ_example:myField": "red"}) == ["e1"]
    assert _http_ids(site, {"GE_quantity": "7"}) == ["e1", "e3"]
    assert _http_ids(site, {"WD_readPoint": GLN_ROOT}) == ["e0", "e3"]
    # the error declaration is stored beside e2 (its eventID again): these find the declaration
    found = _http(site, {"EQ_errorReason": "incorrect_data"}).json()["epcisBody"]["queryResults"]
    [declared] = found["resultsBody"]["eventList"]
    assert declared["eventID"] == "e2" and declared["errorDeclaration"]["correctiveEventIDs"] == ["urn:uuid:fix-1"]


def test_max_event_count_is_query_too_large_over_it_and_whole_within_it(site):
    r = _http(site, {"maxEventCount": "2"})
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["type"] == "epcisException:QueryTooLargeException" and body["field"] == "maxEventCount"
    assert _http_ids(site, {"maxEventCount": "4"}) == ["e0", "e1", "e2", "e3"]
    # within it, paged: the count is taken once and the pages carry on
    p, client = site
    seen, params = [], {"maxEventCount": "4", "perPage": "1"}
    while True:
        r = client.get("/epcis/events", params=params, headers=p.auth("admin"))
        assert r.status_code == 200, r.text
        seen += [e["eventID"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
        if "link" not in r.headers:
            break
        params = dict(httpx.URL(r.headers["link"].split(";")[0].strip("<>")).params)
    assert sorted(seen) == ["e0", "e1", "e2", "e3"]
