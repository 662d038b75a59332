"""What only the PostgreSQL store has to show (the port suite, tests/test_store_port.py, runs
the rest on both stores): day partitions of the scan log dropped by retention, concurrent
reservations never overlapping, a killed connection losing nothing acknowledged, the schema
made once and re-opened."""
import threading

import numpy as np
import psycopg
import pytest

from tracecode import schemes
from tracecode.errors import CapacityExceeded
from tracecode.store.lmdb import codekeys
from tracecode.store.postgres import PgStore

PK, PRODUCT = b"8177322", {"drug_id": "8177322"}
DAY = 86400


@pytest.fixture
def store(pg_dsn):
    s = PgStore(pg_dsn, schemes.builtin())
    yield s
    s.close()


def _partitions(dsn):
    with psycopg.connect(dsn) as c:
        return sorted(r[0] for r in c.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'tc_scans'"))


def test_retention_drops_whole_days_and_deletes_in_a_partial_one(store, pg_dsn):
    batch = store.reserve("cn-drug-20", PK, PRODUCT, 10, 10**8)
    with store.reading() as v:
        pid = v.product_id("cn-drug-20", PK)
    ref = codekeys.ours(pid, batch.start)
    day0 = 20000   # 2024-10-03
    for k, when in enumerate([day0 * DAY + 10, (day0 + 1) * DAY + 10, (day0 + 2) * DAY + 10,
                              (day0 + 2) * DAY + 50]):
        store.record_scan(ref, 1, "gun", f"p{k}", when)
    assert store.flush_scans() == 4
    assert {f"tc_scans_d{day0 + i}" for i in range(3)} <= set(_partitions(pg_dsn))
    assert store.purge_before((day0 + 2) * DAY + 20, dry_run=True) == {"scans": 3, "codes": 1}
    assert store.purge_before((day0 + 2) * DAY + 20) == {"scans": 3, "codes": 1}
    parts = _partitions(pg_dsn)
    assert f"tc_scans_d{day0}" not in parts and f"tc_scans_d{day0 + 1}" not in parts
    assert f"tc_scans_d{day0 + 2}" in parts   # the partial day stays, its early scan deleted
    with store.reading() as v:
        scans = v.scans_of(ref)
        assert [s["place"] for _, s in scans] == ["p3"] and scans[0][1]["prev"] == 0
        status, seq, count, places, first, first_seq, last = v.code_record(ref)
        assert count == 1 and first == (day0 + 2) * DAY + 50 and first_seq == last == scans[0][0]
    store.record_scan(ref, 1, "gun", "p9", day0 * DAY + 5)   # a day dropped comes back when scanned
    assert store.flush_scans() == 1 and f"tc_scans_d{day0}" in _partitions(pg_dsn)


def test_concurrent_reservations_from_threads_never_overlap(pg_dsn):
    stores = [PgStore(pg_dsn, schemes.builtin()) for _ in range(2)]   # two "processes"
    got, errors = [], []

    def work(s, n):
        try:
            for _ in range(25):
                got.append(s.reserve("cn-drug-20", PK, PRODUCT, n, 10**8))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(stores[i % 2], 1 + i)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        spans = sorted((b.start, b.start + b.count) for b in got)
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])) and spans[0][0] == 0   # no gap, no overlap
        assert len({b.id for b in got}) == 200 and stores[0].issued("cn-drug-20", PK) == spans[-1][1]
        with stores[1].reading() as v:
            starts, ends, ids = v.batch_table("cn-drug-20", PK)
            assert len(starts) == 200 and (starts[1:] == ends[:-1]).all()
    finally:
        for s in stores:
            s.close()


def test_capacity_is_refused_with_nothing_reserved(store):
    store.reserve("cn-drug-20", PK, PRODUCT, 90, 100)
    with pytest.raises(CapacityExceeded) as exc:
        store.reserve("cn-drug-20", PK, PRODUCT, 11, 100)
    assert exc.value.remaining == 10 and store.issued("cn-drug-20", PK) == 90
    assert store.reserve("cn-drug-20", PK, PRODUCT, 10, 100).start == 90


