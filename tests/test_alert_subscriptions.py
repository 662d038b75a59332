"""Alerts delivered through EPCIS subscriptions (issue 17): an alert raised, opened again
on new evidence, or closed, is an ObjectEvent (bizStep urn:tracecode:bizstep:alert, the tracecode:alert
extension) in the store's EPCIS log, which a subscription selecting that bizStep delivers to
a REAL receiving HTTP server (tests/subscription_receiver.py) at least once, in order, across
a restart; valid against GS1's EPCIS 2.0 JSON schema; on the LMDB and the PostgreSQL store;
overseers' only."""
from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracecode
from tracecode.analytics.alerts import alert_id
from tracecode.app import alert_events, subscriptions
from tracecode.app.alertsapp import close_alert, store_alerts
from tracecode.app.caller import OPERATOR
from tracecode.app.service import Service
from tracecode import epcis
from tracecode.epcis import schema
from tracecode.store.port import EpcisQuery

from conftest import wait_until
from epcis_reference import SCHEMA, need
from subscription_receiver import Receiver, delivery_thread
from web_platform import GTIN, Platform

ALERTS = EpcisQuery(biz_steps=(alert_events.BIZ_STEP,))


def allow_loopback(datadir) -> None:
    """The receivers listen on 127.0.0.1: the operator's allow-list lets webhooks go there
    (the other settings, the store's URL among them, kept)."""
    import dataclasses

    from tracecode import settings
    settings.save(datadir, dataclasses.replace(settings.load(datadir),
                                               epcis={"webhook_allow": ["127.0.0.0/8", "::1/128"]}))


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(subscriptions, "BASE_BACKOFF_S", 0.05)
    monkeypatch.setattr(subscriptions, "MAX_BACKOFF_S", 0.5)


class World:
    """A data directory on one store, its Service, and bare GS1 codes to raise alerts on."""

    def __init__(self, path, store=None):
        self.path = path
        self.dd = tracecode.init(path, store=store) if store else tracecode.init(path)
        allow_loopback(path)
        batch = self.dd.issue("gs1-sgtin", {"gtin": GTIN}, 8)
        self.codes = [c.decode() for c in self.dd.issuer("gs1-sgtin", {"gtin": GTIN}).codes(batch.record.start, 8)]
        self.svc = Service(self.dd)

    def restart(self):
        """The Service closed and opened again (what a server restart does to it)."""
        self.svc.close()
        self.dd.close()
        self.dd = tracecode.open(self.path)
        self.svc = Service(self.dd)

    def close(self):
        self.svc.close()
        self.dd.close()


@pytest.fixture(params=["lmdb", "postgres"])
def w(request, tmp_path):
    store = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    world = World(tmp_path / "data", store)
    yield world
    world.close()


def alert(code: str, rule: str = "diversion", last: str = "2026-03-02T00:00:00.000000Z") -> dict:
    return {"id": alert_id(rule, code, "all"), "rule": rule, "severity": "high", "subject": code, "code": code,
            "product": f"gs1-sgtin:gtin={GTIN}", "region": "110000", "first_time": "2026-03-01T00:00:00.000000Z",
            "last_time": last, "window": "all", "evidence": {"shipped_to": "110000", "scanned_in": ["310000"],
                                                            "scans": 3}, "status": "open"}


def running(svc):
    """A DeliveryRunner over the Service in a thread with its own event loop."""
    return delivery_thread(svc)


def alert_ids(rx) -> list:
    return [label(e) for e in rx.events()]


def label(e: dict) -> str:
    """id/opening, and /closed for a closing."""
    x = e["tracecode:alert"]
    return f"{x['id']}/{x['opening']}" + ("/closed" if x["state"] == "closed" else "")


