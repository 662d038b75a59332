"""Gaps between what capture keeps and what a query or a check reads (fixer F2): a forged
alert event under any spelling its @context allows; query values the facets would not
keep; events stored before facets existed; maxEventCount's count and its page token."""
from __future__ import annotations

import json

import pytest

from tracecode.app import alert_events
from tracecode.app.caller import OPERATOR

GS1 = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _capture_doc(ev: dict, context=None) -> bytes:
    ev = {"type": "ObjectEvent", "eventTime": "2026-03-01T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
          "epcList": [], "action": "OBSERVE", "bizStep": "shipping", **ev}
    return json.dumps({"@context": context or [GS1], "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": [ev]}}).encode()


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from epcis_reference import SCHEMA, need
    from web_platform import Platform
    need(SCHEMA)
    p = Platform(tmp_path_factory.mktemp("facetgaps"), count=2)
    yield p
    p.close()


ALERT = {"id": "0" * 20, "rule": "diversion"}


@pytest.mark.parametrize("ev,context", [
    ({"tc:alert": ALERT}, [GS1, {"tc": "https://ns.tracecode.org/epcis/"}]),      # another prefix, document's
    ({"tc:alert": ALERT, "@context": {"tc": "https://ns.tracecode.org/epcis/"}}, None),   # the event's own
    ({"https://ns.tracecode.org/epcis/alert": ALERT}, None),                           # the full IRI
    ({"https://ns.tracecode.org/epcis#alert": ALERT}, None),                           # namespace#name
    ({"flag": ALERT}, [GS1, {"flag": "https://ns.tracecode.org/epcis/alert"}]),        # a term
    ({"alert": ALERT}, [GS1, {"@vocab": "https://ns.tracecode.org/epcis/"}]),          # a bare key, @vocab
    ({"bizStep": "URN:tracecode:bizstep:alert"}, None),                                # another case
    ({"bizStep": "urn:TRACECODE:bizstep:alert"}, None),
])
def test_no_spelling_of_an_alert_event_is_captured(platform, ev, context):
    job = platform.svc.capture(OPERATOR, _capture_doc(ev, context), "application/ld+json")
    assert job["counts"]["stored"] == 0 and "analytics' own alerts" in job["errors"][0]["error"], job


def test_other_prefixed_fields_are_captured_as_before(platform):
    ev = {"tc:alerted": True, "ex:alert": 1, "epcList": ["urn:epc:id:sgtin:0614141.107346.2019"]}
    job = platform.svc.capture(OPERATOR, _capture_doc(ev, [GS1, {"tc": "https://ns.tracecode.org/epcis/",
                                                                  "ex": "http://ns.example.com/"}]),
                               "application/ld+json")
    assert job["counts"]["stored"] == 1, job["errors"]
    assert alert_events.BIZ_STEP == "urn:tracecode:bizstep:alert"


# -- values the facets keep and the values a query may name: the same ----------------------
CONTEXT = [GS1, {"example": "http://ns.example.com/epcis/"}]


# store: both stores, from conftest.py


def _record(eid: str, i: int, facets=True, **fields):
    from tracecode.epcis.facets import facets_of
    from tracecode.store.port import EpcisRecord
    ev = {"type": "ObjectEvent", "eventID": eid, "action": "OBSERVE", "bizStep": "shipping",
          "eventTime": "2026-11-30T09:00:00.000+08:00", "eventTimeZoneOffset": "+08:00", **fields}
    rp = ev.get("readPoint")
    return EpcisRecord(event_id=eid, event=ev, event_time=1.78e9 + i, time_offset="+08:00", record_time=1.79e9 + i,
                       type="ObjectEvent", biz_step="shipping", action="OBSERVE", read_point=rp and rp["id"],
                       epcs={"epc": []}, facets=facets_of(ev, CONTEXT) if facets else {})


def _found(store, params) -> list:
    from tracecode.app import epcis_params
    q = epcis_params.parse_query(params).query
    out, token = [], None
    while True:
        got, token = store.epcis_find(q, token, limit=3)
        out += [r.event_id for r in got]
        if token is None:
            return sorted(out)


