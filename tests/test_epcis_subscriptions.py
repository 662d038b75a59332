"""EPCIS subscriptions end to end: the store's outbox, the delivery runner and a REAL
receiving HTTP server (tests/subscription_receiver.py) that goes down and comes back.

Events are put in the store directly (the outbox is the store's EPCIS log whoever wrote
it); what capture does to them is tested in test_epcis_capture / test_epcis_http."""
from __future__ import annotations

import asyncio
import time

import pytest

from tracecode.app import subscriptions
from tracecode.app.epcis import epc_key
from tracecode.app.refusal import Refusal
from tracecode.serve.delivery import DeliveryRunner
from tracecode.store.port import EpcisQuery, EpcisRecord

from subscription_receiver import Receiver, delivery_thread
from web_platform import Platform


@pytest.fixture
def p(tmp_path, monkeypatch):
    monkeypatch.setattr(subscriptions, "BASE_BACKOFF_S", 0.05)   # retries within the test's time
    monkeypatch.setattr(subscriptions, "MAX_BACKOFF_S", 0.5)
    platform = Platform(tmp_path, count=8)
    allow_loopback(platform.dd.path)
    yield platform
    platform.close()


def allow_loopback(datadir) -> None:
    """The tests' receivers listen on 127.0.0.1: the operator's allow-list lets webhooks go there."""
    from tracecode import settings
    settings.save(datadir, settings.Settings(epcis={"webhook_allow": ["127.0.0.0/8", "::1/128"]}))


def caller(p, who):
    return p.svc.clients.by_token(p.tokens[who])


def dl(element: str) -> str:
    return f"https://id.gs1.org/01/{element[2:16]}/21/{element[18:]}"


_n = iter(range(10**6))


def put(p, count: int, epc: str | None = None, step: str = "shipping") -> list:
    """count events stored (as capture stores them), their ids in seq order."""
    recs = []
    for _ in range(count):
        i = next(_n)
        eid = f"urn:uuid:00000000-0000-4000-8000-{i:012d}"
        epcs = {"epc": [epc_key(epc)]} if epc else {}
        event = {"type": "ObjectEvent", "eventID": eid, "action": "OBSERVE", "bizStep": step,
                 "eventTime": "2027-01-15T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
                 "recordTime": "2027-01-15T00:00:01.000Z", "epcList": [epc] if epc else []}
        recs.append(EpcisRecord(event_id=eid, event=event,
                                event_time=1.8e9 + i, time_offset="+08:00", record_time=time.time(),
                                type="ObjectEvent", biz_step=step, epcs=epcs))
    assert all(p.svc.index.store.epcis_put(recs))
    return [r.event_id for r in recs]


def running(p, **kw):
    """A DeliveryRunner over the platform's Service in a thread with its own event loop."""
    return delivery_thread(p.svc, **kw)


def in_order_once_or_more(got: list, sent: list) -> None:
    """Every sent id delivered, none lost; first deliveries in seq order; a repeat only
    ever re-sends an earlier stretch (at least once, in order)."""
    first = list(dict.fromkeys(got))
    assert first == sent