def test_raised_and_reopened_alerts_reach_the_subscriber_in_order_across_a_restart(w):
    need(SCHEMA)
    codes = w.codes
    with Receiver() as rx:
        sub = w.svc.subscribe(OPERATOR, "alerts", ALERTS, dest=rx.url, stream=True)
        with running(w.svc):
            store_alerts(w.svc, OPERATOR, [alert(codes[0]), alert(codes[1], "clone_velocity")])
            rx.wait_for(lambda r: len(r.events()) >= 2)
            rx.down()                               # the provincial platform goes down
            close_alert(w.svc, OPERATOR, alert(codes[0])["id"], "checked")
            store_alerts(w.svc, OPERATOR, [alert(codes[0], last="2026-03-05T00:00:00.000000Z")])  # opens again
            store_alerts(w.svc, OPERATOR, [alert(codes[0], last="2026-03-05T00:00:00.000000Z")])  # no news
        # stored while no server runs (tracecode analyze in another process): the store only
        w.svc.index.store.alerts_put([alert(codes[2], "impossible")])
        w.restart()
        rx.up()
        with running(w.svc):
            rx.wait_for(lambda r: len(set(alert_ids(r))) >= 5)
        first = list(dict.fromkeys(alert_ids(rx)))
        a0, a1 = alert(codes[0])["id"], alert(codes[1], "clone_velocity")["id"]
        a2 = alert(codes[2], "impossible")["id"]
        # in the order they were raised (one store call: one time, then by id), each once or more
        assert first == sorted([f"{a0}/0", f"{a1}/0"]) + [f"{a0}/0/closed", f"{a0}/1", f"{a2}/0"]
        state = w.svc.subscription(OPERATOR, sub["subscriptionID"])
        assert state["bookmark"] == w.svc.index.store.epcis_last_seq() and state["delivered"] >= 5
        for doc in rx.documents():   # every delivery as GS1's schema has it, and the CBV rules
            assert schema.validate(doc, need(SCHEMA)) == [], doc
            for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]:
                assert epcis.cbv_problems(e, "") == [], e
        (ev,) = [e for e in rx.events()[:2] if e["tracecode:alert"]["id"] == a0]
        assert ev["type"] == "ObjectEvent" and ev["action"] == "OBSERVE"
        assert ev["epcList"] == [f"https://id.gs1.org/01/{GTIN}/21/{codes[0][14:]}"]
        assert ev["tracecode:alert"]["evidence"] == {"shipped_to": "110000", "scanned_in": ["310000"], "scans": 3}
        assert ev["tracecode:alert"]["rule"] == "diversion" and ev["tracecode:alert"]["region"] == "110000"
        assert ev["tracecode:alert"]["state"] == "open"
        (shut,) = {label(e): e for e in rx.events() if e["tracecode:alert"]["state"] == "closed"}.values()
        assert shut["tracecode:alert"]["closedBy"] == OPERATOR.name and shut["tracecode:alert"]["note"] == "checked"
        assert shut["eventTime"] == shut["tracecode:alert"]["closedAt"] and shut["epcList"] == ev["epcList"]
    # the events are queryable like any other: by bizStep, and by the code's EPC
    found, _ = w.svc.query_events(OPERATOR, ALERTS)
    assert len(found) == 5
    by_code, _ = w.svc.query_epcis(OPERATOR, {"MATCH_epc": [f"https://id.gs1.org/01/{GTIN}/21/{codes[0][14:]}"]})
    assert [label(e).removeprefix(a0) for e in by_code] == ["/0", "/0/closed", "/1"]


def test_publishing_is_idempotent(w):
    store = w.svc.index.store
    store.alerts_put([alert(c) for c in w.codes[:3]])
    store.alert_close(alert(w.codes[2])["id"], by="inspector")
    assert alert_events.publish(w.svc) == 4            # three raised, one closed
    assert alert_events.publish(w.svc) == 0            # alerts_version stands
    assert alert_events.publish(w.svc, force=True) == 0   # swept again: the log has them
    before = store.epcis_last_seq()
    store_alerts(w.svc, OPERATOR, [alert(c) for c in w.codes[:2]])   # found again, no news
    assert store.epcis_last_seq() == before


