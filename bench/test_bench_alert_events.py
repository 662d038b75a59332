"""Alerts into the EPCIS subscription outbox (app/alert_events.py): storing N new alerts with
their events against storing the alerts alone, same run, same alerts.

Engine: store_alerts (app/alertsapp.py) of N new alerts on a fresh LMDB data directory: the
alerts put, then the sweep (every open alert read in pages, their event ids looked up in the
EPCIS log in one read, N ObjectEvents built and put in one write). Baseline: alerts_put of the
same N alerts on a fresh data directory (what storing cost before alerts were published).
Also the sweeps with nothing to put over N open alerts already in the log: the first one of a
restarted Service (every event id looked up in the log) and one after a change of the alerts
(a close, a re-run finding nothing new: only the open alerts read, the ids known).
"""
from __future__ import annotations

import itertools

import pytest

import tracecode
from bench.conftest import size
from tracecode.analytics.alerts import alert_id
from tracecode.app import Service, alert_events
from tracecode.app.alertsapp import store_alerts
from tracecode.app.caller import OPERATOR

N = size(10_000, 100_000)
ROUNDS = 3
GROUP = pytest.mark.benchmark(group="alert-events")
_dirs = itertools.count()


def _alerts(n: int) -> list:
    out = []
    for i in range(n):
        code = f"0950600013435{2}{i:012d}"
        t = f"2026-03-{1 + i % 28:02d}T00:00:00.000000Z"
        out.append({"id": alert_id("diversion", code, "all"), "rule": "diversion", "severity": "high",
                    "subject": code, "code": code, "product": "gs1-sgtin:gtin=09506000134352", "region": "110000",
                    "first_time": t, "last_time": t, "window": "all",
                    "evidence": {"shipped_to": "110000", "scanned_in": ["310000"], "scans": 3}, "status": "open"})
    return out


@pytest.fixture(scope="module")
def alerts():
    return _alerts(N)


def _fresh(tmp_path_factory):
    dd = tracecode.init(tmp_path_factory.mktemp("alert-events") / f"d{next(_dirs)}")
    return dd, Service(dd)


@GROUP
def test_engine_store_alerts_with_their_events(benchmark, alerts, tmp_path_factory):
    opened = []

    def setup():
        opened.append(_fresh(tmp_path_factory))
        return (opened[-1][1],), {}

    def run(svc):
        store_alerts(svc, OPERATOR, alerts)
    benchmark.extra_info.update(codes=N, role="engine", note="alerts/s: alerts_put + the sweep putting N events")
    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    dd, svc = opened[-1]
    assert svc.index.store.epcis_last_seq() == N
    for dd, svc in opened:
        svc.close()
        dd.close()


@GROUP
def test_engine_first_sweep_of_a_restart(benchmark, alerts, tmp_path_factory):
    dd, svc = _fresh(tmp_path_factory)
    try:
        store_alerts(svc, OPERATOR, alerts)
        benchmark.extra_info.update(codes=N, role="engine", note="open alerts swept/s, all in the log already "
                                    "(their event ids looked up)")
        assert benchmark.pedantic(lambda: alert_events.publish(svc, force=True), rounds=ROUNDS, iterations=1) == 0
    finally:
        svc.close()
        dd.close()


@GROUP
def test_engine_sweep_after_a_change(benchmark, alerts, tmp_path_factory):
    dd, svc = _fresh(tmp_path_factory)
    try:
        store_alerts(svc, OPERATOR, alerts)

        def setup():   # the alerts change (one found again): alerts_version moves
            svc.index.store.alerts_put(alerts[:1])
            return (), {}
        benchmark.extra_info.update(codes=N, role="engine", note="open alerts swept/s, their events known to "
                                    "this Service")
        assert benchmark.pedantic(lambda: alert_events.publish(svc), setup=setup, rounds=ROUNDS, iterations=1) == 0
    finally:
        svc.close()
        dd.close()


@GROUP
def test_baseline_alerts_put_alone(benchmark, alerts, tmp_path_factory):
    opened = []

    def setup():
        opened.append(_fresh(tmp_path_factory))
        return (opened[-1][1],), {}

    benchmark.extra_info.update(codes=N, role="baseline", note="alerts/s: alerts_put alone")
    benchmark.pedantic(lambda svc: svc.index.store.alerts_put(alerts), setup=setup, rounds=ROUNDS, iterations=1)
    for dd, svc in opened:
        svc.close()
        dd.close()
