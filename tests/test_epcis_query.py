"""The EPCIS query interface served over real HTTP on loopback: the parameters of the one
table (tracecode.app.epcis_params) beyond EPCs and times (actions, eventIDs, bizTransactions,
sources and destinations by type, inputs and outputs, orderBy both ways, eventCountLimit over
pages), /epcis/events/{eventID}, the caller's capture jobs, and named queries per owner. Every
page answered validates against GS1's EPCIS 2.0 JSON schema."""
from __future__ import annotations

import json
import time
from urllib.parse import quote

import httpx
import jsonschema
import pytest

from tracecode.web.app import create_app
from tracecode.web.settings import WebSettings

from epcis_reference import SCHEMA, need
from web_platform import BASE_URL, Platform
from web_server import serving

LD = {"content-type": "application/ld+json"}
SETTINGS = WebSettings(per_address=100_000, per_address_burst=100_000, per_product=100_000,
                       per_product_burst=100_000)
PO = "urn:epcglobal:cbv:bt:0614141000005:PO-7"
PARTY = "urn:epc:id:pgln:0614141.00001"
# a trade partner's goods (no code of ours: an admin's capture stores them, no lifecycle step)
A, B, C = (f"urn:epc:id:sgtin:0614141.107346.{n}" for n in (2017, 2018, 2019))
LOT_IN, LOT_OUT = "urn:epc:class:lgtin:4012345.012345.998877", "urn:epc:class:lgtin:4012345.099988.2014-02-10"


def _event(kind: str, minute: int, eid: str, **fields) -> dict:
    return {"type": kind, "eventID": eid, "eventTime": f"2026-11-30T09:{minute:02d}:00.000+08:00",
            "eventTimeZoneOffset": "+08:00", **fields}


EVENTS = [
    _event("ObjectEvent", 5, "urn:uuid:00000000-0000-4000-8000-000000000001", action="OBSERVE", bizStep="shipping",
           epcList=[A, B], bizTransactionList=[{"type": "po", "bizTransaction": PO}],
           sourceList=[{"type": "owning_party", "source": PARTY}],
           destinationList=[{"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00002"}]),
    _event("TransactionEvent", 1, "urn:uuid:00000000-0000-4000-8000-000000000002", action="ADD",
           epcList=[C], bizTransactionList=[{"type": "po", "bizTransaction": PO},
                                            {"type": "inv", "bizTransaction": "urn:x:inv:9"}]),
    _event("TransformationEvent", 3, "urn:uuid:00000000-0000-4000-8000-000000000003", bizStep="commissioning",
           inputEPCList=[A], outputEPCList=[C],
           inputQuantityList=[{"epcClass": LOT_IN, "quantity": 12, "uom": "KGM"}],
           outputQuantityList=[{"epcClass": LOT_OUT, "quantity": 10, "uom": "KGM"}]),
    _event("ObjectEvent", 9, "urn:uuid:00000000-0000-4000-8000-000000000004", action="OBSERVE",
           bizStep="receiving", epcList=[B], bizTransactionList=[{"type": "inv", "bizTransaction": PO}]),
]
IDS = [e["eventID"] for e in EVENTS]


def _doc(*events) -> bytes:
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                       "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00.000+08:00",
                       "epcisBody": {"eventList": list(events)}}).encode()


def _finished(client, p, r, who="admin") -> dict:
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while True:
        job = client.get(r.headers["location"], headers=p.auth(who)).json()
        if not job["running"]:
            return job
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.fixture(scope="module")
def schema():
    return json.loads(need(SCHEMA).read_text())


@pytest.fixture(scope="module")
def site(tmp_path_factory, schema):
    p = Platform(tmp_path_factory.mktemp("epcisq"), count=4)
    with serving(create_app(p.svc, base_url=BASE_URL, settings=SETTINGS)) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        # one event per capture: record times in the order of EVENTS, event times not
        for ev in EVENTS:
            r = client.post("/epcis/capture", content=_doc(ev), headers={**LD, **p.auth("admin")})
            job = _finished(client, p, r)
            assert job["success"], job["errors"]
            time.sleep(0.003)   # record times a few ms apart
        yield p, client
    p.close()