def test_an_alert_stored_and_closed_between_sweeps_gives_its_raising_and_its_closing(w):
    """Another process (tracecode analyze, an inspector's close) stores an alert and closes it
    before this Service sweeps: both events go in, raising first; reopened and closed again
    between sweeps: each opening and each closing, in time order."""
    need(SCHEMA)
    from tracecode.epcis.export import CONTEXT
    store = w.svc.index.store
    a = alert(w.codes[0])
    alert_events.publish(w.svc)                        # this Service swept: nothing yet
    store.alerts_put([a])
    assert store.alert_close(a["id"], by="inspector-7", note="a shop's stock moved")
    assert alert_events.publish(w.svc) == 2
    raised, closed = w.svc.query_events(OPERATOR, ALERTS)[0]
    assert (label(raised), label(closed)) == (f"{a['id']}/0", f"{a['id']}/0/closed")
    assert closed["tracecode:alert"] | {"closedAt": None} == raised["tracecode:alert"] | {
        "state": "closed", "closedBy": "inspector-7", "note": "a shop's stock moved", "closedAt": None}
    assert closed["eventTime"] >= raised["eventTime"] and closed["eventID"] != raised["eventID"]
    for ev in (raised, closed):
        assert schema.validate_event(ev, CONTEXT, need(SCHEMA)) == [] and epcis.cbv_problems(ev, "") == []
    store.alerts_put([alert(w.codes[0], last="2026-03-05T00:00:00.000000Z")])   # opens again
    assert store.alert_close(a["id"], by="inspector-7")
    store.alerts_put([alert(w.codes[0], last="2026-03-06T00:00:00.000000Z")])   # and again
    assert store.alert_close(a["id"], by="inspector-8")
    assert alert_events.publish(w.svc) == 4
    assert alert_events.publish(w.svc, force=True) == 0
    found = w.svc.query_events(OPERATOR, ALERTS)[0]
    assert [label(e).removeprefix(a["id"]) for e in found] == \
        ["/0", "/0/closed", "/1", "/1/closed", "/2", "/2/closed"]
    assert [e["tracecode:alert"]["lastTime"] for e in found[2:4]] == ["2026-03-05T00:00:00.000000Z"] * 2
    assert found[-1]["tracecode:alert"]["closedBy"] == "inspector-8" and "note" not in found[-1]["tracecode:alert"]


def test_close_alert_puts_its_closing_in_the_log(w):
    a = alert(w.codes[1])
    store_alerts(w.svc, OPERATOR, [a])
    close_alert(w.svc, OPERATOR, a["id"], "seen")      # no sweep needed after it
    assert [label(e) for e in w.svc.query_events(OPERATOR, ALERTS)[0]] == [f"{a['id']}/0", f"{a['id']}/0/closed"]


def test_issuers_do_not_receive_alerts_on_their_own_codes(tmp_path):
    """Alerts are the overseers' (the alerts verb's rights): an issuer subscribed to every
    event, its own codes' included, gets none of the alert events; a regulator gets them."""
    p = Platform(tmp_path, count=2)
    try:
        allow_loopback(p.dd.path)
        code = p.gs1[0][2:16] + p.gs1[0][18:]
        issuer = p.svc.clients.by_token(p.tokens["issuer"])
        regulator = p.svc.clients.by_token(p.tokens["regulator"])
        with Receiver() as brand, Receiver() as inspector:
            p.svc.subscribe(issuer, "all", EpcisQuery(), dest=brand.url, stream=True)
            p.svc.subscribe(regulator, "alerts", ALERTS, dest=inspector.url, stream=True)
            with running(p.svc):
                store_alerts(p.svc, OPERATOR, [alert(code)])
                inspector.wait_for(lambda r: len(r.events()) == 1)
                seq = p.svc.index.store.epcis_last_seq()
                # the runner read the alert event for the brand too, and passed it over
                wait_until(lambda: p.svc.subscriptions(issuer)[0]["bookmark"] == seq, what="the brand's bookmark")
            assert brand.events() == []
        assert p.svc.query_events(issuer, ALERTS)[0] == []
        assert len(p.svc.query_events(regulator, ALERTS)[0]) == 1
    finally:
        p.close()


