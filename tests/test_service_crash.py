"""kill -9 of the server (every process at once) in the middle of a download, of
issuance requests and of an event stream: after a restart no counter was handed out
twice, a retried request got its batch, and no acknowledged event was lost."""
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import tracecode
from tracecode.index import Verdict
from tracecode.v1 import Client
from tracecode.v1 import lifecycle_pb2_grpc
from tracecode.v1.client import event_batches
from tracecode.app.idempotency import IdempotentIssuer
from tracecode.store.lmdb import journal
from tracecode.v1.testing import ServerProcess

from conftest import wait_until

DRUG = {"drug_id": "8177322"}


def tiled(data) -> list:
    """The batch records, after checking they tile the counter space without overlap. A
    hole is allowed only where the journal holds a reservation whose commit it cannot prove
    (a kill between the journal's fsync and the index's commit): its counters are burned on
    restart, never reused and never a batch (lineage.replay), so the hole must be exactly a
    run of such reservations."""
    _, entries, _, _ = journal.read(data / journal.NAME)
    burned = {e.record["start"]: e.end for e in entries if not e.committed and e.record}

    def covered(start: int, end: int) -> bool:
        while start < end and start in burned:
            start = burned[start]
        return start == end

    with tracecode.open(data) as d:
        batches = d.index.batches.list()
        spans = sorted((b.start, b.start + b.count) for b in batches)
        assert covered(0, spans[0][0]) and all(covered(a[1], b[0]) for a, b in zip(spans, spans[1:]))
        assert covered(spans[-1][1], d.issued("cn-drug-20", DRUG))
    return batches


class Crash(Exception):
    pass


def test_idempotent_issuance_survives_a_crash_at_either_step(tmp_path):
    d = tracecode.init(tmp_path / "data")
    issuing = IdempotentIssuer(d)
    reserve = d.index.issue

    def crash_before(*a, **kw):
        raise Crash

    def crash_after(*a, **kw):
        reserve(*a, **kw)
        raise Crash

    for key, crash in (("before", crash_before), ("after", crash_after)):
        d.index.issue = crash  # the process dies just before or just after the reservation
        try:
            issuing.issue("line-3", key, "cn-drug-20", DRUG, 100)
        except Crash:
            pass
        d.index.issue = reserve
        batch, replayed = issuing.issue("line-3", key, "cn-drug-20", DRUG, 100)
        assert replayed == (key == "after")
        assert issuing.issue("line-3", key, "cn-drug-20", DRUG, 100) == (batch, True)
    names = [b.requester for b in d.index.batches.list()]
    assert names == ["line-3 request before", "line-3 request after"]  # one batch per key
    d.close()


@pytest.mark.slow  # 1.5 M codes downloaded across a kill, then kills during issuance
def test_kill_9_during_a_download_and_during_issuance(tmp_path):
    data = tmp_path / "data"
    tracecode.init(data).close()
    server = ServerProcess(data, workers=2).start()
    try:
        c = Client(server.address, retry_timeout=30)
        dl = c.request_codes("cn-drug-20", DRUG, 1_500_000, chunk_codes=50_000,
                             idempotency_key="big-1")
        parts = []
        for i, codes in enumerate(dl):
            parts.append(codes)
            if i == 3:
                server.kill()   # every server process at once, mid-stream
                server.start()  # same port; the download resumes where it stopped
        codes = np.concatenate(parts)
        assert dl.resumed >= 1 and len(codes) == 1_500_000 and len(np.unique(codes)) == len(codes)
        with tracecode.open(data) as d:
            assert (d.issuer("cn-drug-20", DRUG).codes(dl.batch.start, len(codes)) == codes).all()
        assert c.request_batch("cn-drug-20", DRUG, 1_500_000, idempotency_key="big-1") == dl.batch

        # requests in flight while the server dies twice: each key gets exactly one batch
        got, stop = {}, threading.Event()

        def issue():
            n = 0
            while not stop.is_set():
                got[n] = c.request_batch("cn-drug-20", DRUG, 997, idempotency_key=f"burst-{n}").id
                n += 1
        t = threading.Thread(target=issue)
        t.start()
        for answered in (4, 8):  # kill by progress, not time: a loaded machine answers slowly
            wait_until(lambda: len(got) >= answered, timeout=120, what=f"{answered} batches")
            server.kill()
            server.start()
        wait_until(lambda: len(got) >= 12, timeout=120, what="batches after the restarts")
        stop.set()
        t.join()
        assert len(got) > 10
        batches = tiled(data)  # no counter handed out twice
        by_key = {}
        for b in batches:
            by_key.setdefault(b.requester, []).append(b.id)
        assert all(by_key[f"local request burst-{n}"] == [bid] for n, bid in got.items())
        c.close()
    finally:
        server.kill()


def commissioned(data, codes) -> int:
    with tracecode.open(data) as d:
        return int((d.verify_many(codes, record=False).verdicts == Verdict.GENUINE).sum())


def test_kill_9_during_an_event_stream_loses_no_acknowledged_event(tmp_path):
    data = tmp_path / "data"
    tracecode.init(data).close()
    server = ServerProcess(data).start()
    try:
        c = Client(server.address, retry_timeout=30)
        codes = [x.decode() for x in c.request_codes("cn-drug-20", DRUG, 6000).all()]
        events = [{"id": f"ev-{i}", "action": "commission", "codes": codes[i * 10:i * 10 + 10]}
                  for i in range(600)]
        first, second = events[:300], events[300:]
        first_codes, second_codes = codes[:3000], codes[3000:]

        # 1. a raw stream, its acknowledgements counted as they come, killed mid-way
        stub = lifecycle_pb2_grpc.LifecycleStub(c._channel)
        acked = []
        try:
            for ack in stub.SendEvents(iter(event_batches(first, False, 2))):
                acked += [r.id for r in ack.results if r.ok]
                if len(acked) == 30:
                    server.kill()
        except Exception:  # noqa: BLE001 - the stream breaks with the server
            pass
        done = commissioned(data, first_codes)
        assert 300 <= done < 3000  # every acknowledged event is there, and the kill was mid-stream
        assert commissioned(data, [x for e in first if e["id"] in set(acked) for x in e["codes"]]) \
            == 10 * len(acked)

        # 2. the client library across a kill: unacknowledged batches are sent again
        server.start()
        out = {}
        sender = threading.Thread(target=lambda: out.update(
            results=c.send_events(second, batch_size=1)))
        sender.start()
        wait_until(lambda: commissioned(data, second_codes) >= 600, timeout=120, interval=0.005,
                   what="60 of the events sent")
        server.kill()
        server.start()
        sender.join()
        assert [r["id"] for r in out["results"]] == [e["id"] for e in second]
        assert all(r["ok"] for r in out["results"]), [r for r in out["results"] if not r["ok"]]
        assert commissioned(data, second_codes) == 3000
        with tracecode.open(data) as d:  # each event applied once
            assert [h["id"] for h in d.history(second_codes[-1]) if h["kind"] == "event"] == ["ev-599"]
        c.close()
    finally:
        server.kill()


def test_a_worker_that_dies_is_replaced(tmp_path):
    data = tmp_path / "data"
    tracecode.init(data).close()
    with ServerProcess(data, workers=2) as server:
        workers = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True,
                                 text=True).stdout.split()
        assert len(workers) == 2
        os.kill(int(workers[0]), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while "starting another" not in server.output():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with Client(server.address) as c:  # the port is served throughout
            for _ in range(20):
                assert c.request_batch("cn-drug-20", DRUG, 10).count == 10