def test_every_value_of_a_long_list_is_found(store):
    many = [f"lot-{i}" for i in range(500)]
    assert all(store.epcis_put([_record("big", 0, ilmd={"example:lots": many}, **{"example:tags": many})]))
    for v in ("lot-0", "lot-63", "lot-64", "lot-499"):   # beyond the 64 values once kept
        assert _found(store, {"EQ_ILMD_example:lots": v}) == ["big"], v
        assert _found(store, {"EQ_example:tags": v}) == ["big"], v
    assert _found(store, {"EQ_ILMD_example:lots": "lot-500"}) == []


@pytest.mark.parametrize("params,field", [
    ({"EQ_ILMD_example:batch": "x" * 257}, "EQ_ILMD_example:batch"),
    ({"EQ_example:myField": "a|" + "y" * 300}, "EQ_example:myField"),
    ({"EQ_transformationID": "t" * 257}, "EQ_transformationID"),
    ({"EQ_errorReason": "r" * 257}, "EQ_errorReason"),
    ({"EQ_correctiveEventID": "urn:uuid:" + "c" * 250}, "EQ_correctiveEventID"),
    ({"EQ_ILMD_example:" + "n" * 300: "x"}, "EQ_ILMD_example:" + "n" * 300),
    ({"EXISTS_example:" + "n" * 300: ""}, "EXISTS_example:" + "n" * 300),
])
def test_a_value_the_facets_do_not_keep_is_refused_by_name(params, field):
    from tracecode.app import epcis_params
    from tracecode.app.refusal import Refusal
    with pytest.raises(Refusal) as e:
        epcis_params.parse_query(params)
    # a long name is shortened in the refusal (Refusal bounds it): its start names it
    assert e.value.reason == "invalid_argument" and e.value.field.startswith(field[:80]) \
        and "indexed" in e.value.detail, e.value.detail


def test_values_up_to_the_kept_length_are_found(store):
    from tracecode.epcis.facets import MAX_CHARS
    v = "v" * MAX_CHARS
    assert all(store.epcis_put([_record("long", 0, ilmd={"example:batch": v})]))
    assert _found(store, {"EQ_ILMD_example:batch": v}) == ["long"]


# -- events stored before facets existed: given theirs when the store is opened --------------
OLD = [dict(eid="old-ilmd", ilmd={"cbvmda:lotNumber": "L7", "example:batch": "XYZ"}),
       dict(eid="old-q", quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 4}]),
       dict(eid="old-rp", readPoint={"id": "urn:epc:id:sgln:0614141.07346.1234"}),
       dict(eid="old-ext", **{"example:colour": "red"}),
       dict(eid="old-none")]
FOUND = [({"EQ_ILMD_example:batch": "XYZ"}, ["old-ilmd"]),
         ({"EQ_ILMD_urn:epcglobal:cbv:mda#lotNumber": "L7"}, ["old-ilmd"]),   # GS1's prefix: known
         ({"EXISTS_ILMD_cbvmda:lotNumber": ""}, ["old-ilmd"]),
         ({"EQ_quantity": "4"}, ["old-q"]),
         ({"WD_readPoint": "urn:epc:id:sgln:0614141.07346.0"}, ["old-rp"]),
         ({"EQ_example:colour": "red"}, ["old-ext"])]


def _old_records():
    return [_record(o.pop("eid"), i, **o) for i, o in enumerate(dict(o) for o in OLD)]


def test_lmdb_events_from_before_facets_are_found_after_open(tmp_path, monkeypatch):
    from tracecode import schemes
    from tracecode.store.lmdb import epcis as lmdb_epcis
    from tracecode.store.lmdb.env import open_env
    from tracecode.store.lmdb.store import LmdbStore

    def opened():
        s = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
        return s

    s = opened()
    assert all(s.epcis_put(_old_records()))
    with s.env.begin(write=True) as txn:   # the old layout: heads without facets, no backfill mark
        main = s.epcis.main
        cur = txn.cursor(db=main)
        found = cur.set_range(b"E")
        while found and cur.key()[:1] == b"E":
            if cur.key()[-1:] == b"h":
                head = lmdb_epcis._loads(cur.value())
                del head["facets"]
                cur.put(cur.key(), lmdb_epcis._dumps(head))
            found = cur.next()
        txn.delete(lmdb_epcis.FACETS_MARK, db=main)
    for params, _ in FOUND:
        assert _found(s, params) == [], params   # what an old index answered: nothing
    s.close()
    s.env.close()
    monkeypatch.setattr(lmdb_epcis, "FACETS_CHUNK", 2)   # several chunks, each committed
    s = opened()
    try:
        for params, expected in FOUND:
            assert _found(s, params) == expected, params
        with s.env.begin() as txn:
            assert txn.get(lmdb_epcis.FACETS_MARK, db=s.epcis.main) == lmdb_epcis.FACETS_DONE
    finally:
        s.close()
        s.env.close()


