"""The EPCIS 2.0 REST binding over real HTTP (uvicorn on loopback, web/epcis.py): capture of
GS1's example documents (202, Location, the job), queries back by EPC and type with paging
(Link rel="next"), rollback and proceed, the binding's problems (400, 401, 403, 404, 406,
413, 415), discovery (OPTIONS), and the answers checked against GS1's own files: query
documents against the EPCIS JSON schema, capture jobs against the binding's CaptureJob."""
from __future__ import annotations

import doctest
import importlib
import json
import time
from urllib.parse import quote

import httpx
import jsonschema
import pytest

from tracecode.web.app import create_app
from tracecode.web.settings import WebSettings

from web_platform import BASE_URL, GTIN, Platform
from web_server import serving
from epcis_reference import EXAMPLES, REFERENCE, SCHEMA, need

BINDING = REFERENCE / "schema" / "epcis-rest-openapi.json"
LD = {"content-type": "application/ld+json"}
SETTINGS = WebSettings(per_address=100_000, per_address_burst=100_000, per_product=100_000,
                       per_product_burst=100_000, max_capture_bytes=32 << 10, max_capture_events=50)
# (a body over the bound small enough for the loopback socket's buffers: the server answers 413
# from Content-Length without reading it, and a client still writing would see a reset instead)



@pytest.fixture(scope="module")
def site(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("epcis"), count=8)
    with serving(create_app(p.svc, base_url=BASE_URL, settings=SETTINGS)) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        yield p, client
    p.close()


@pytest.fixture(scope="module")
def schema():
    return json.loads(need(SCHEMA).read_text())


def _epc(element: str) -> str:
    """Our GS1 code (the element string 01...21...) as a Digital Link EPC."""
    assert element.startswith("01") and element[16:18] == "21"
    return f"https://id.gs1.org/01/{element[2:16]}/21/{element[18:]}"


def _doc(*events) -> bytes:
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                       "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00.000+08:00",
                       "epcisBody": {"eventList": list(events)}}).encode()


def _shipping(epcs, minute: int = 0, **extra) -> dict:
    return {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
            "eventTime": f"2026-11-30T09:{minute:02d}:00.000+08:00", "eventTimeZoneOffset": "+08:00",
            "epcList": list(epcs), "readPoint": {"id": "urn:epc:id:sgln:0950600.01340.0"}, **extra}


def _capture(client, p, body: bytes, who: str = "admin", headers: dict | None = None) -> httpx.Response:
    return client.post("/epcis/capture", content=body, headers={**LD, **p.auth(who), **(headers or {})})


def _job(client, p, response, who: str = "admin") -> dict:
    """The finished job of a capture (answered at once as running: polled until it is done)."""
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    assert location.startswith("/epcis/capture/")
    deadline = time.monotonic() + 120
    while True:
        r = client.get(location, headers=p.auth(who))
        assert r.status_code == 200, r.text
        job = r.json()
        if not job["running"]:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
    assert job["captureID"] == location.rsplit("/", 1)[1] == response.json()["captureID"]
    return job