def test_a_national_code_becomes_its_epc_with_the_base_url(tmp_path):
    """A national code's alert names https://BASE/c/CODE once the base URL is set; without
    it the event names the alert (urn:tracecode:alert:ID) and is found by the code's key."""
    from tracecode import settings
    need(SCHEMA)
    dd = tracecode.init(tmp_path / "data")
    svc = Service(dd)
    try:
        code = dd.issue("cn-drug-20", {"drug_id": "8177322"}, 2).codes()[0].decode()
        store_alerts(svc, OPERATOR, [alert(code)])
        (bare,) = svc.query_events(OPERATOR, ALERTS)[0]
        assert bare["epcList"] == [f"urn:tracecode:alert:{bare['tracecode:alert']['id']}"]
        assert bare["tracecode:alert"]["code"] == code
        assert epcis.cbv_problems(bare, "") == []   # what the CBV rules ask: an EPC the event is about
        import dataclasses
        settings.save(dd.path, dataclasses.replace(settings.load(dd.path), base_url="https://trace.example.gov.cn"))
        svc.close()
        dd.close()
        dd = tracecode.open(tmp_path / "data")
        svc = Service(dd)
        store_alerts(svc, OPERATOR, [alert(dd.issue("cn-drug-20", {"drug_id": "8177322"}, 1).codes()[0].decode(),
                                           "clone_spread")])
        found = svc.query_events(OPERATOR, ALERTS)[0]
        (linked,) = [e for e in found if e["tracecode:alert"]["rule"] == "clone_spread"]
        code2 = linked["tracecode:alert"]["code"]
        assert linked["epcList"] == [f"https://trace.example.gov.cn/c/{code2}"]
        from tracecode.epcis.export import CONTEXT
        assert schema.validate_event(linked, CONTEXT, need(SCHEMA)) == []
        by_key = svc.query_epcis(OPERATOR, {"MATCH_epc": [f"https://trace.example.gov.cn/c/{code}"]})[0]
        assert [e["tracecode:alert"]["code"] for e in by_key] == [code]   # the one without an epcList too
    finally:
        svc.close()
        dd.close()


def test_a_regulator_streams_alerts_over_the_websocket(tmp_path):
    """GS1's binding's WebSocket on a named query EQ_bizStep=urn:tracecode:bizstep:alert: the
    alerts raised while connected, then, reconnecting from the bookmark, those raised since."""
    import json

    import httpx
    from websockets.sync.client import connect

    from tracecode.web.app import create_app
    from web_platform import BASE_URL
    from web_server import serving
    p = Platform(tmp_path, count=3)
    codes = [c[2:16] + c[18:] for c in p.gs1]
    auth = p.auth("regulator")
    try:
        with serving(create_app(p.svc, base_url=BASE_URL)) as url, httpx.Client(base_url=url, timeout=60) as client:
            r = client.post("/epcis/queries", json={"name": "alerts", "query": {"EQ_bizStep": [alert_events.BIZ_STEP]}},
                            headers={"content-type": "application/json", **auth})
            assert r.status_code == 201, r.text
            ws_url = url.replace("http://", "ws://") + "/epcis/queries/alerts/subscriptions"

            def received(ws):
                doc = json.loads(ws.recv(timeout=30))
                results = doc["epcisBody"]["queryResults"]
                return [e["tracecode:alert"]["code"] for e in results["resultsBody"]["eventList"]], \
                    results["tracecode:bookmark"]
            with connect(ws_url + "?stream=true", additional_headers=auth) as ws:
                store_alerts(p.svc, OPERATOR, [alert(codes[0])])
                got, mark = received(ws)
                assert got == [codes[0]]
            store_alerts(p.svc, OPERATOR, [alert(codes[1], "clone_spread")])
            with connect(f"{ws_url}?bookmark={mark}", additional_headers=auth) as ws:
                assert received(ws)[0] == [codes[1]]
    finally:
        p.close()