def test_lmdb_backfill_carries_on_from_its_mark(tmp_path):
    """A kill -9 between chunks leaves the mark at the seq reached: the next open starts there."""
    from tracecode import schemes
    from tracecode.store.lmdb import epcis as lmdb_epcis
    from tracecode.store.lmdb.batches import u64
    from tracecode.store.lmdb.env import open_env
    from tracecode.store.lmdb.store import LmdbStore
    s = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
    assert all(s.epcis_put(_old_records()))
    with s.env.begin(write=True) as txn:
        for seq in (1, 4):   # seq 1 "done" before the kill, seq 4 not
            key = b"E" + u64(seq) + b"h"
            head = lmdb_epcis._loads(txn.get(key, db=s.epcis.main))
            del head["facets"]
            txn.put(key, lmdb_epcis._dumps(head), db=s.epcis.main)
        txn.put(lmdb_epcis.FACETS_MARK, b"S" + u64(2), db=s.epcis.main)
    s.close()
    s.env.close()
    s = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
    try:
        with s.env.begin() as txn:
            assert "facets" in lmdb_epcis._loads(txn.get(b"E" + u64(4) + b"h", db=s.epcis.main))
            assert "facets" not in lmdb_epcis._loads(txn.get(b"E" + u64(1) + b"h", db=s.epcis.main))
    finally:
        s.close()
        s.env.close()


def test_postgres_events_from_before_facets_are_found_after_open(pg_dsn, monkeypatch):
    from tracecode import schemes
    from tracecode.store.postgres import PgStore
    from tracecode.store.postgres import epcis as pg_epcis
    s = PgStore(pg_dsn, schemes.builtin())
    try:
        assert all(s.epcis_put(_old_records()))
        with s.tx() as conn:   # the old layout: facets NULL, heads without them
            for seq, head in conn.execute("SELECT seq, head FROM tc_epcis_events").fetchall():
                h = pg_epcis.loads(head)
                del h["facets"]
                conn.execute("UPDATE tc_epcis_events SET facets = NULL, head = %s WHERE seq = %s",
                             [pg_epcis.dumps(h), seq])
        for params, _ in FOUND:
            assert _found(s, params) == [], params
    finally:
        s.close()
    monkeypatch.setattr(pg_epcis, "FACETS_CHUNK", 2)
    s = PgStore(pg_dsn, schemes.builtin())
    try:
        for params, expected in FOUND:
            assert _found(s, params) == expected, params
        with s.tx() as conn:
            assert conn.execute("SELECT count(*) FROM tc_epcis_events WHERE facets IS NULL").fetchone()[0] == 0
        assert s.epcis_events(["old-q"])[0].facets["q"] == [4.0]
    finally:
        s.close()


# -- maxEventCount: counted from the index, its page tokens tied to their query --------------
def test_the_store_counts_without_decoding_an_event(store, monkeypatch):
    from tracecode.store.lmdb import epcis as lmdb_epcis
    from tracecode.store.port import EpcisQuery
    from tracecode.store.postgres import epcis as pg_epcis
    assert all(store.epcis_put([_record(f"n{i}", i, ilmd={"example:batch": "B" if i % 2 else "A"})
                                for i in range(9)]))

    def no_decoding(*a, **k):
        raise AssertionError("an event was decoded to be counted")
    monkeypatch.setattr(lmdb_epcis.EpcisTables, "_record", no_decoding)
    monkeypatch.setattr(pg_epcis, "record_of", no_decoding)
    assert store.epcis_count(EpcisQuery(), 100) == 9
    assert store.epcis_count(EpcisQuery(), 3) == 4            # counted to one more than most
    assert store.epcis_count(EpcisQuery(), 0) == 1
    b = epcis_params_query({"EQ_ILMD_example:batch": "B"})
    assert store.epcis_count(b, 100) == 4 and store.epcis_count(b, 2) == 3
    assert store.epcis_count(EpcisQuery(event_ids=("n1", "n2", "zz")), 10) == 2
    assert store.epcis_count(EpcisQuery(biz_steps=("receiving",)), 10) == 0


