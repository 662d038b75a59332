"""EPCIS subscriptions over real HTTP (GS1's binding: POST/GET/DELETE
/epcis/queries/{name}/subscriptions, the WebSocket on the same path) and capture off the
event loop: a big capture answered 202 at once while other requests are answered."""
from __future__ import annotations

import json
import threading
import time

import httpx
import jsonschema
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tracecode.app import subscriptions
from tracecode.web.app import create_app
from tracecode.web.settings import WebSettings

from epcis_reference import SCHEMA, need
from subscription_receiver import Receiver
from test_epcis_subscriptions import allow_loopback, dl, put, running
from web_platform import BASE_URL, OTHER_GTIN, Platform
from web_server import serving

JSON = {"content-type": "application/json"}
SETTINGS = WebSettings(per_address=100_000, per_address_burst=100_000, per_product=100_000,
                       per_product_burst=100_000)


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setattr(subscriptions, "BASE_BACKOFF_S", 0.05)
    p = Platform(tmp_path, count=8)
    allow_loopback(p.dd.path)
    with serving(create_app(p.svc, base_url=BASE_URL, settings=SETTINGS)) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        yield p, client, url
    p.close()


def define(client, p, who: str, name: str, query: dict) -> None:
    r = client.post("/epcis/queries", json={"name": name, "query": query}, headers={**JSON, **p.auth(who)})
    assert r.status_code == 201, r.text


def test_subscribe_to_a_named_query_receive_rewind_unsubscribe(site):
    p, client, _ = site
    define(client, p, "regulator", "shipping", {"EQ_bizStep": ["shipping"]})
    with Receiver() as rx:
        r = client.post("/epcis/queries/shipping/subscriptions", headers={**JSON, **p.auth("regulator")},
                        json={"dest": rx.url, "signatureToken": "tok", "stream": True,
                              "initialRecordTime": "2020-01-01T00:00:00Z"})
        assert r.status_code == 201, r.text
        sub = r.json()
        assert r.headers["location"] == f"/epcis/queries/shipping/subscriptions/{sub['subscriptionID']}"
        assert sub["queryName"] == "shipping" and sub["stream"] is True and "signatureToken" not in sub
        assert sub["query"]["biz_steps"] == ["shipping"] and sub["initialRecordTime"].startswith("2020-01-01")
        sent = put(p, 3, step="shipping")
        put(p, 2, step="receiving")
        with running(p):
            rx.wait_for(lambda x: len(x.ids()) == 3)
            r = client.put(f"/epcis/queries/shipping/subscriptions/{sub['subscriptionID']}/bookmark",
                           json={"bookmark": 1}, headers={**JSON, **p.auth("regulator")})
            assert r.status_code == 200 and r.json()["bookmark"] == 1, r.text
            rx.wait_for(lambda x: len(x.ids()) == 5)
        assert rx.ids() == sent + sent[1:]
        body, headers = rx.deliveries[0]
        assert subscriptions.verify(body, "tok", headers["gs1-signature"])
        doc = json.loads(body)
        jsonschema.validate(doc, json.loads(need(SCHEMA).read_text()))    # GS1's EPCISQueryDocument
        assert doc["epcisBody"]["queryResults"]["tracecode:bookmark"] == int(headers["tracecode-bookmark"])
    listed = client.get("/epcis/queries/shipping/subscriptions", headers=p.auth("regulator"))
    assert listed.status_code == 200 and [s["subscriptionID"] for s in listed.json()] == [sub["subscriptionID"]]
    one = client.get(f"/epcis/queries/shipping/subscriptions/{sub['subscriptionID']}", headers=p.auth("regulator"))
    assert one.json()["delivered"] == 5 and one.json()["lastNotifiedAt"]
    # another client neither sees nor ends it
    other = client.get(f"/epcis/queries/shipping/subscriptions/{sub['subscriptionID']}", headers=p.auth("issuer"))
    assert other.status_code == 404
    assert client.delete(f"/epcis/queries/shipping/subscriptions/{sub['subscriptionID']}",
                         headers=p.auth("issuer")).status_code == 404
    assert client.delete(f"/epcis/queries/shipping/subscriptions/{sub['subscriptionID']}",
                         headers=p.auth("regulator")).status_code == 204
    assert client.get("/epcis/queries/shipping/subscriptions", headers=p.auth("regulator")).json() == []


@pytest.mark.parametrize("body, status, field", [
    ({"dest": "ftp://x/", "stream": True}, 400, "dest"),
    ({"dest": "http://x/"}, 400, "stream"),
    ({"dest": "http://x/", "stream": "yes"}, 400, "stream"),
    ({"dest": "http://x/", "schedule": {"hour": "25"}}, 400, "schedule"),
    ({"dest": "http://x/", "stream": True, "secret": "x"}, 400, "secret"),
    ({"dest": "http://x/", "stream": True, "initialRecordTime": "yesterday"}, 400, "initialRecordTime"),
])
def test_a_bad_subscription_is_a_400_naming_the_field(site, body, status, field):
    p, client, _ = site
    define(client, p, "admin", "q", {})
    r = client.post("/epcis/queries/q/subscriptions", json=body, headers={**JSON, **p.auth("admin")})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json") and r.json()["field"] == field
    assert client.get("/epcis/queries/q/subscriptions", headers=p.auth("admin")).json() == []


