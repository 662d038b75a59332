"""EPCIS subscriptions delivered by `tracecode serve` (real processes): workers killed with
SIGKILL mid-stream, then the whole server, and every event still reaches the receiver, in
order, at least once; the delivery lease passes to a worker that is alive."""
from __future__ import annotations

import os
import signal
import time

import pytest

import tracecode
from tracecode.app.local import LocalClient
from tracecode.serve.testing import ServeProcess
from tracecode.store.port import EpcisQuery, EpcisRecord

from subscription_receiver import Receiver
from test_epcis_subscriptions import allow_loopback

pytestmark = pytest.mark.timeout(300)


def put(store, start: int, count: int) -> list:
    recs = [EpcisRecord(event_id=f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
                        event={"type": "ObjectEvent", "eventID": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
                               "action": "OBSERVE", "bizStep": "shipping"},
                        event_time=1.8e9 + i, time_offset="+00:00", record_time=time.time(), type="ObjectEvent",
                        biz_step="shipping") for i in range(start, start + count)]
    assert all(store.epcis_put(recs))
    return [r.event_id for r in recs]


def _dumps(server):
    """Where each worker is (py-spy dump), for a failure's message."""
    import shutil
    import subprocess
    if shutil.which("py-spy") is None:
        return ""
    return "".join(subprocess.run(["py-spy", "dump", "--pid", str(p)], capture_output=True, text=True).stdout
                   for p in server.worker_pids())


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_deliveries_survive_kill_9_of_workers_and_of_the_server(tmp_path):
    dd = tracecode.init(tmp_path / "data")
    allow_loopback(dd.path)
    store = dd.index.store
    with Receiver(delay=0.2) as rx:
        with LocalClient(dd, own=False) as c:
            sub = c.subscribe("all", EpcisQuery(), dest=rx.url, signature_token="t", stream=True)
        server = ServeProcess(tmp_path / "data", "--http", "127.0.0.1:0", "--http-only", workers=2).start()
        try:
            sent = put(store, 0, 3000)                   # six deliveries of 500, 0.2 s each
            wait(lambda: 0 < len(rx.ids()) < 3000, 60, "a first delivery")
            for pid in server.worker_pids():              # every worker dies mid-stream
                os.kill(pid, signal.SIGKILL)
            sent += put(store, 3000, 500)                 # captured while no worker delivers
            wait(lambda: len(set(rx.ids())) == 3500, 120, "every event after the workers died: "
                 + server.output()[-3000:] + f" {len(set(rx.ids()))} events" + _dumps(server))
            sent += put(store, 3500, 2000)
            wait(lambda: len(set(rx.ids())) > 3500, 60, "the next deliveries")
            server.kill()                                 # the whole server, mid-stream
            sent += put(store, 5500, 100)
            server.start()
            wait(lambda: len(set(rx.ids())) == 5600, 120, "every event after a restart")
        finally:
            server.stop()
            server.log.close()
    got = rx.ids()
    assert list(dict.fromkeys(got)) == sent              # none lost, in order
    state = store.subscription_get(sub["subscriptionID"])["state"]
    assert state["bookmark"] == store.epcis_last_seq() == 5600
    dd.close()