def epcis_params_query(params):
    from tracecode.app import epcis_params
    return epcis_params.parse_query(params).query


@pytest.fixture(scope="module")
def counted(platform):
    """Eight events of a batch of our own in the platform's store (an operator's capture)."""
    events = [{"eventID": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", "example:run": "max-count",
               "epcList": [f"urn:epc:id:sgtin:0614141.107346.30{i}"]} for i in range(8)]
    for ev in events:
        job = platform.svc.capture(OPERATOR, _capture_doc(ev, CONTEXT), "application/ld+json")
        assert job["counts"]["stored"] == 1, job["errors"]
    return platform


def test_max_event_count_reads_no_event_to_count_and_its_tokens_hold_to_their_query(counted, monkeypatch):
    from tracecode.app.refusal import Refusal
    svc, store = counted.svc, counted.svc.index.store
    calls = []
    real = store.epcis_find
    monkeypatch.setattr(store, "epcis_find", lambda *a, **k: calls.append(a) or real(*a, **k))
    mine = {"EQ_example:run": "max-count", "maxEventCount": "10000", "perPage": "3"}
    events, token = svc.query_epcis(OPERATOR, mine)
    assert len(events) == 3 and token and len(calls) == 1   # the page only: the count read the index
    seen = [e["eventID"] for e in events]
    while token:
        events, token = svc.query_epcis(OPERATOR, {**mine, "nextPageToken": token})
        seen += [e["eventID"] for e in events]
    assert len(set(seen)) == 8
    with pytest.raises(Refusal) as e:
        svc.query_epcis(OPERATOR, {**mine, "maxEventCount": "7"})
    assert e.value.reason == "query_too_large"
    _, token = svc.query_epcis(OPERATOR, mine)
    tag, _, inner = token[2:].partition(".")
    for forged in (f"m.{inner}",                                   # the old form: no tag
                   f"m.{'0' * 32}.{inner}",                        # a made-up tag
                   token.replace(inner, inner[:-1] + ("0" if inner[-1] != "0" else "1")),   # another place
                   inner):                                         # a bare store token
        with pytest.raises(Refusal) as e:
            svc.query_epcis(OPERATOR, {**mine, "nextPageToken": forged})
        assert e.value.field == "nextPageToken", forged
    for other in ({**mine, "maxEventCount": "9999"}, {**mine, "EQ_bizStep": "shipping"}):   # another query
        with pytest.raises(Refusal) as e:
            svc.query_epcis(OPERATOR, {**other, "nextPageToken": token})
        assert e.value.field == "nextPageToken"


def test_an_issuers_max_event_count_counts_what_it_may_read_within_one_pages_reads(counted, monkeypatch):
    from tracecode.app import epcis as app_epcis
    from tracecode.app.refusal import Refusal
    svc = counted.svc
    issuer = svc.clients.by_token(counted.tokens["issuer"])
    mine = {"EQ_example:run": "max-count", "maxEventCount": "3", "perPage": "3"}
    assert svc.query_epcis(issuer, mine) == ([], None)   # 8 selected, none its own: within 3
    monkeypatch.setattr(app_epcis, "MAX_PAGE", 3)        # a walk of 3-event pages, 3 events at most
    monkeypatch.setattr(app_epcis, "MAX_WALK", 3)
    with pytest.raises(Refusal) as e:
        svc.query_epcis(issuer, mine)
    assert e.value.reason == "query_too_large" and "would read over 3" in e.value.detail
    assert svc.query_epcis(issuer, {**mine, "maxEventCount": "8"}) == ([], None)   # the index count: within
