"""EPCIS events, the subscription outbox, leases and asset steps on the PostgreSQL store,
where PostgreSQL differs from one LMDB writer: many writers at once. Seqs must come in commit
order (a bookmark reader polling while writers commit misses nothing), an event id raced by
writers is stored once, a lease has one holder, an asset's racing appends write one step; and
epcis_find answers what the LMDB store answers for the same events and queries.

The port's own contract (one suite, both back ends) is tests/test_store_port.py; these run the
PostgreSQL store (tracecode.store.postgres.PgStore) over a real server (tests/postgres_server.py)."""
from __future__ import annotations

import random
import threading
import time

import pytest

from tracecode.store.port import EPC_ROLES, EpcisQuery, EpcisRecord



@pytest.fixture
def pg(pg_dsn):
    from tracecode import schemes
    from tracecode.store.postgres import PgStore
    store = PgStore(pg_dsn, schemes.builtin())
    yield store
    store.close()


def record(eid, t, epcs=(), *, step="shipping", role="epc", type="ObjectEvent", **kw):
    return EpcisRecord(event_id=eid, event={"type": type, "eventID": eid}, event_time=t, time_offset="+08:00",
                       record_time=t + 1, type=type, biz_step=step, epcs={role: list(epcs)} if epcs else {}, **kw)


def _threads(n, fn):
    errors = []

    def run(i):
        try:
            fn(i)
        except BaseException as e:   # reported by the test, not lost in a thread
            errors.append(e)
    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors


def test_concurrent_writers_seqs_are_commit_order_and_a_polling_bookmark_misses_none(pg):
    from tracecode.store.postgres.epcis import put
    from tracecode.store.postgres.sqltx import run_write
    writers, batches, size = 4, 25, 4
    done = threading.Event()
    seen: list = []

    def write(w):
        rng = random.Random(w)
        for b in range(batches):
            recs = [record(f"w{w}-{b}-{k}", 1e9 + rng.random(), [f"urn:x:{w}"]) for k in range(size)]

            def body(conn, recs=recs):   # the transaction stays open a while after its seqs are taken
                put(conn, recs)
                time.sleep(rng.random() * 0.003)
            run_write(pg, body)

    def poll():   # a subscription's delivery: from its bookmark to the last seq read, again and again
        bookmark = 0
        while True:
            finished = done.is_set()
            recs, last = pg.epcis_since(None, bookmark, limit=7)
            seen.extend((r.seq, r.event_id) for r in recs)
            bookmark = last
            if finished and last == pg.epcis_last_seq():
                return
    reader = threading.Thread(target=poll)
    reader.start()
    _threads(writers, write)
    done.set()
    reader.join(60)
    total = writers * batches * size
    assert [s for s, _ in seen] == list(range(1, total + 1))       # every seq once, in order, no gap
    assert sorted(e for _, e in seen) == sorted(f"w{w}-{b}-{k}" for w in range(writers)
                                                for b in range(batches) for k in range(size))
    # one writer's batches keep their order in the log
    for w in range(writers):
        mine = [e for _, e in seen if e.startswith(f"w{w}-")]
        assert mine == [f"w{w}-{b}-{k}" for b in range(batches) for k in range(size)]


def test_an_event_id_raced_by_writers_is_stored_once(pg):
    ids = [f"ni:///race-{i}" for i in range(30)]
    stored = []

    def write(w):
        order = ids[:]
        random.Random(w).shuffle(order)
        got = pg.epcis_put([record(i, 1e9 + w, [f"urn:w:{w}"]) for i in order])
        stored.extend(i for i, new in zip(order, got) if new)
    _threads(6, write)
    assert sorted(stored) == sorted(ids)   # one True per id, among all writers
    assert pg.epcis_last_seq() == len(ids)


def test_a_lease_raced_for_has_one_holder_and_fences_the_others(pg):
    pg.subscription_put({"id": "sub-0", "dest": "http://y/"}, bookmark=0)
    won = []
    _threads(8, lambda i: won.append(i) if pg.lease("delivery", f"w{i}", 30) else None)
    assert len(won) == 1
    holder = f"w{won[0]}"
    others = [f"w{i}" for i in range(8) if i != won[0]]
    assert all(not pg.subscription_progress("sub-0", 1, {"delivered": 1}, ("delivery", o)) for o in others)
    assert pg.subscription_progress("sub-0", 1, {"delivered": 2}, ("delivery", holder))
    assert pg.subscription_get("sub-0")["state"]["delivered"] == 2