def test_a_killed_connection_mid_write_loses_nothing_acknowledged(store, pg_dsn):
    """A backend killed inside a write: the write runs again on a new connection and
    commits once; what was acknowledged before is all there."""
    first = store.reserve("cn-drug-20", PK, PRODUCT, 10, 10**8)
    with store.reading() as v:
        pid = v.product_id("cn-drug-20", PK)
    refs = [codekeys.ours(pid, c) for c in range(10)]
    from tracecode.store.port import EventPlan
    tries = []

    def body(view):
        tries.append(1)
        if len(tries) == 1:   # kill our own backend from outside, mid-transaction
            me = view.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            with psycopg.connect(pg_dsn, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", (me,))
        return view.apply_event(EventPlan(record={"id": "e1", "action": "commission", "codes": []},
                                          client=None, event_id="e1", digest=b"d" * 8, refs=refs, state=1))
    seq = store.write(body)
    assert len(tries) == 2
    with store.reading() as v:
        assert v.event_seen(None, "e1") == (seq, b"d" * 8)
        assert all(v.code_record(r)[:2] == (1, seq) for r in refs)
        assert v.batch(first.id).count == 10
    assert store.stats()["events"] == 1


def test_the_schema_is_made_once_and_reopened(pg_dsn):
    a = PgStore(pg_dsn, schemes.builtin())
    b = PgStore(pg_dsn, schemes.builtin())   # a second opener: the DDL runs again, harmlessly
    try:
        assert a.stamp_format(b"5") == b"5" and b.stamp_format(b"6") == b"5"
        a.reserve("cn-drug-20", PK, PRODUCT, 3, 10**8)
        assert b.issued("cn-drug-20", PK) == 3
        with psycopg.connect(pg_dsn) as c:
            c.execute("UPDATE tc_meta SET value = '99' WHERE key = 'schema_version'")
        with pytest.raises(Exception, match="schema version 99"):
            PgStore(pg_dsn, schemes.builtin())
    finally:
        a.close()
        b.close()


def test_bulk_code_records_follow_containers(store):
    """A pallet's later event is its cases' and units' status (records.py's recursive read)."""
    store.reserve("cn-drug-20", PK, PRODUCT, 100, 10**8)
    with store.reading() as v:
        pid = v.product_id("cn-drug-20", PK)
    r = [codekeys.ours(pid, c) for c in range(100)]
    from tracecode.store.port import EventPlan

    def ev(eid, refs, **kw):
        return EventPlan(record={"id": eid}, client=None, event_id=eid, digest=b"x", refs=refs, **kw)
    store.write(lambda v: v.apply_event(ev("c", r[:50], state=1)))
    store.write(lambda v: v.apply_event(ev("p1", r[:10], state=None, parent=r[90], link="pack",
                                           parent_state_if_new=1)))
    store.write(lambda v: v.apply_event(ev("p2", [r[90]], state=None, parent=r[99], link="pack",
                                           parent_state_if_new=1)))
    store.write(lambda v: v.apply_event(ev("ship", [r[99]], state=3)))
    keys = codekeys.Keys.packed(r[:20] + [None])
    n = len(r[:20]) + 1
    out = [np.zeros(n, np.uint8), np.zeros(n, np.uint64), np.zeros(n, np.uint32), np.zeros(n, np.uint8),
           np.zeros(n, np.float64), np.zeros(n, np.uint64)]
    with store.reading() as v:
        v.code_records(keys, 0, *out)
    assert out[0][:10].tolist() == [3] * 10 and out[0][10:20].tolist() == [1] * 10


def test_the_exports_reads_answer_as_the_lmdb_stores(store, tmp_path):
    """scans_since / events_since (tracecode.analytics.export) on the same scans and events."""
    from tracecode.store.lmdb.env import open_env
    from tracecode.store.lmdb.store import LmdbStore
    from tracecode.store.port import EventPlan
    lm = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
    try:
        answers = []
        for s, reserve in ((lm, lm.batches.reserve), (store, store.reserve)):
            reserve("cn-drug-20", PK, PRODUCT, 10, 10**8)
            with s.reading() as v:
                pid = v.product_id("cn-drug-20", PK)
            refs = [codekeys.ours(pid, c) for c in range(3)]
            s.write(lambda v, refs=refs: v.apply_event(EventPlan(record={"id": "e", "action": "commission"},
                                                                  client=None, event_id="e", digest=b"d",
                                                                  refs=refs, state=1)))
            s.record_scans(codekeys.Keys.packed(refs + [None]), np.array([1, 1, 2, 6], np.uint8), "gun", "Ningbo",
                           1.7e9, region="330200", lat=29.87, lon=121.55)
            s.record_scan(refs[0], 1, None, None, 1.7e9 + 1)
            s.flush_scans()
            got = s.scans_since(1, 10)
            answers.append((got["seq"].tolist(), got["time"].tolist(), got["verdict"].tolist(),
                            [got["sources"][i] for i in got["source"]],
                            [bytes(got["keys"].buf[a:b]) for a, b in zip(got["keys"].off[:-1], got["keys"].off[1:])],
                            [e["id"] for e in s.events_since(0, 10)], s.events_since(1, 10),
                            s.export_last_seqs()))
        assert answers[0] == answers[1] and answers[1][-1] == (5, 1)
        assert len(answers[1][0]) == 4 and answers[1][3][0] == ("gun", "Ningbo", "330200", 29.87, 121.55)
    finally:
        lm.close()
        lm.env.close()


def test_alerts_version_moves_with_every_put_and_close(store):
    v0 = store.alerts_version()
    store.alerts_put([{"id": "a1", "rule": "clone_spread", "code": "X", "last_time": "2026-12-01"}])
    v1 = store.alerts_version()
    assert v1 != v0 and store.alerts_version() == v1   # reading it moves nothing
    assert store.alert_close("a1", "inspector")
    assert store.alerts_version() not in (v0, v1)
