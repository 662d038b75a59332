"""EPCIS capture (Service.capture) against py-lmdb putmulti of the same records, same run.

Engine: an issuer captures an EPCISDocument, end to end: read, validated against GS1's
schema, CBV rules, rights over every EPC, the lifecycle events applied against every
code's state, the EPCIS events stored with their EPC and time indexes, one durable write,
the job stored and audited. Two shapes: one ObjectEvent commissioning N codes, and
AggregationEvents packing codes 24 to a case (their codes commissioned before, untimed).
EPCs are national codes in their URI form (https://BASE/c/{code}).

A third shape, "aggregation-hashed", is the same AggregationEvents without eventIDs (as many
enterprise systems send them): each event's id is then its GS1 event hash. The schema compiled
once per process (schema.fast_validator) is compiled before the rounds, as a server has it.

Baseline: what a bare EPCIS store would write for the same document with py-lmdb: each
event's JSON under its id and a row per EPC (EPC -> event id), putmulti in one
transaction; no parsing, validation or state. Needs GS1's schema
(../shared/reference/epcis): skipped with its path when missing.
"""
import json
import uuid

import lmdb
import pytest

import tracecode
from bench.conftest import size
from tracecode.app import Caller, ProductRule, Service
from tracecode.app.clients import Clients, ClientsFile
from tracecode.capacity import measure
from tracecode.epcis import schema

N_OBJECT = size(20_000, 100_000)      # codes in the one ObjectEvent
N_CASES = size(400, 10_000)           # AggregationEvents of CASE codes
CASE = 24
ROUNDS = 3
BASE = "https://trace.example.gov.cn"
SCHEME = measure.ISSUE_SCHEME
SHAPES = [pytest.param(s, marks=pytest.mark.benchmark(group=f"epcis-capture-{s}"))
          for s in ("object", "aggregation", "aggregation-hashed")]


def need_schema():
    try:
        schema.schema_path()
    except Exception as exc:  # noqa: BLE001 - EpcisError: no schema configured here
        pytest.skip(str(exc))


def document(events) -> bytes:
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                       "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00+08:00",
                       "epcisBody": {"eventList": events}}).encode()


def _event(kind, **fields):
    return {"type": kind, "eventID": f"urn:uuid:{uuid.uuid4()}", "eventTime": "2026-12-01T08:00:00+08:00",
            "eventTimeZoneOffset": "+08:00", "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
            **fields}


def commission(epcs):
    return _event("ObjectEvent", action="ADD", bizStep="commissioning", disposition="active", epcList=epcs)


def packs(epcs, first_case, ids=True):
    events = [_event("AggregationEvent", action="ADD", bizStep="packing", disposition="in_progress",
                   parentID=f"urn:epc:id:sscc:0614141.{first_case + k:010d}", childEPCs=epcs[i:i + CASE])
              for k, i in enumerate(range(0, len(epcs), CASE))]
    if not ids:
        for ev in events:
            del ev["eventID"]
    return events


CASES = iter(range(0, 10**9, N_CASES))   # first SSCC of each round: new cases in every round of every shape


def n_codes(shape):
    return N_OBJECT if shape == "object" else N_CASES * CASE


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    need_schema()
    schema.fast_validator()   # compiled once per process (about a second): a server has it at hand
    where = tmp_path_factory.mktemp("epcis")
    d = tracecode.init(where / "data")
    product = d.scheme(SCHEME).example_product()
    rule = f"{SCHEME}:" + ",".join(f"{k}={v}" for k, v in product.items())
    ClientsFile.open_or_create(where / "clients.toml").add("line-1", ["issuer"], [rule])
    svc = Service(d, Clients(where / "clients.toml"))
    issuer = Caller("line-1", frozenset({"issuer"}), (ProductRule.parse(rule),))
    yield svc, issuer, product
    svc.close()
    d.close()


@pytest.mark.parametrize("shape", SHAPES)
def test_engine_capture(benchmark, engine, shape):
    svc, issuer, product = engine
    n = n_codes(shape)

    def setup():
        epcs = [f"{BASE}/c/{c.decode()}" for c in svc.dd.issue(SCHEME, product, n).codes()]
        if shape == "object":
            return (document([commission(epcs)]),), {}
        ready = svc.capture(issuer, document([commission(epcs)]), "application/json")
        assert ready["state"] == "success", ready["errors"][:3]
        return (document(packs(epcs, next(CASES), ids=shape == "aggregation")),), {}

    def capture(body):
        job = svc.capture(issuer, body, "application/json")
        assert job["state"] == "success", job["errors"][:3]
    what = f"one ObjectEvent of {n:,} codes" if shape == "object" else f"{N_CASES:,} AggregationEvents of {CASE}"
    what += ", no eventIDs (GS1 hash)" if shape == "aggregation-hashed" else ""
    benchmark.extra_info.update(codes=n, role="engine",
                                note=f"capture: {what}, validated, checked, applied, stored")
    benchmark.pedantic(capture, setup=setup, rounds=ROUNDS, iterations=1)