@settings(max_examples=60, deadline=None)
@given(junk=st.lists(st.text(alphabet="0123456789()A-", min_size=1, max_size=30), max_size=8))
def test_epc_forms_agree_with_the_one_by_one_conversion(junk, tmp_path_factory):
    """The sweep's bulk conversion gives what export.gs1_codes gives code by code: issued GS1
    and national codes, and anything else (left as it is)."""
    from tracecode.epcis.export import gs1_codes
    dd = _SHARED.get("dd")
    if dd is None:
        dd = _SHARED["dd"] = tracecode.init(tmp_path_factory.mktemp("forms") / "data")
        _SHARED["codes"] = [c.decode() for c in dd.issue("gs1-sgtin", {"gtin": GTIN}, 20).codes()] + \
            [c.decode() for c in dd.issue("cn-drug-20", {"drug_id": "8177322"}, 20).codes()]
    codes = _SHARED["codes"] + junk
    fast = alert_events.epc_forms(dd.schemes, dd.master_key, codes)
    slow = gs1_codes(dd.schemes, dd.master_key)
    assert [fast.get(c, c) for c in codes] == [slow(c) for c in codes]


_SHARED: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _close_shared():
    yield
    if "dd" in _SHARED:
        _SHARED.pop("dd").close()


def test_an_event_captured_first_under_a_guessable_id_cannot_hide_an_alert(w):
    """The alert's event id is keyed by the data directory's secret: an id made from what is
    public (the alert id: rule, code, window) is not it, so the alert's event still goes in."""
    import uuid

    from tracecode.store.port import EpcisRecord
    a = alert(w.codes[0])
    guessed = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://ns.tracecode.org/epcis/alert/{a['id']}/0"))
    squat = {"type": "ObjectEvent", "eventID": guessed, "action": "OBSERVE", "bizStep": "shipping",
             "eventTime": "2026-03-01T00:00:00.000Z", "eventTimeZoneOffset": "+00:00", "epcList": []}
    assert w.svc.index.store.epcis_put([EpcisRecord(event_id=guessed, event=squat, event_time=1.77e9,
                                                    time_offset="+00:00", record_time=1.77e9,
                                                    type="ObjectEvent", biz_step="shipping", client="brand")])
    store_alerts(w.svc, OPERATOR, [a])
    (ev,) = w.svc.query_events(OPERATOR, ALERTS)[0]
    assert ev["eventID"] != guessed and ev["tracecode:alert"]["id"] == a["id"]
    assert ev["eventID"] == alert_events.event_id(a | {"reopened": []}, alert_events.id_secret(w.dd))
    w.svc.index.store.alerts_put([a])   # found again: the same event, not a second one
    assert alert_events.publish(w.svc, force=True) == 0
    before = alert_events.id_secret(w.dd)
    w.dd.keyring.rotate()   # a new master-key version: the alerts' event ids stay
    assert w.dd.keyring.current == 2 and alert_events.id_secret(w.dd) == before


def test_no_capture_may_send_an_alert_event(w):
    """Alert events are tracecode's: a captured event with their bizStep or their extension is
    refused (an issuer could otherwise hand regulators' alert subscriptions a forged alert)."""
    import json

    need(SCHEMA)

    def doc(**fields):
        ev = {"type": "ObjectEvent", "eventTime": "2026-03-01T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
              "epcList": [], "action": "OBSERVE", **fields}
        return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                                        {"tracecode": "https://ns.tracecode.org/epcis/"}],
                           "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z",
                           "epcisBody": {"eventList": [ev]}}).encode()
    for fields in ({"bizStep": alert_events.BIZ_STEP},
                   {"bizStep": "shipping", "tracecode:alert": {"id": "0" * 20, "rule": "diversion"}}):
        job = w.svc.capture(OPERATOR, doc(**fields), "application/ld+json")
        assert job["state"] == "failure" and job["counts"]["stored"] == 0, job
        assert "analytics' own alerts" in job["errors"][0]["error"]
    assert w.svc.query_events(OPERATOR, ALERTS)[0] == []
    ok = w.svc.capture(OPERATOR, doc(bizStep="shipping", epcList=["urn:epc:id:sgtin:0614141.107346.2017"]),
                       "application/ld+json")   # any other event: as before
    assert ok["counts"]["stored"] == 1, ok["errors"]
