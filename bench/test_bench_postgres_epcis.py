"""EPCIS events stored and read back, PostgreSQL store against the LMDB store, same run.

Stored: N AggregationEvents (a case of 24 EPCs packed each), put in writes of 500 events
(capture's shape: one store write per document), each write durable (LMDB: synced;
PostgreSQL: fsync on, synchronous_commit on, a local server on loopback). Read: the outbox
walked from seq 0 to its end (epcis_log, 1,000 per call) as a subscription's delivery reads
it. Baseline: the LMDB store (tracecode.store.lmdb), engine: the PostgreSQL store's EPCIS
store (tracecode.store.postgres.PgStore), each round on a new database.
"""
from __future__ import annotations

import pytest

from bench.conftest import size
from tracecode.store.port import EpcisRecord

N = size(5_000, 100_000)
PER_WRITE = 500
ROUNDS = 3
PUT = pytest.mark.benchmark(group="epcis-store-put (events/s)")
LOG = pytest.mark.benchmark(group="epcis-store-outbox-read (events/s)")


def _events(n: int, tag: str) -> list:
    out = []
    for i in range(n):
        eid = f"urn:uuid:{tag}-{i:012d}"
        epcs = [f"urn:epc:id:sgtin:0614141.107346.{i * 24 + k}" for k in range(24)]
        out.append(EpcisRecord(event_id=eid, event={
            "type": "AggregationEvent", "eventID": eid, "action": "ADD", "bizStep": "packing",
            "parentID": f"urn:epc:id:sscc:0614141.{i:010d}", "childEPCs": epcs,
            "eventTime": "2027-01-15T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00"},
            event_time=1.8e9 + i, time_offset="+08:00", record_time=1.8e9 + i, type="AggregationEvent",
            biz_step="packing", action="ADD",
            epcs={"parent": [f"urn:epc:id:sscc:0614141.{i:010d}"], "child": epcs}))
    return out


_dbs = iter(range(1, 1 << 20))


def _pg_store(server):
    from tracecode import schemes
    from tracecode.store.postgres import PgStore
    return PgStore(server.create_database(f"bench_{next(_dbs)}"), schemes.builtin())


def _lmdb_store(path):
    import shutil

    from tracecode import schemes
    from tracecode.store.lmdb.env import open_env
    from tracecode.store.lmdb.store import LmdbStore
    shutil.rmtree(path, ignore_errors=True)
    return LmdbStore(open_env(path), schemes.builtin())


def _put_all(store, events):
    for i in range(0, len(events), PER_WRITE):
        assert all(store.epcis_put(events[i:i + PER_WRITE]))


def _read_all(store):
    after, n = 0, 0
    last = store.epcis_last_seq()
    while after < last:
        got, after = store.epcis_log(None, after, 1000)
        n += len(got)
    assert n == N


@PUT
def test_baseline_lmdb_epcis_put(benchmark, tmp_path):
    events, state = _events(N, "l"), {}

    def setup():
        if "s" in state:
            state["s"].close()
            state["s"].env.close()
        state["s"] = _lmdb_store(tmp_path / "lmdb")
    benchmark.extra_info.update(codes=N, role="baseline", note=f"LMDB, {PER_WRITE} AggregationEvents (24 EPCs) a write")
    benchmark.pedantic(lambda: _put_all(state["s"], events), setup=setup, rounds=ROUNDS, iterations=1)
    state["s"].close()
    state["s"].env.close()


@PUT
def test_engine_postgres_epcis_put(benchmark, pg_server):
    events, state = _events(N, "p"), {}

    def setup():
        if "s" in state:
            state["s"].close()
        state["s"] = _pg_store(pg_server)
    benchmark.extra_info.update(codes=N, role="engine", note=f"PostgreSQL (fsync on), {PER_WRITE} a write")
    benchmark.pedantic(lambda: _put_all(state["s"], events), setup=setup, rounds=ROUNDS, iterations=1)
    state["s"].close()


@LOG
def test_baseline_lmdb_outbox_read(benchmark, tmp_path):
    s = _lmdb_store(tmp_path / "lmdb-log")
    _put_all(s, _events(N, "l"))
    benchmark.extra_info.update(codes=N, role="baseline", note="epcis_log from 0, 1,000 a call")
    benchmark.pedantic(lambda: _read_all(s), rounds=ROUNDS, iterations=1)
    s.close()
    s.env.close()


@LOG
def test_engine_postgres_outbox_read(benchmark, pg_server):
    s = _pg_store(pg_server)
    _put_all(s, _events(N, "p"))
    benchmark.extra_info.update(codes=N, role="engine", note="epcis_log from 0, 1,000 a call")
    benchmark.pedantic(lambda: _read_all(s), rounds=ROUNDS, iterations=1)
    s.close()