def test_racing_appends_against_one_history_write_one_step(pg):
    won = []
    _threads(8, lambda i: won.append(i) if pg.asset_append("4114000007000001", 0, b'{"w":%d}' % i) else None)
    assert len(won) == 1 and pg.asset_steps("4114000007000001") == [b'{"w":%d}' % won[0]]


def _random_records(rng, n):
    steps, types = ("shipping", "receiving", "packing", None), ("ObjectEvent", "AggregationEvent", "TransactionEvent")
    out = []
    for i in range(n):
        epcs = {}
        for role in rng.sample(EPC_ROLES, rng.randint(0, 2)):
            epcs[role] = [f"urn:x:{rng.randint(0, 12)}" for _ in range(rng.randint(1, 3))]
        refs = {}
        if rng.random() < .5:
            refs["transaction"] = [[rng.choice(("po", "inv", None)), f"urn:po:{rng.randint(0, 4)}"]]
        out.append(EpcisRecord(event_id=f"e{i}", event={"i": i, "name": "\ud800 中" if i % 17 == 0 else "x"},
                               event_time=1.7e9 + rng.randint(0, 40), time_offset="+08:00",
                               record_time=1.8e9 + rng.randint(0, 40), type=rng.choice(types),
                               biz_step=rng.choice(steps), disposition=rng.choice(("active", None)),
                               action=rng.choice(("ADD", "OBSERVE", None)), epcs=epcs, refs=refs,
                               declared=rng.random() < .1))
    return out


def _random_query(rng):
    q = {}
    if rng.random() < .4:
        q["epcs"] = tuple(f"urn:x:{rng.randint(0, 12)}" for _ in range(rng.randint(1, 2)))
        if rng.random() < .5:
            q["epc_roles"] = tuple(rng.sample(EPC_ROLES, 2))
    if rng.random() < .2:
        q["refs"] = (("transaction", ((rng.choice(("po", None)), f"urn:po:{rng.randint(0, 4)}"),)),)
    if rng.random() < .2:   # with EPCs too: both must hold (the LMDB ids path once skipped the EPCs)
        q["event_ids"] = tuple(f"e{rng.randint(0, 80)}" for _ in range(4))
    if rng.random() < .3:
        q["biz_steps"] = (rng.choice(("shipping", "receiving")),)
    if rng.random() < .2:
        q["actions"] = ("ADD",)
    if rng.random() < .2:
        q["declared"] = rng.random() < .5
    if rng.random() < .3:
        q["ge_event_time"] = 1.7e9 + rng.randint(0, 20)
    if rng.random() < .3:
        q["lt_record_time"] = 1.8e9 + rng.randint(10, 40)
    q["order_by"] = rng.choice(("", "", "eventTime", "recordTime"))
    q["descending"] = rng.random() < .3
    return EpcisQuery(**q)


def _pages(store, q, limit):
    out, token = [], None
    while True:
        got, token = store.epcis_find(q, token, limit=limit)
        out += got
        if token is None:
            return out


def test_epcis_find_answers_what_the_lmdb_store_answers(pg, tmp_path):
    from tracecode import schemes
    from tracecode.store.lmdb.env import open_env
    from tracecode.store.lmdb.store import LmdbStore
    rng = random.Random(16)
    recs = _random_records(rng, 80)
    lm = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
    try:
        assert lm.epcis_put(recs) == pg.epcis_put(recs) == [True] * 80
        for _ in range(60):
            q = _random_query(rng)
            a, b = _pages(lm, q, 1000), _pages(pg, q, 1000)
            assert [r.event_id for r in a] == [r.event_id for r in b], q   # ties: both by seq
            assert [r.event_id for r in _pages(pg, q, 3)] == [r.event_id for r in b], q   # paged: the same
            for x, y in zip(sorted(a, key=lambda r: r.event_id), sorted(b, key=lambda r: r.event_id)):
                assert (x.event, x.epcs, x.refs, x.declared, x.seq) == (y.event, y.epcs, y.refs, y.declared, y.seq)
        for after in (0, 7, 40):
            x, y = lm.epcis_log(EpcisQuery(epcs=("urn:x:3",)), after, limit=5), pg.epcis_log(
                EpcisQuery(epcs=("urn:x:3",)), after, limit=5)
            assert [(r.seq, r.event_json, r.epcs) for r in x[0]] == [(r.seq, r.event_json, r.epcs) for r in y[0]]
            assert x[1] == y[1]
    finally:
        lm.close()
        lm.env.close()