def test_no_query_no_token_or_a_scanner_subscribes_nothing(site):
    p, client, _ = site
    good = {"dest": "http://x/", "stream": True}
    assert client.post("/epcis/queries/nope/subscriptions", json=good,
                       headers={**JSON, **p.auth("admin")}).status_code == 404
    assert client.post("/epcis/queries/nope/subscriptions", json=good, headers=JSON).status_code == 401
    assert client.post("/epcis/queries/nope/subscriptions", json=good,
                       headers={**JSON, **p.auth("scanner")}).status_code == 403
    r = client.options("/epcis/queries/q/subscriptions")
    assert r.status_code == 204 and "POST" in r.headers["allow"]


def test_websocket_streams_a_named_query_from_a_bookmark(site):
    p, client, url = site
    define(client, p, "issuer", "mine", {})
    own = put(p, 2, epc=dl(p.gs1[0]))
    put(p, 2, epc=dl(p.other_gs1[0]))             # another issuer's: never on this socket
    ws_url = url.replace("http://", "ws://") + "/epcis/queries/mine/subscriptions"
    headers = {"authorization": p.auth("issuer")["authorization"]}

    def events(msg):
        doc = json.loads(msg)
        assert doc["type"] == "EPCISQueryDocument"
        return [e["eventID"] for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]], \
            doc["epcisBody"]["queryResults"]["tracecode:bookmark"]

    with connect(ws_url + "?stream=true&bookmark=0", additional_headers=headers) as ws:
        got, mark = events(ws.recv(timeout=30))
        assert got == own and mark >= 2
        more = put(p, 3, epc=dl(p.gs1[1]))
        seen = []
        while len(seen) < 3:
            ids, mark = events(ws.recv(timeout=30))
            seen += ids
        assert seen == more
    later = put(p, 1, epc=dl(p.gs1[2]))
    with connect(f"{ws_url}?bookmark={mark}", additional_headers=headers) as ws:   # resumed where it stopped
        ids, _ = events(ws.recv(timeout=30))
        assert ids == later
    with connect(ws_url, additional_headers=headers) as ws:           # from now: nothing old
        fresh = put(p, 1, epc=dl(p.gs1[3]))
        ids, _ = events(ws.recv(timeout=30))
        assert ids == fresh
    for bad, who in ((ws_url, None), (ws_url + "?stream=false", "issuer"), (ws_url + "?x=1", "issuer"),
                     (ws_url.replace("/mine/", "/nope/"), "issuer"), (ws_url, "scanner")):
        with pytest.raises(InvalidStatus) as refused:
            with connect(bad, additional_headers={"authorization": p.auth(who)["authorization"]} if who else {}):
                pass
        assert refused.value.response.status_code == 403


