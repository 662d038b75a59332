"""EPCIS subscription delivery throughput (events/s): tracecode's delivery runner against
POSTing the same documents, same run, to the same receiver.

Engine: N stored events, one stream subscription (an overseer's, signed) rewound to 0; the
real DeliveryRunner (serve/delivery.py) reads the outbox (epcis_since), filters by the
subscriber's rights, renders EPCISQueryDocuments of 500 events, signs each (HMAC-SHA256),
POSTs it with httpx and records the bookmark durably (one LMDB write per delivery) until
the receiver has all N.

Baseline: the same events, read once before timing and rendered to the same bodies, POSTed
by httpx over one keep-alive connection to the same receiver: the transport's ceiling, with
nothing read, filtered, signed or recorded.

The receiver (a ThreadingHTTPServer in this process) reads each body and counts the events
its header announces; both sides pay it alike.
"""
from __future__ import annotations

import asyncio
import http.server
import threading
import time

import httpx
import pytest

import tracecode
from bench.conftest import size
from tracecode.app.caller import OPERATOR
from tracecode.app.subscriptions import BATCH_EVENTS
from tracecode.epcis import outbound
from tracecode.serve.delivery import DeliveryRunner
from tracecode.store.port import EpcisQuery, EpcisRecord

N = size(5_000, 100_000)
ROUNDS = 3
GROUP = pytest.mark.benchmark(group="epcis-subscription-delivery")


class _Counter:
    def __init__(self):
        self.events = 0
        self.lock = threading.Lock()
        counter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                with counter.lock:
                    counter.events += int(self.headers.get("tracecode-events", 0))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 600):
        deadline = time.monotonic() + timeout
        while self.events < n:
            assert time.monotonic() < deadline, f"{self.events} of {n} events delivered"
            time.sleep(0.002)


def _events(n: int) -> list:
    out = []
    for i in range(n):
        eid = f"urn:uuid:00000000-0000-4000-8000-{i:012d}"
        out.append(EpcisRecord(event_id=eid, event={
            "type": "ObjectEvent", "eventID": eid, "action": "OBSERVE", "bizStep": "shipping",
            "eventTime": "2027-01-15T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
            "recordTime": "2027-01-15T00:00:01.000Z", "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
            "epcList": [f"urn:epc:id:sgtin:0614141.107346.{i * 4 + k}" for k in range(4)]},
            event_time=1.8e9 + i, time_offset="+08:00", record_time=1.8e9 + i, type="ObjectEvent",
            biz_step="shipping", epcs={"epc": [f"(01)10614141073464(21){i * 4 + k}" for k in range(4)]}))
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    dd = tracecode.init(tmp_path_factory.mktemp("subs") / "data")
    from tracecode import settings   # the receiver is on 127.0.0.1: the operator allows it
    settings.save(dd.path, settings.Settings(epcis={"webhook_allow": ["127.0.0.0/8"]}))
    store = dd.index.store
    for start in range(0, N, 10_000):
        store.epcis_put(_events(N)[start:start + 10_000])
    rx = _Counter()
    yield dd, store, rx
    rx.server.shutdown()
    dd.close()


@GROUP
def test_engine_delivery_runner(benchmark, world):
    from tracecode.app import Service
    dd, store, rx = world
    svc = Service(dd)
    sub = svc.subscribe(OPERATOR, "bench", EpcisQuery(), dest=rx.url, signature_token="k", stream=True,
                        initial_record_time=0.0)
    runner = DeliveryRunner(svc, poll_s=0.005)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(runner.run(stop),), daemon=True)
    thread.start()
    try:
        rx.wait(N)      # the first pass, untimed: the lease taken, the connection made

        def setup():
            svc.rewind_subscription(OPERATOR, sub["subscriptionID"], 0)
            rx.events = 0
            return (), {}

        benchmark.extra_info.update(codes=N, role="engine", note=f"events/s, {BATCH_EVENTS} per delivery, "
                                    "signed, bookmark recorded every 0.5 s")
        benchmark.pedantic(lambda: rx.wait(N), setup=setup, rounds=ROUNDS, iterations=1)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        svc.unsubscribe(OPERATOR, sub["subscriptionID"])


@GROUP
def test_baseline_httpx_post_of_the_same_documents(benchmark, world):
    dd, store, rx = world
    records, _ = store.epcis_log(None, 0, N)
    fmt = outbound.get(outbound.DEFAULT)
    bodies = [fmt.render([r.event_json for r in records[i:i + BATCH_EVENTS]],
                         outbound.Delivery("bench", "s", "2027-01-15T00:00:00Z", i))
              for i in range(0, len(records), BATCH_EVENTS)]
    counts = [str(len(records[i:i + BATCH_EVENTS])) for i in range(0, len(records), BATCH_EVENTS)]
    assert sum(map(int, counts)) == N
    with httpx.Client(timeout=60) as client:
        def post():
            for body, count in zip(bodies, counts):
                assert client.post(rx.url, content=body, headers={"content-type": "application/ld+json",
                                                                  "tracecode-events": count}).status_code == 200
            rx.wait(N)

        def setup():
            rx.events = 0
            return (), {}

        benchmark.extra_info.update(codes=N, role="baseline", note="pre-rendered bodies, one connection")
        benchmark.pedantic(post, setup=setup, rounds=ROUNDS, iterations=1)
