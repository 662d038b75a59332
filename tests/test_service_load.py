"""Load: several clients at once for 30 s over loopback (TRACECODE_LOAD_SECONDS to
change it) — two production lines issuing, downloading and commissioning, two
scanners verifying in batches and one by one, a warehouse shipping — against a
server of two processes. No call may fail and nothing may be lost: every code issued
once, every acknowledged event and every scan recorded."""
import itertools
import os
import threading
import time

import numpy as np
import pytest

import tracecode
from tracecode.index import Verdict
from tracecode.v1 import Client
from tracecode.app.clients import ClientsFile
from tracecode.v1.testing import ServerProcess

from conftest import wait_until

SECONDS = float(os.environ.get("TRACECODE_LOAD_SECONDS", "30"))
PRODUCTS = [{"drug_id": "8177322"}, {"drug_id": "6901234"}]


@pytest.mark.slow  # TRACECODE_LOAD_SECONDS (30) of load
def test_clients_issuing_verifying_and_sending_events_at_once(tmp_path):
    data = tmp_path / "data"
    tracecode.init(data).close()
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    tokens = {"line": clients.add("lines", ["issuer"], ["cn-drug-20"]),
              "scanner": clients.add("scanners", ["scanner"]),
              "admin": clients.add("ops", ["admin"])}
    commissioned, lock = [], threading.Lock()      # codes acknowledged as commissioned
    errors, counts = [], {"issued": 0, "events": 0, "scans": 0, "shipped": 0}
    stop = threading.Event()

    def count(name, n):
        with lock:
            counts[name] += n

    def worker(fn, *args):
        def run():
            try:
                while not stop.is_set():
                    fn(*args)
            except Exception as exc:  # noqa: BLE001 - reported by the test
                errors.append(repr(exc))
                stop.set()
        return threading.Thread(target=run)

    reports, shipments = itertools.count(1), itertools.count()

    def line(c, product):
        dl = c.request_codes("cn-drug-20", product, 20_000, chunk_codes=8_000)
        codes = dl.all()
        r = c.report_commissioned(f"{product['drug_id']}-{next(reports)}", batch_id=dl.batch.id,
                                  ranges=[(0, 10_000)])
        assert r["ok"]
        with lock:
            commissioned.append(codes[:10_000])
        count("issued", len(codes))
        count("events", 1)

    def scanner(c):
        with lock:
            pool = commissioned[-1] if commissioned else None
        if pool is None:
            time.sleep(0.01)
            return
        sample = pool[np.random.default_rng().integers(0, len(pool), 5_000)]
        v = c.verify_many(sample, place="Hangzhou")
        # shipped codes are still genuine; only ours are in the pool
        assert (v.verdicts == Verdict.GENUINE).all(), np.unique(v.verdicts)
        for code in sample[:20]:
            assert c.verify(code).verdict == Verdict.GENUINE
        count("scans", len(sample) + 20)

    def warehouse(c):
        with lock:
            todo = commissioned.pop(0) if len(commissioned) > 2 else None
            if todo is not None:
                commissioned.append(todo[:5_000])  # the unshipped half stays in the pool
        if todo is None:
            time.sleep(0.05)
            return
        ship = [x.decode() for x in todo[5_000:]]
        shipment = next(shipments)
        events = [{"id": f"ship-{shipment}-{i}", "action": "ship", "codes": ship[i:i + 100],
                   "place": "DC-1"} for i in range(0, len(ship), 100)]
        results = c.send_events(events, batch_size=10)
        assert all(r["ok"] for r in results), [r for r in results if not r["ok"]][:3]
        count("events", len(events))
        count("shipped", len(ship))

    with ServerProcess(data, "--tokens", tmp_path / "clients.toml", workers=2) as server:
        conn = {k: Client(server.address, token=t, retry_timeout=5) for k, t in tokens.items()}
        lines = [Client(server.address, token=tokens["line"]) for _ in PRODUCTS]
        scanners = [Client(server.address, token=tokens["scanner"]) for _ in range(2)]
        threads = [worker(line, c, p) for c, p in zip(lines, PRODUCTS)]
        threads += [worker(scanner, c) for c in scanners]
        threads += [worker(warehouse, conn["line"])]
        before = conn["admin"].stats()
        for t in threads:
            t.start()
        stop.wait(SECONDS)
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors
        def committed():  # the scan log commits every 5 ms
            s = conn["admin"].stats()
            return s if s.scans - before.scans >= counts["scans"] else None
        after = wait_until(committed, what="every scan's group commit")
        for c in [*conn.values(), *lines, *scanners]:
            c.close()
    assert counts["issued"] >= 200_000 and counts["scans"] >= 50_000 and counts["shipped"] > 0, counts
    assert after.codes_issued - before.codes_issued == counts["issued"]
    assert after.events - before.events == counts["events"]
    assert after.scans - before.scans == counts["scans"]
    with tracecode.open(data) as d:
        for product in PRODUCTS:  # batches tile each product's counters: none issued twice
            spans = sorted((b.start, b.start + b.count) for b in d.index.batches.list()
                           if b.product == product)
            assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
            assert d.issued("cn-drug-20", product) == spans[-1][1]