@pytest.mark.parametrize("shape", SHAPES)
def test_baseline_lmdb_putmulti(benchmark, tmp_path, shape):
    need_schema()   # the same runs as the engine's: a ratio needs both
    env = lmdb.open(str(tmp_path / "base"), map_size=1 << 34, max_dbs=4)
    events_db, epcs_db = env.open_db(b"events"), env.open_db(b"epcs", dupsort=True)
    n = n_codes(shape)
    serial = iter(range(10**9))

    def setup():
        epcs = [f"{BASE}/c/8177322{next(serial):013d}" for _ in range(n)]
        events = [commission(epcs)] if shape == "object" else packs(epcs, 0, ids=shape != "aggregation-hashed")
        return (document(events),), {}

    def put(body):   # parsing the document is the least any store does
        events = json.loads(body)["epcisBody"]["eventList"]
        rows, index = [], []
        for ev in events:   # an event without eventID: a bare store would key it by a new UUID
            eid = ev.get("eventID", f"urn:uuid:{uuid.uuid4()}").encode()
            rows.append((eid, json.dumps(ev).encode()))
            index += [(e.encode(), eid) for e in ev.get("epcList", ev.get("childEPCs", []))]
        with env.begin(write=True) as txn:
            txn.cursor(db=events_db).putmulti(rows)
            txn.cursor(db=epcs_db).putmulti(index, dupdata=True)
    benchmark.extra_info.update(codes=n, role="baseline",
                                note="py-lmdb putmulti: event JSON by id and EPC -> event id rows")
    benchmark.pedantic(put, setup=setup, rounds=ROUNDS, iterations=1)


# -- query: one EPC's events among many ----------------------------------------------------------
N_STORED = size(100_000, 1_000_000)   # events stored before the queries
EPCS_PER_EVENT, POOL = 4, size(40_000, 400_000)   # each EPC in about 10 events
QUERY_ROUNDS = 200


def _stored_events():
    """N_STORED ObjectEvents naming EPCS_PER_EVENT EPCs each of a pool, as the store keeps them."""
    from tracecode.store.port import EpcisRecord
    for i in range(N_STORED):
        epcs = [f"(01)09506000134352(21){(i * 7919 + k * 104729) % POOL}" for k in range(EPCS_PER_EVENT)]
        ev = {"type": "ObjectEvent", "eventID": f"urn:uuid:{i:032x}", "action": "OBSERVE", "bizStep": "shipping",
              "eventTime": "2026-12-01T08:00:00+08:00", "epcList": epcs}
        yield EpcisRecord(event_id=ev["eventID"], event=ev, event_time=1.79e9 + i, time_offset="+08:00",
                          record_time=1.79e9 + i, type="ObjectEvent", biz_step="shipping", epcs={"epc": epcs})


def _hot_epcs():
    return [f"(01)09506000134352(21){k}" for k in range(0, POOL, POOL // QUERY_ROUNDS)][:QUERY_ROUNDS]


@pytest.mark.benchmark(group="epcis-query-one-epc")
def test_engine_query_one_epc(benchmark, tmp_path):
    from tracecode.app import LOCAL
    from tracecode.store.port import EpcisQuery
    d = tracecode.init(tmp_path / "data")
    svc = Service(d)
    batch = []
    for rec in _stored_events():
        batch.append(rec)
        if len(batch) == 10_000:
            svc.index.store.epcis_put(batch)
            batch = []
    svc.index.store.epcis_put(batch)
    hot = iter(_hot_epcs())

    def query(epc):
        events, _ = svc.query_events(LOCAL, EpcisQuery(epcs=(epc,)), per_page=100)
        assert events
    benchmark.extra_info.update(codes=1, role="engine",
                                note=f"query_events of one EPC's events (~10) among {N_STORED:,} stored: "
                                     "queries/s; p50 is the median")
    benchmark.pedantic(query, setup=lambda: ((next(hot),), {}), rounds=QUERY_ROUNDS, iterations=1)
    svc.close()
    d.close()


@pytest.mark.benchmark(group="epcis-query-one-epc")
def test_baseline_lmdb_dupsort_get(benchmark, tmp_path):
    env = lmdb.open(str(tmp_path / "base"), map_size=1 << 34, max_dbs=4)
    events_db, epcs_db = env.open_db(b"events"), env.open_db(b"epcs", dupsort=True)
    recs = list(_stored_events())
    with env.begin(write=True) as txn:
        txn.cursor(db=events_db).putmulti([(r.event_id.encode(), json.dumps(r.event).encode()) for r in recs])
        txn.cursor(db=epcs_db).putmulti(sorted((e.encode(), r.event_id.encode()) for r in recs
                                               for e in r.epcs["epc"]), dupdata=True)
    del recs
    hot = iter(_hot_epcs())

    def query(epc):
        with env.begin() as txn:
            cur = txn.cursor(db=epcs_db)
            ids = list(cur.iternext_dup()) if cur.set_key(epc.encode()) else []
            events = [json.loads(txn.get(i, db=events_db)) for i in ids]
        assert events
    benchmark.extra_info.update(codes=1, role="baseline",
                                note="py-lmdb: the EPC's event ids (dupsort), each event's JSON")
    benchmark.pedantic(query, setup=lambda: ((next(hot),), {}), rounds=QUERY_ROUNDS, iterations=1)