def _problem(r, status: int, kind: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == f"epcisException:{kind}" and body["status"] == status and body["title"]
    return body


def _all_pages(client, p, path: str, params: dict, who: str = "admin") -> tuple[list, int]:
    """Every event of a query, following Link rel="next"; (the events, pages read)."""
    events, pages = [], 0
    url, query = path, params
    while True:
        r = client.get(url, params=query, headers=p.auth(who))
        assert r.status_code == 200, r.text
        pages += 1
        events += r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        link = r.headers.get("link")
        if link is None:
            return events, pages
        assert link.endswith('>; rel="next"') and link.startswith(f"<{BASE_URL}/epcis/")
        target = httpx.URL(link[1:link.index(">")])
        url, query = target.path, dict(httpx.QueryParams(target.query))
        assert pages < 100


@pytest.mark.parametrize("name", ["epcis", "epcis_params", "epcis_problem", "epcis_openapi"])
def test_epcis_web_doctests(name):
    module = importlib.import_module(f"tracecode.web.{name}")
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


# -- capture -----------------------------------------------------------------------------------
def test_gs1_examples_are_captured_and_queried_back(site, schema):
    p, client = site
    binding = json.loads(need(BINDING).read_text())
    # the binding's CaptureJob: its properties, and its errors branch (the schema's own oneOf of
    # "errors" or "errorFile" names no required member, so any object matches both: not usable)
    parts = binding["components"]["schemas"]["CaptureJob"]["allOf"]
    job_schema = {"allOf": [parts[0], parts[1]["oneOf"][0]], "required": ["captureID", "running", "success",
                                                                         "captureErrorBehaviour", "errors"],
                  "components": binding["components"]}
    examples = sorted(need(EXAMPLES).glob("*.jsonld"))
    assert examples
    total = 0
    for path in examples:
        r = _capture(client, p, path.read_bytes())
        assert r.headers["gs1-epcis-version"] == "2.0.0" and r.headers["gs1-cbv-version"] == "2.0.0"
        job = _job(client, p, r)
        jsonschema.validate(job, job_schema)           # the binding's CaptureJob
        assert job["success"] is True and job["running"] is False, (path.name, job["errors"])
        assert job["captureErrorBehaviour"] == "rollback" and job["errors"] == []
        total += job["counts"]["events"]
    # every example event, read back page by page, each page an EPCISQueryDocument of GS1's schema
    first = client.get("/epcis/events", params={"perPage": 3}, headers=p.auth("admin"))
    jsonschema.validate(first.json(), schema)
    assert first.headers["content-type"].startswith("application/ld+json")
    events, pages = _all_pages(client, p, "/epcis/events", {"perPage": 3})
    assert pages >= 2
    ids = [json.dumps(e, sort_keys=True) for e in events]
    assert len(ids) == len(set(ids))                   # no event twice across pages
    assert len(events) >= total - 2                    # examples repeat two events (9.6.1 and the query document)

    # by EPC (an EPC URI of GS1's example) and by type, through the resource endpoints too
    epc = "urn:epc:id:sgtin:0614141.107346.2017"
    found, _ = _all_pages(client, p, "/epcis/events", {"MATCH_epc": epc, "perPage": 1})
    assert found and all(epc in e.get("epcList", []) + e.get("childEPCs", []) for e in found)
    assert any(e["type"] == "ObjectEvent" for e in found) and any(e["type"] == "AggregationEvent" for e in found)
    by_path, _ = _all_pages(client, p, f"/epcis/epcs/{quote(epc, safe='')}/events", {})
    assert {json.dumps(e, sort_keys=True) for e in by_path} >= {json.dumps(e, sort_keys=True) for e in found}
    aggregations, _ = _all_pages(client, p, "/epcis/events", {"eventType": "AggregationEvent"})
    assert aggregations and all(e["type"] == "AggregationEvent" for e in aggregations)
    typed, _ = _all_pages(client, p, "/epcis/events/AggregationEvent", {})
    assert len(typed) == len(aggregations)
    two, _ = _all_pages(client, p, "/epcis/events", {"eventType": "TransformationEvent|AssociationEvent"})
    assert {e["type"] for e in two} == {"TransformationEvent", "AssociationEvent"}
    shipped, _ = _all_pages(client, p, "/epcis/bizSteps/shipping/events", {})
    assert shipped and all(e["bizStep"] == "shipping" for e in shipped)
    spelled, _ = _all_pages(client, p, "/epcis/events", {"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-shipping"})
    assert len(spelled) == len(shipped)
    early, _ = _all_pages(client, p, "/epcis/events", {"LT_eventTime": "2006-01-01T00:00:00Z"})
    assert early and all(e["eventTime"] < "2006" for e in early)

    # capturing the same document again is idempotent: nothing new is stored
    again = _job(client, p, _capture(client, p, examples[0].read_bytes()))
    assert again["success"] and again["counts"]["stored"] == 0 and again["counts"]["already_stored"] >= 1


def test_rollback_and_proceed(site):
    need(SCHEMA)  # capture validates against GS1's schema
    p, client = site
    good, other = _epc(p.gs1[0]), _epc(p.gs1[1])
    bad = _shipping(["not an EPC"], minute=1)
    body = _doc(_shipping([good]), bad)

    job = _job(client, p, _capture(client, p, body, "issuer"), "issuer")    # rollback by default
    assert job["success"] is False and job["captureErrorBehaviour"] == "rollback"
    assert job["counts"]["stored"] == 0
    assert any(e["pointer"].startswith("/epcisBody/eventList/1") for e in job["errors"])
    assert all(e["instance"] == "#" + e["pointer"] and e["type"].startswith("epcisException:")
               for e in job["errors"])
    assert _events_of(client, p, good, "issuer") == []

    job = _job(client, p, _capture(client, p, body, "issuer", {"GS1-Capture-Error-Behaviour": "proceed"}),
               "issuer")
    assert job["success"] is False and job["captureErrorBehaviour"] == "proceed"
    assert job["counts"]["stored"] == 1 and job["counts"]["failed"] == 1 and job["counts"]["applied"] == 1
    [error] = job["errors"]
    assert error["pointer"].startswith("/epcisBody/eventList/1")
    [stored] = _events_of(client, p, good, "issuer")
    assert stored["bizStep"] == "shipping" and stored["epcList"] == [good]
    assert "ship" in [e["action"] for e in p.svc.history(_admin(p), p.gs1[0])[0]]   # the lifecycle moved

    # the same document in rollback, both good: stored, and the other issuer sees none of it
    job = _job(client, p, _capture(client, p, _doc(_shipping([other], minute=2)), "issuer"), "issuer")
    assert job["success"] is True and job["counts"]["stored"] == 1
    assert _events_of(client, p, other, "other_issuer") == []
    assert len(_events_of(client, p, other, "regulator")) == 1

    r = _capture(client, p, body, "issuer", {"GS1-Capture-Error-Behaviour": "all"})
    assert _problem(r, 400, "ValidationException")["field"] == "GS1-Capture-Error-Behaviour"


def _admin(p):
    from tracecode.app.caller import LOCAL
    return LOCAL


def _events_of(client, p, epc: str, who: str) -> list:
    r = client.get("/epcis/events", params={"MATCH_epc": epc}, headers=p.auth(who))
    assert r.status_code == 200, r.text
    return r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def test_an_issuer_cannot_capture_other_companies_codes(site):
    need(SCHEMA)  # capture validates against GS1's schema
    p, client = site
    job = _job(client, p, _capture(client, p, _doc(_shipping([_epc(p.other_gs1[0])])), "issuer"), "issuer")
    assert job["success"] is False and job["counts"]["stored"] == 0
    [error] = job["errors"]
    assert error["status"] == 403 and error["type"] == "epcisException:SecurityException"
    # nor read another caller's job: it is not said to exist
    r = client.get(f"/epcis/capture/{job['captureID']}", headers=p.auth("other_issuer"))
    _problem(r, 404, "NoSuchNameException")
    assert client.get(f"/epcis/capture/{job['captureID']}", headers=p.auth("regulator")).status_code == 200


# -- the binding's refusals -------------------------------------------------------------------
def test_media_types_sizes_and_versions(site):
    need(SCHEMA)  # capture validates against GS1's schema
    p, client = site
    body = _doc(_shipping([_epc(p.gs1[2])]))
    r = client.post("/epcis/capture", content=body, headers={"content-type": "text/plain", **p.auth("admin")})
    assert _problem(r, 415, "UnsupportedMediaTypeException")["field"] == "content-type"
    r = client.post("/epcis/capture", content=body, headers={"content-type": "application/json", **p.auth("admin")})
    assert r.status_code == 202                      # plain JSON as well as JSON-LD

    urn = f"urn:epc:id:sgtin:9506000.013435.{p.gs1[6][18:]}"     # GTIN 0 9506000 13435 2
    xml = ('<?xml version="1.0" encoding="UTF-8"?><epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
           'schemaVersion="2.0" creationDate="2026-12-01T08:00:00+08:00"><EPCISBody><EventList><ObjectEvent>'
           '<eventTime>2026-11-30T09:40:00.000+08:00</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>'
           f'<epcList><epc>{urn}</epc></epcList><action>OBSERVE</action>'
           '<bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep><disposition>urn:epcglobal:cbv:disp:in_transit'
           '</disposition></ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>')
    r = client.post("/epcis/capture", content=xml.encode(), headers={"content-type": "application/xml",
                                                                     **p.auth("issuer")})
    job = _job(client, p, r, "issuer")
    assert job["success"] and job["counts"]["applied"] == 1, job["errors"]
    assert _events_of(client, p, _epc(p.gs1[6]), "issuer")       # found by its Digital Link too

    big = _doc(_shipping([_epc(p.gs1[2])], **{"example:pad": "x" * (40 << 10)}))
    r = _capture(client, p, big)
    _problem(r, 413, "CaptureLimitExceededException")
    assert r.headers["gs1-epcis-capture-file-size-limit"] == str(32 << 10)
    many = _doc(*[_shipping([f"urn:epc:id:sgtin:0614141.107346.{i}"], minute=i % 60) for i in range(51)])
    r = _capture(client, p, many)
    assert "51 events" in _problem(r, 413, "CaptureLimitExceededException")["detail"]
    assert r.headers["gs1-epcis-capture-limit"] == "50"

    r = _capture(client, p, body, headers={"GS1-EPCIS-Version": "1.2"})
    _problem(r, 406, "NotAcceptableException")
    versions = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0"}
    assert _capture(client, p, body, headers=versions).status_code == 202

    r = _capture(client, p, b"{not json")
    job = _job(client, p, r)                          # received: the job says why nothing was captured
    assert job["success"] is False and job["errors"]


def test_who_may_call(site):
    p, client = site
    body = _doc(_shipping([_epc(p.gs1[3])]))
    r = client.post("/epcis/capture", content=body, headers=LD)
    _problem(r, 401, "SecurityException")
    assert r.headers["www-authenticate"].startswith("Bearer")
    _problem(client.get("/epcis/events"), 401, "SecurityException")
    _problem(client.get("/epcis/events", headers={"authorization": "Bearer nope"}), 401, "SecurityException")
    _problem(_capture(client, p, body, "scanner"), 403, "SecurityException")
    _problem(client.get("/epcis/events", headers=p.auth("scanner")), 403, "SecurityException")
    _problem(client.get("/epcis/capture/x", headers=p.auth("scanner")), 403, "SecurityException")


def test_query_parameters_are_checked(site):
    p, client = site
    admin = p.auth("admin")
    for params, field in [({"EQ_exception": "urn:x"}, "EQ_exception"), ({"perPage": "0"}, "perPage"),
                          ({"perPage": "abc"}, "perPage"), ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
                          ({"GE_eventTime": "2024-01-01T00:00:00"}, "GE_eventTime"),
                          ({"eventType": "Shipping"}, "eventType"),
                          ({"MATCH_epc": "a", "MATCH_parentID": "b"}, "MATCH_parentID"),
                          ({"GE_eventTime": "2024-02-01T00:00:00Z", "LT_eventTime": "2024-01-01T00:00:00Z"},
                           "LT_eventTime"),
                          ({"nextPageToken": "forged"}, "nextPageToken"),
                          # digits to str.isdigit, not to int(): a 400, never a 500
                          ({"perPage": "\u00b2"}, "perPage"), ({"eventCountLimit": "\u00b2"}, "eventCountLimit"),
                          ({"eventCountLimit": "5", "nextPageToken": "c\u00b2.x"}, "nextPageToken")]:
        r = client.get("/epcis/events", params=params, headers=admin)
        assert _problem(r, 400, "QueryParameterException")["field"] == field, params
    for path in ("/epcis/capture", "/epcis/queries", "/epcis/queries/x/events"):
        r = client.get(path, params={"perPage": "\u00b2"}, headers=admin)
        assert r.status_code == 400 and r.json()["field"] == "perPage", (path, r.text)
    _problem(client.get("/epcis/events/urn:uuid:0b7b8d9e", headers=admin), 404, "NoSuchNameException")
    _problem(client.get("/epcis/nothing", headers=admin), 404, "NoSuchNameException")


def test_discovery_and_vocabularies(site, schema):
    p, client = site
    r = client.options("/epcis/capture")
    assert r.status_code == 204
    assert set(r.headers["allow"].split(", ")) == {"OPTIONS", "GET", "HEAD", "POST"}   # GET: the jobs
    assert r.headers["gs1-epcis-capture-limit"] == "50" and r.headers["gs1-capture-error-behaviour"] == "all"
    assert r.headers["gs1-epcis-max"] == "2.0.0" and r.headers["gs1-cbv-min"] == "2.0.0"
    assert client.options("/epcis/events").headers["allow"] == "OPTIONS, GET, HEAD"
    pre = client.options("/epcis/capture", headers={      # a browser app's preflight (CORS)
        "origin": "https://app.example.org", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, gs1-capture-error-behaviour"})
    assert pre.status_code == 200 and "POST" in pre.headers["access-control-allow-methods"]
    assert "gs1-capture-error-behaviour" in pre.headers["access-control-allow-headers"].lower()
    admin = p.auth("admin")
    top = client.get("/epcis", headers=admin).json()
    assert top["type"] == "Collection" and {"events", "capture", "epcs"} <= set(top["member"])
    assert client.get("/epcis/eventTypes", headers=admin).json()["member"] == [
        "ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"]
    defs = schema["definitions"]
    for path, name in (("/epcis/bizSteps", "bizStep"), ("/epcis/dispositions", "disposition")):
        listed = client.get(path, headers=admin).json()["member"]
        enum = next(a["enum"] for a in defs[name]["anyOf"] if "enum" in a)
        assert sorted(listed) == sorted(enum)        # CBV 2.0 as GS1's schema lists it


def test_capture_with_our_codes_reaches_the_lifecycle_and_the_answer(site, schema):
    p, client = site
    code = p.gs1[4]
    job = _job(client, p, _capture(client, p, _doc(_shipping([_epc(code)], minute=5)), "issuer"), "issuer")
    assert job["success"] and job["counts"]["applied"] == 1
    r = client.get(f"/epcis/epcs/{quote(_epc(code), safe='')}/events", headers=p.auth("issuer"))
    doc = r.json()
    jsonschema.validate(doc, schema)
    [event] = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert event["readPoint"] == {"id": "urn:epc:id:sgln:0950600.01340.0"} and event["recordTime"]
    assert GTIN in event["epcList"][0]


def test_a_full_capture_queue_is_429_with_retry_after(site):
    from tracecode.app.capture_runs import CaptureQueue
    p, client = site
    p.svc.drain_captures()
    p.svc._captures = CaptureQueue(total=0)   # as if this process had its captures waiting
    try:
        r = _capture(client, p, _doc(), "admin")
    finally:
        p.svc._captures = None
    assert r.status_code == 429 and r.headers["retry-after"] == "5", r.text
    assert r.json()["reason"] == "too_many_captures" and r.json()["retry_after"] == 5