# -- a subscription delivering from the PostgreSQL outbox, through Service and the runner -----
# The platform is the LMDB one of test_epcis_subscriptions, with the EPCIS, subscription and
# lease verbs of its store answered by a PgStore: what is delivered is what PostgreSQL's log
# holds, in its commit order.
PG_VERBS = {"epcis_put", "epcis_events", "epcis_find", "epcis_since", "epcis_log", "epcis_last_seq",
            "subscription_put", "subscription_get", "subscriptions", "subscription_delete",
            "subscription_rewind", "subscription_progress", "lease", "lease_release",
            "capture_job_put", "capture_job_get", "capture_jobs",
            "queries_put", "queries_get", "queries_delete", "queries_list"}


class _EpcisOnPostgres:
    def __init__(self, base, pg):
        self._base, self._pg = base, pg

    def __getattr__(self, name):
        return getattr(self._pg if name in PG_VERBS else self._base, name)


def _captured(eid):
    """An event as capture stores it (as test_epcis_subscriptions.put makes them)."""
    event = {"type": "ObjectEvent", "eventID": eid, "action": "OBSERVE", "bizStep": "shipping",
             "eventTime": "2027-01-15T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
             "recordTime": "2027-01-15T00:00:01.000Z", "epcList": []}
    return EpcisRecord(event_id=eid, event=event, event_time=1.8e9, time_offset="+08:00", record_time=time.time(),
                       type="ObjectEvent", biz_step="shipping")


@pytest.fixture
def pgp(tmp_path, monkeypatch, pg):
    from tracecode.app import subscriptions

    from test_epcis_subscriptions import allow_loopback
    from web_platform import Platform
    monkeypatch.setattr(subscriptions, "BASE_BACKOFF_S", 0.05)
    monkeypatch.setattr(subscriptions, "MAX_BACKOFF_S", 0.5)
    platform = Platform(tmp_path, count=8)
    allow_loopback(platform.dd.path)
    platform.svc.index.store = _EpcisOnPostgres(platform.svc.index.store, pg)
    yield platform
    platform.close()


def test_a_subscription_delivers_the_postgres_log_in_order_while_writers_commit(pgp, pg):
    from test_epcis_subscriptions import caller, in_order_once_or_more, put, running
    from subscription_receiver import Receiver
    regulator = caller(pgp, "regulator")
    with Receiver() as rx:
        sub = pgp.svc.subscribe(regulator, "all", EpcisQuery(), dest=rx.url, stream=True)
        sent = put(pgp, 5)
        with running(pgp):
            rx.wait_for(lambda r: len(r.ids()) >= 5)
            rx.down()                                  # the receiver away while writers go on

            def write(w):   # three writers whose commits race
                for b in range(10):
                    recs = [_captured(f"urn:uuid:00000000-0000-4000-9{w:03d}-{b * 3 + k:012d}") for k in range(3)]
                    assert all(pgp.svc.index.store.epcis_put(recs))
                    sent.extend(r.event_id for r in recs)
            _threads(3, write)
            rx.up()
            rx.wait_for(lambda r: len(set(r.ids())) >= len(sent))
        seqs = {r.event_id: r.seq for r in pg.epcis_events(sent)}
        in_order_once_or_more(rx.ids(), sorted(sent, key=seqs.get))   # the log's order, every event
        state = pgp.svc.subscription(regulator, sub["subscriptionID"])
        assert state["bookmark"] == pg.epcis_last_seq() == len(sent) and state["delivered"] == len(sent)