def test_a_receiver_down_then_back_gets_every_event_in_order_signed(p):
    regulator = caller(p, "regulator")
    with Receiver() as rx:
        sub = p.svc.subscribe(regulator, "all", EpcisQuery(), dest=rx.url, signature_token="s3cret", stream=True)
        assert sub["stream"] is True and sub["signed"] is True and "token" not in sub
        sent = put(p, 5)
        with running(p):
            rx.wait_for(lambda r: len(r.ids()) >= 5)
            rx.down()                       # the platform above is down
            sent += put(p, 7)
            sent += put(p, 600)             # more than one delivery's worth
            deadline = time.monotonic() + 30
            while p.svc.subscription(regulator, sub["subscriptionID"])["attempts"] < 2:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            state = p.svc.subscription(regulator, sub["subscriptionID"])
            assert state["bookmark"] == 5 and "ConnectError" in state["lastError"], state
            rx.up()                         # back on the same port
            rx.wait_for(lambda r: len(set(r.ids())) >= len(sent))
        in_order_once_or_more(rx.ids(), sent)
        for body, headers in rx.deliveries:
            assert subscriptions.verify(body, "s3cret", headers["gs1-signature"])
            assert not subscriptions.verify(body, "wrong", headers["gs1-signature"])
            assert headers["content-type"] == "application/ld+json"
            assert headers["tracecode-subscription"] == sub["subscriptionID"]
        assert max(len(d["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) for d in rx.documents()) \
            == subscriptions.BATCH_EVENTS
        doc = rx.documents()[0]
        assert doc["type"] == "EPCISQueryDocument"
        assert doc["epcisBody"]["queryResults"]["subscriptionID"] == sub["subscriptionID"]
        assert doc["epcisBody"]["queryResults"]["queryName"] == "all"
        done = p.svc.subscription(regulator, sub["subscriptionID"])
        assert done["bookmark"] == p.svc.index.store.epcis_last_seq() and done["delivered"] == len(sent)
        assert done["attempts"] == 0 and done["lastError"] is None and done["lastNotifiedAt"]


def test_an_error_status_is_retried_and_a_dead_receiver_holds_up_no_other(p):
    admin = caller(p, "admin")
    with Receiver(status=503) as failing, Receiver() as alive:
        dead = Receiver().up()
        dead.down()                          # a port nobody listens on
        p.svc.subscribe(admin, "q", EpcisQuery(), dest=dead.url, stream=True)
        busy = p.svc.subscribe(admin, "q", EpcisQuery(), dest=failing.url, stream=True)
        p.svc.subscribe(admin, "q", EpcisQuery(), dest=alive.url, stream=True)
        sent = put(p, 20)
        with running(p):
            alive.wait_for(lambda r: len(r.ids()) == 20)
            failing.wait_for(lambda r: r.refused >= 3, what="retries")
            assert failing.ids() == []
            st = p.svc.subscription(admin, busy["subscriptionID"])
            assert st["bookmark"] == 0 and "503" in st["lastError"] and st["attempts"] >= 2
            failing.status = 200
            failing.wait_for(lambda r: len(r.ids()) >= 20)
        assert alive.ids() == sent
        in_order_once_or_more(failing.ids(), sent)


def test_the_bookmark_moved_back_delivers_again_from_there(p):
    admin = caller(p, "admin")
    with Receiver() as rx:
        before = put(p, 3)
        sub = p.svc.subscribe(admin, "q", EpcisQuery(), dest=rx.url, stream=True)
        assert sub["bookmark"] == 3            # from now on: what was there before is not sent
        sent = put(p, 6)
        with running(p):
            rx.wait_for(lambda r: len(r.ids()) == 6)
            again = p.svc.rewind_subscription(admin, sub["subscriptionID"], 5)
            assert again["bookmark"] == 5
            rx.wait_for(lambda r: len(r.ids()) == 10)
            p.svc.rewind_subscription(admin, sub["subscriptionID"], 0)
            rx.wait_for(lambda r: len(r.ids()) == 19)
        assert rx.ids() == sent + sent[2:] + before + sent
        with pytest.raises(Refusal):
            p.svc.rewind_subscription(admin, sub["subscriptionID"], -1)


def test_initial_record_time_reaches_back_and_the_query_filters(p):
    admin = caller(p, "admin")
    old = put(p, 2, step="receiving")
    put(p, 2, step="shipping")
    with Receiver() as rx:
        p.svc.subscribe(admin, "receiving", EpcisQuery(biz_steps=("receiving",)), dest=rx.url, stream=True,
                        initial_record_time=0.0)
        with running(p):
            rx.wait_for(lambda r: len(r.ids()) == 2)
            new = put(p, 3, step="receiving")
            put(p, 3, step="shipping")
            rx.wait_for(lambda r: len(r.ids()) == 5)
        time.sleep(0.1)
        assert rx.ids() == old + new


def test_rights_an_issuer_receives_its_products_events_a_scanner_none(p):
    issuer, rival = caller(p, "issuer"), caller(p, "other_issuer")
    with Receiver() as mine, Receiver() as theirs:
        sub = p.svc.subscribe(issuer, "q", EpcisQuery(), dest=mine.url, stream=True)
        p.svc.subscribe(rival, "q", EpcisQuery(), dest=theirs.url, stream=True)
        with pytest.raises(Refusal) as refused:
            p.svc.subscribe(caller(p, "scanner"), "q", EpcisQuery(), dest=mine.url, stream=True)
        assert refused.value.reason == "permission_denied"
        own = put(p, 3, epc=dl(p.gs1[0]))
        others = put(p, 4, epc=dl(p.other_gs1[0]))
        own += put(p, 2, epc=dl(p.gs1[1]))
        put(p, 1)                                   # naming nobody's code
        with running(p):
            mine.wait_for(lambda r: len(r.ids()) == 5)
            theirs.wait_for(lambda r: len(r.ids()) == 4)
            deadline = time.monotonic() + 10    # the issuer's bookmark passes over the others' events
            while p.svc.subscription(issuer, sub["subscriptionID"])["bookmark"] < 10:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        assert mine.ids() == own
        assert theirs.ids() == others           # exactly the rival's, none of the issuer's nor the unnamed
        # each sees and ends only its own subscriptions; a regulator sees all
        assert [s["owner"] for s in p.svc.subscriptions(issuer)] == ["brand"]
        assert len(p.svc.subscriptions(caller(p, "regulator"))) == 2
        with pytest.raises(Refusal) as refused:
            p.svc.unsubscribe(rival, sub["subscriptionID"])
        assert refused.value.reason == "not_found"
        p.svc.unsubscribe(issuer, sub["subscriptionID"])
        assert p.svc.subscriptions(issuer) == []


@pytest.mark.parametrize("bad, field", [
    ({"dest": "ftp://x/"}, "dest"), ({"dest": "not a url"}, "dest"),
    ({"stream": False}, "stream"), ({"stream": True, "schedule": {"minute": "5"}}, "stream"),
    ({"stream": False, "schedule": {"minute": "61"}}, "schedule"),
    ({"stream": False, "schedule": {"weekday": "1"}}, "schedule"),
    ({"signature_token": ""}, "signatureToken"), ({"format": "sbt-10681"}, "format"),
])
def test_a_bad_subscription_is_refused_naming_its_field(p, bad, field):
    kw = {"dest": "http://127.0.0.1:9/hook", "stream": True, **bad}
    with pytest.raises(Refusal) as refused:
        p.svc.subscribe(caller(p, "admin"), "q", EpcisQuery(), **kw)
    assert refused.value.reason == "invalid_argument" and refused.value.field == field
    assert p.svc.subscriptions(caller(p, "admin")) == []


def wait_for_bookmark(p, who, subscription_id, bookmark, timeout=5.0):
    """The subscription's state once its bookmark reached `bookmark`: the receiver can hold a
    delivery before the deliverer, which records the bookmark after the POST returns, has."""
    deadline = time.monotonic() + timeout
    while True:
        state = p.svc.subscription(who, subscription_id)
        if state["bookmark"] == bookmark or time.monotonic() > deadline:
            return state
        time.sleep(0.01)


def test_more_than_max_event_count_delivers_query_too_large_signed_and_rewind_gets_them(p):
    regulator = caller(p, "regulator")
    with pytest.raises(Refusal) as refused:
        p.svc.subscribe(regulator, "q", EpcisQuery(), dest="http://127.0.0.1:9/hook", stream=True, max_event_count=0)
    assert refused.value.field == "maxEventCount"
    with Receiver() as rx:
        sub = p.svc.subscribe(regulator, "few", EpcisQuery(), dest=rx.url, signature_token="s3cret", stream=True,
                              max_event_count=3)
        assert sub["maxEventCount"] == 3
        start = sub["bookmark"]
        many = put(p, 5)                    # one round of 5 > 3: the exception, not the events
        with running(p):
            rx.wait_for(lambda r: len(r.deliveries) >= 1)
            body, headers = rx.deliveries[0]
            assert subscriptions.verify(body, "s3cret", headers["gs1-signature"])
            assert headers["content-type"] == "application/problem+json"
            doc = rx.documents()[0]
            assert doc["type"] == "epcisException:QueryTooLargeException" and doc["status"] == 413
            assert doc["maxEventCount"] == 3 and doc["fromBookmark"] == start
            assert doc["subscriptionID"] == sub["subscriptionID"] and rx.ids() == []
            state = wait_for_bookmark(p, regulator, sub["subscriptionID"], doc["bookmark"])
            assert state["bookmark"] == doc["bookmark"] == p.svc.index.store.epcis_last_seq(), state
            few = put(p, 2)                 # at most 3: delivered as events
            rx.wait_for(lambda r: r.ids() == few)
        p.svc.subscribe(regulator, "all", EpcisQuery(), dest=rx.url, stream=True, initial_record_time=0.0)
        with running(p):                    # an unbounded subscription sees what the exception held back
            rx.wait_for(lambda r: len(r.ids()) >= 9)
        assert rx.ids()[2:] == many + few


def test_a_schedule_reports_what_came_since_and_an_empty_report_if_asked(p):
    admin = caller(p, "admin")
    with Receiver() as rx:
        p.svc.subscribe(admin, "q", EpcisQuery(), dest=rx.url, schedule={"second": "*"}, report_if_empty=True)
        with running(p):
            rx.wait_for(lambda r: len(r.deliveries) >= 1, what="an empty report")
            assert rx.ids() == []
            sent = put(p, 4)
            rx.wait_for(lambda r: len(r.ids()) == 4)
            count = len(rx.deliveries)
            # nothing came through a second in stream's way: a scheduled one waits for its second
            rx.wait_for(lambda r: len(r.deliveries) > count, what="the next empty report")
        assert rx.ids() == sent
        assert any(len(d["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 4 for d in rx.documents())


def test_one_runner_delivers_while_it_holds_the_lease(p):
    admin = caller(p, "admin")
    with Receiver() as rx:
        p.svc.subscribe(admin, "q", EpcisQuery(), dest=rx.url, stream=True)
        with running(p, holder="first") as a, running(p, holder="second") as b:
            sent = []
            for _ in range(10):
                sent += put(p, 5)
                time.sleep(0.03)
            rx.wait_for(lambda r: len(set(r.ids())) == 50)
            assert a.holding != b.holding
        assert rx.ids() == sent      # two runners, one delivering: nothing twice


def test_a_healthy_stream_sends_each_event_once_across_recorded_bookmarks(p):
    # a slow receiver: the runner records its bookmark between deliveries (PROGRESS_S), and
    # goes on from where it delivered, not from where it last recorded
    admin = caller(p, "admin")
    with Receiver(delay=0.3) as rx:
        p.svc.subscribe(admin, "q", EpcisQuery(), dest=rx.url, stream=True)
        sent = put(p, 4 * subscriptions.BATCH_EVENTS)
        with running(p):
            rx.wait_for(lambda r: len(set(r.ids())) == len(sent))
            time.sleep(1.0)
        assert rx.ids() == sent


@pytest.mark.parametrize("dest", [
    "http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:8080/",
    "http://0/", "http://10.0.0.1/hook", "http://192.168.1.1/", "http://224.0.0.1/",
    "http://[::ffff:127.0.0.1]/", "http://localhost:6379/", "http://240.0.0.1/",
])
def test_a_webhook_to_this_machine_or_a_private_network_is_refused(p, dest):
    from tracecode import settings
    settings.save(p.dd.path, settings.Settings())   # no allow-list
    with pytest.raises(Refusal) as refused:
        p.svc.subscribe(caller(p, "admin"), "q", EpcisQuery(), dest=dest, stream=True)
    assert refused.value.reason == "invalid_argument" and refused.value.field == "dest"
    assert "webhook_allow" in refused.value.detail


def test_the_allow_list_is_judged_again_at_each_connect(p):
    """Subscribed while loopback was allowed, then the allow-list is taken away (as a name
    re-resolving to 127.0.0.1 would be): the runner connects to nothing, lastError says why."""
    from tracecode import settings
    with Receiver() as rx:
        sub = p.svc.subscribe(caller(p, "admin"), "q", EpcisQuery(), dest=rx.url + "?key=s3cret", stream=True)
        settings.save(p.dd.path, settings.Settings())
        put(p, 2)
        with running(p):
            deadline = time.monotonic() + 20
            while not p.svc.subscription(caller(p, "admin"), sub["subscriptionID"])["lastError"]:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        shown = p.svc.subscription(caller(p, "admin"), sub["subscriptionID"])
        assert rx.ids() == [] and shown["bookmark"] == sub["bookmark"]
        assert "webhook_allow" in shown["lastError"] and "s3cret" not in shown["lastError"]


def test_progress_is_recorded_only_while_the_runner_holds_the_lease(p):
    from tracecode.serve.delivery import LEASE
    store = p.svc.index.store
    with Receiver() as rx:
        sub = p.svc.subscribe(caller(p, "admin"), "q", EpcisQuery(), dest=rx.url, stream=True)
    gen = store.subscription_get(sub["subscriptionID"])["state"]["generation"]
    assert store.lease(LEASE, "new-holder", 30)
    # a stalled former holder moving the bookmark (back) is refused; the holder's goes through
    assert not store.subscription_progress(sub["subscriptionID"], gen, {"bookmark": 0}, (LEASE, "old-holder"))
    assert store.subscription_progress(sub["subscriptionID"], gen, {"delivered": 1}, (LEASE, "new-holder"))
    store.lease_release(LEASE, "new-holder")
    assert not store.subscription_progress(sub["subscriptionID"], gen, {"bookmark": 0}, (LEASE, "new-holder"))
    assert store.subscription_progress(sub["subscriptionID"], gen, {"attempts": 0})   # unfenced: as before


def test_a_round_starts_at_a_rotating_offset_and_caps_each_owner(p, monkeypatch):
    """One owner's many (dead, hanging) subscriptions take at most MAX_PER_OWNER slots, and
    the slots go round every subscription, not the same first ones each round."""
    from tracecode.serve import delivery
    monkeypatch.setattr(delivery, "MAX_IN_FLIGHT", 4)
    monkeypatch.setattr(delivery, "MAX_PER_OWNER", 2)
    brand = [p.svc.subscribe(caller(p, "issuer"), "q", EpcisQuery(), dest="http://127.0.0.1:9/",
                             stream=True)["subscriptionID"] for _ in range(5)]
    rival = [p.svc.subscribe(caller(p, "other_issuer"), "q", EpcisQuery(), dest="http://127.0.0.1:9/",
                             stream=True)["subscriptionID"] for _ in range(5)]
    runner = DeliveryRunner(p.svc)
    started = []

    async def hang(client, sub, fire):
        started.append(sub["id"])
        await asyncio.sleep(3600)

    runner._deliver = hang

    async def rounds():
        for _ in range(6):
            await runner._round(None)
            owners = [runner.owners[i] for i in runner.tasks]
            assert owners.count("brand") == 2 and owners.count("rival") == 2
            await asyncio.sleep(0)                 # the tasks start
            for task in runner.tasks.values():   # each round's deliveries end: the next round starts anew
                task.cancel()
            await asyncio.gather(*runner.tasks.values(), return_exceptions=True)
    asyncio.run(rounds())
    assert set(started) == set(brand + rival)   # every subscription had its turn