def _get(site, schema, path, params=None, who="admin") -> tuple[list, httpx.Response]:
    p, client = site
    r = client.get(path, params=params or {}, headers=p.auth(who))
    assert r.status_code == 200, r.text
    jsonschema.validate(r.json(), schema)
    return r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"], r


def _ids(site, schema, params, path="/epcis/events", who="admin") -> list:
    return [IDS.index(e["eventID"]) for e in _get(site, schema, path, params, who)[0]]


def _problem(r, status, field=None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    if field is not None:
        assert body["field"] == field, body
    return body


def test_filters_of_the_table(site, schema):
    assert _ids(site, schema, {"EQ_action": "ADD"}) == [1]
    assert _ids(site, schema, {"EQ_action": "OBSERVE|ADD", "EQ_bizStep": "shipping"}) == [0]
    assert _ids(site, schema, {"EQ_eventID": f"{IDS[3]}|{IDS[0]}"}) == [0, 3]
    # a transaction number, by its type in any CBV spelling: not the same id under another type
    assert _ids(site, schema, {"EQ_bizTransaction_po": PO}) == [0, 1]
    assert _ids(site, schema, {"EQ_bizTransaction_https://ref.gs1.org/cbv/BTT-po": PO}) == [0, 1]
    assert _ids(site, schema, {"EQ_bizTransaction_urn:epcglobal:cbv:btt:po": PO}) == [0, 1]
    assert _ids(site, schema, {"EQ_bizTransaction_inv": f"{PO}|urn:x:inv:9"}) == [1, 3]
    assert _ids(site, schema, {"EQ_source_owning_party": PARTY}) == [0]
    assert _ids(site, schema, {"EQ_source_owning_party": PARTY, "EQ_bizTransaction_inv": PO}) == []
    assert _ids(site, schema, {"EQ_destination_owning_party": "urn:epc:id:pgln:0614141.00002"}) == [0]
    # inputs and outputs of a transformation, instance and class level
    assert _ids(site, schema, {"MATCH_inputEPC": A}) == [2]
    assert _ids(site, schema, {"MATCH_outputEPC": C}) == [2]
    assert _ids(site, schema, {"MATCH_epc": C}) == [1]
    assert _ids(site, schema, {"MATCH_anyEPC": C}) == [1, 2]
    assert _ids(site, schema, {"MATCH_outputEPCClass": LOT_OUT}) == [2]
    assert _ids(site, schema, {"MATCH_anyEPCClass": LOT_IN}) == [2]
    assert _ids(site, schema, {"MATCH_epcClass": LOT_IN}) == []


def test_order_and_count_limit(site, schema):
    by_time = [1, 2, 0, 3]                       # eventTime 09:01, 09:03, 09:05, 09:09
    assert _ids(site, schema, {}) == by_time
    assert _ids(site, schema, {"orderBy": "eventTime"}) == by_time[::-1]         # DESC by default
    assert _ids(site, schema, {"orderBy": "eventTime", "orderDirection": "ASC"}) == by_time
    assert _ids(site, schema, {"orderBy": "recordTime", "orderDirection": "asc"}) == [0, 1, 2, 3]
    assert _ids(site, schema, {"orderBy": "recordTime"}) == [3, 2, 1, 0]
    assert _ids(site, schema, {"MATCH_anyEPC": B, "orderBy": "eventTime"}) == [3, 0]
    # eventCountLimit over pages: 3 events in all, 2 a page, the second page's link ends it
    p, client = site
    events, r = _get(site, schema, "/epcis/events", {"eventCountLimit": "3", "perPage": "2", "orderBy": "recordTime",
                                                     "orderDirection": "ASC"})
    assert [IDS.index(e["eventID"]) for e in events] == [0, 1]
    link = r.headers["link"]
    assert link.startswith(f"<{BASE_URL}/epcis/events?") and link.endswith('>; rel="next"')
    target = httpx.URL(link[1:link.index(">")])
    events, r = _get(site, schema, target.path, dict(httpx.QueryParams(target.query)))
    assert [IDS.index(e["eventID"]) for e in events] == [2] and "link" not in r.headers
    # every order pages to the same events as one page does
    for params in ({"orderBy": "eventTime"}, {"orderBy": "recordTime", "orderDirection": "ASC"},
                   {"MATCH_anyEPC": B, "orderBy": "eventTime", "orderDirection": "ASC"}, {}):
        whole = _ids(site, schema, params)
        paged, query = [], {**params, "perPage": "1"}
        while True:
            events, r = _get(site, schema, "/epcis/events", query)
            paged += [IDS.index(e["eventID"]) for e in events]
            if "link" not in r.headers:
                break
            target = httpx.URL(r.headers["link"][1:r.headers["link"].index(">")])
            query = dict(httpx.QueryParams(target.query))
        assert paged == whole, params


def test_bad_parameters_are_400_naming_them(site):
    p, client = site
    admin = p.auth("admin")
    for params, field in [({"EQ_action": "MOVE"}, "EQ_action"), ({"orderBy": "bizStep"}, "orderBy"),
                          ({"orderDirection": "ASC"}, "orderDirection"),
                          ({"orderBy": "eventTime", "orderDirection": "UP"}, "orderDirection"),
                          ({"eventCountLimit": "0"}, "eventCountLimit"), ({"eventCountLimit": "x"}, "eventCountLimit"),
                          ({"EQ_bizTransaction_": "x"}, "EQ_bizTransaction_"), ({"EQ_quantity": "3 kg"}, "EQ_quantity"),
                          ({"EQ_source_owning_party": ""}, "EQ_source_owning_party"),
                          ({"MATCH_inputEPC": A, "MATCH_outputEPC": C}, "MATCH_outputEPC"),
                          ({"eventCountLimit": "5", "nextPageToken": "c9.e00"}, "nextPageToken")]:
        body = _problem(client.get("/epcis/events", params=params, headers=admin), 400, field)
        assert body["type"] == "epcisException:QueryParameterException", params


def test_event_by_its_id(site, schema):
    p, client = site
    events, _ = _get(site, schema, "/epcis/events/" + quote(IDS[2], safe=""))
    assert [e["eventID"] for e in events] == [IDS[2]] and events[0]["type"] == "TransformationEvent"
    _problem(client.get("/epcis/events/" + quote("urn:uuid:00000000-0000-4000-8000-00000000ffff", safe=""),
                        headers=p.auth("admin")), 404)
    # the issuer of another product may not read a partner's event: not said to exist
    _problem(client.get("/epcis/events/" + quote(IDS[2], safe=""), headers=p.auth("issuer")), 404)
    _problem(client.get("/epcis/events/" + quote(IDS[2], safe=""), headers=p.auth("scanner")), 403)
    _problem(client.get("/epcis/events/" + quote(IDS[2], safe="") + "?perPage=3", headers=p.auth("admin")), 400)


def test_capture_jobs_of_the_caller(site):
    p, client = site
    r = client.get("/epcis/capture", headers=p.auth("admin"))
    assert r.status_code == 200
    jobs = r.json()
    assert len(jobs) == len(EVENTS) and all(j["success"] for j in jobs)
    assert [j["createdAt"] for j in jobs] == sorted((j["createdAt"] for j in jobs), reverse=True)   # newest first
    first = client.get("/epcis/capture", params={"perPage": "3"}, headers=p.auth("admin"))
    assert len(first.json()) == 3 and 'rel="next"' in first.headers["link"]
    target = httpx.URL(first.headers["link"][1:first.headers["link"].index(">")])
    rest = client.get(target.path, params=dict(httpx.QueryParams(target.query)), headers=p.auth("admin"))
    assert [j["captureID"] for j in first.json() + rest.json()] == [j["captureID"] for j in jobs]
    assert client.get("/epcis/capture", headers=p.auth("regulator")).json() == []   # its own: none
    _problem(client.get("/epcis/capture", headers=p.auth("scanner")), 403)
    _problem(client.get("/epcis/capture", params={"EQ_action": "ADD"}, headers=p.auth("admin")), 400, "EQ_action")


def test_named_queries_per_owner(site, schema):
    p, client = site
    admin, reg = p.auth("admin"), p.auth("regulator")
    body = {"name": "po-7 shipments", "query": {"EQ_bizTransaction_po": [PO], "orderBy": "eventTime",
                                                "orderDirection": "ASC"}}
    r = client.post("/epcis/queries", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/epcis/queries/" + quote("po-7 shipments")
    assert r.json()["name"] == "po-7 shipments" and r.json()["query"]["EQ_bizTransaction_po"] == [PO]
    _problem(client.post("/epcis/queries", json=body, headers=admin), 409, "name")      # never replaced
    assert client.post("/epcis/queries", json=body, headers=reg).status_code == 201     # another owner's
    listed = client.get("/epcis/queries", headers=admin).json()
    assert [q["name"] for q in listed] == ["po-7 shipments"]
    got = client.get("/epcis/queries/" + quote("po-7 shipments"), headers=admin).json()
    assert got["query"] == {k: v if isinstance(v, list) else [v] for k, v in body["query"].items()}   # lists
    assert _ids(site, schema, {}, "/epcis/queries/" + quote("po-7 shipments") + "/events") == [1, 0]
    events, r = _get(site, schema, "/epcis/queries/" + quote("po-7 shipments") + "/events", {"perPage": "1"})
    assert r.json()["epcisBody"]["queryResults"]["queryName"] == "po-7 shipments" and len(events) == 1
    target = httpx.URL(r.headers["link"][1:r.headers["link"].index(">")])
    more, _ = _get(site, schema, target.path, dict(httpx.QueryParams(target.query)))
    assert [e["eventID"] for e in events + more] == [IDS[1], IDS[0]]
    _problem(client.get("/epcis/queries/" + quote("po-7 shipments") + "/events", params={"EQ_action": "ADD"},
                        headers=admin), 400, "EQ_action")
    # a definition is checked when it is given
    for bad, field in [({"name": "x", "query": {"EQ_action": ["MOVE"]}}, "EQ_action"),
                       ({"name": "a/b", "query": {}}, "name"), ({"name": "", "query": {}}, "name"),
                       ({"query": {}}, "name"), ({"name": "x", "query": {"EQ_exception": ["urn:x"]}}, "EQ_exception")]:
        _problem(client.post("/epcis/queries", json=bad, headers=admin), 400, field)
    _problem(client.post("/epcis/queries", content=b"{", headers={**admin, "content-type": "application/json"}), 400)
    assert client.delete("/epcis/queries/" + quote("po-7 shipments"), headers=admin).status_code == 204
    _problem(client.delete("/epcis/queries/" + quote("po-7 shipments"), headers=admin), 404)
    _problem(client.get("/epcis/queries/" + quote("po-7 shipments") + "/events", headers=admin), 404)
    assert client.get("/epcis/queries/" + quote("po-7 shipments"), headers=reg).status_code == 200   # still there
    _problem(client.get("/epcis/queries", headers=p.auth("scanner")), 403)
    _problem(client.get("/epcis/queries"), 401)


def test_openapi_lists_the_table(site):
    p, client = site
    from tracecode.app.epcis_params import PARAMETERS
    doc = client.get("/api/v1/openapi.json").json()
    names = [q["name"] for q in doc["paths"]["/epcis/events"]["get"]["parameters"]]
    assert names == list(PARAMETERS)
    assert "EQ_bizTransaction_{type}" in doc["paths"]["/epcis/events"]["get"]["description"]
    for path in ("/epcis/queries", "/epcis/queries/{queryName}", "/epcis/queries/{queryName}/events",
                 "/epcis/events/{eventID}"):
        assert path in doc["paths"], path
    assert "get" in doc["paths"]["/epcis/capture"]