def test_a_websocket_round_over_max_event_count_is_one_query_too_large_message_and_the_stream_goes_on(site):
    p, client, url = site
    define(client, p, "regulator", "capped", {"maxEventCount": ["3"]})   # the named query's own cap
    define(client, p, "regulator", "all", {})
    headers = {"authorization": p.auth("regulator")["authorization"]}
    base = url.replace("http://", "ws://") + "/epcis/queries/{}/subscriptions?bookmark=0"
    many = put(p, 5)

    def results(msg):
        doc = json.loads(msg)
        return doc, [e["eventID"] for e in doc.get("epcisBody", {}).get("queryResults", {})
                     .get("resultsBody", {}).get("eventList", [])]

    for ws_url in (base.format("capped"), base.format("all") + "&maxEventCount=3"):   # the cap given on the socket
        with connect(ws_url, additional_headers=headers) as ws:
            doc, ids = results(ws.recv(timeout=30))
            assert doc["type"] == "epcisException:QueryTooLargeException" and doc["status"] == 413, doc
            assert doc["maxEventCount"] == 3 and doc["fromBookmark"] == 0 and doc["bookmark"] >= 5 and ids == []
            few = put(p, 2)                  # at most 3: the stream goes on with the events
            doc, ids = results(ws.recv(timeout=30))
            assert doc["type"] == "EPCISQueryDocument" and ids == few
        many += few
    with connect(base.format("all"), additional_headers=headers) as ws:   # uncapped: every event
        seen = []
        while len(seen) < len(many):
            seen += results(ws.recv(timeout=30))[1]
        assert seen == many
    for bad in ("&maxEventCount=0", "&maxEventCount=x", "&maxEventCount=10001"):
        with pytest.raises(InvalidStatus) as refused:
            with connect(base.format("all") + bad, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403


def test_a_websocket_stream_ends_1008_when_its_client_loses_products_or_is_revoked(site):
    from websockets.exceptions import ConnectionClosed

    from tracecode.app.clients import ClientsFile
    p, client, url = site
    define(client, p, "issuer", "mine", {})
    ws_url = url.replace("http://", "ws://") + "/epcis/queries/mine/subscriptions"
    path = p.svc.clients.path

    def rewrite(change):
        f = ClientsFile.load(path)
        change(f)
        f.save()
        time.sleep(1.1)                                 # the clients file is re-read at most once a second

    def ends(ws, reason):
        put(p, 1, epc=dl(p.gs1[1]))
        with pytest.raises(ConnectionClosed) as closed:
            while True:                                 # no event reaches it: the stream ends
                assert "eventList" not in ws.recv(timeout=30)
        assert closed.value.rcvd.code == 1008 and reason in closed.value.rcvd.reason

    with connect(ws_url, additional_headers=p.auth("issuer")) as ws:
        first = put(p, 1, epc=dl(p.gs1[0]))
        doc = json.loads(ws.recv(timeout=30))
        assert [e["eventID"] for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == first
        rewrite(lambda f: [e.update(products=[f"gs1-sgtin:gtin={OTHER_GTIN}"]) for e in f.entries
                           if e["name"] == "brand"])        # its product taken off its list
        ends(ws, "permission_denied")
    with connect(ws_url, additional_headers=p.auth("issuer")) as ws:   # reconnected under its rights now
        rewrite(lambda f: f.revoke("brand"))
        ends(ws, "unauthenticated")


@pytest.mark.parametrize("mark", ["%C2%B2", "-1", "1e3", "9" * 30])
def test_a_websocket_bookmark_that_is_not_a_seq_is_refused(site, mark):
    p, client, url = site
    define(client, p, "issuer", "mine", {})
    ws_url = url.replace("http://", "ws://") + f"/epcis/queries/mine/subscriptions?bookmark={mark}"
    with pytest.raises(InvalidStatus) as refused:
        with connect(ws_url, additional_headers=p.auth("issuer")):
            pass
    assert refused.value.response.status_code == 403


def _big_document(n: int) -> bytes:
    events = [{"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
               "eventID": f"urn:uuid:6d0e1c0e-0000-4000-8000-{i:012d}",
               "eventTime": "2026-11-30T09:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
               "epcList": [f"urn:epc:id:sgtin:0614141.107346.{i * 5 + k}" for k in range(5)]} for i in range(n)]
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                       "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-12-01T08:00:00Z",
                       "epcisBody": {"eventList": events}}).encode()


def test_a_big_capture_runs_off_the_event_loop(site):
    need(SCHEMA)
    p, client, url = site
    body = _big_document(10_000)
    started = time.monotonic()
    r = client.post("/epcis/capture", content=body, headers={"content-type": "application/ld+json",
                                                              **p.auth("admin")})
    answered = time.monotonic() - started
    assert r.status_code == 202, r.text
    location = r.headers["location"]
    # while the job runs, other requests are answered (a second client, its own connection)
    answers, running_seen = [], False
    with httpx.Client(base_url=url, timeout=60) as other:
        while True:
            t0 = time.monotonic()
            assert other.get("/healthz").status_code == 200
            answers.append(time.monotonic() - t0)
            job = other.get(location, headers=p.auth("admin")).json()
            if not job["running"]:
                break
            running_seen = True
            time.sleep(0.05)
    assert job["success"] is True and job["counts"]["stored"] == 10_000, job["errors"][:3]
    assert running_seen, f"the capture was done before the 202 ({answered:.2f} s): too small to tell"
    print(f"202 after {answered:.3f} s; {len(answers)} /healthz answered while capturing, "
          f"slowest {max(answers):.3f} s")
    assert r.json()["running"] is True


def test_captures_queue_one_at_a_time_and_each_finishes(site):
    need(SCHEMA)
    p, client, _ = site
    docs = [_big_document(50) for _ in range(3)]
    results = []

    def post(doc):
        results.append(client.post("/epcis/capture", content=doc, headers={"content-type": "application/ld+json",
                                                                           **p.auth("admin")}))
    threads = [threading.Thread(target=post, args=(d,)) for d in docs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 202 for r in results)
    deadline = time.monotonic() + 120
    jobs = []
    for r in results:
        while True:
            job = client.get(r.headers["location"], headers=p.auth("admin")).json()
            if not job["running"]:
                jobs.append(job)
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
    # the same 50 events three times: stored once, acknowledged as already stored twice
    assert sorted(j["counts"]["stored"] for j in jobs) == [0, 0, 50]
    assert all(j["success"] for j in jobs)
