"""EPCIS capture of TransformationEvents that change state, against py-lmdb putmulti of the
same records, same run (the pattern of test_bench_epcis.py).

Engine: an issuer captures one document of N_EVENTS TransformationEvents, each consuming
two commissioned codes of its own into one issued code (3 EPCs an event): read, validated,
CBV rules, rights, the outputs' states read in one verify_many for the document
(app/epcis.py _transformations), then 2 lifecycle events an event (destroy the inputs,
commission the output) applied through Index.apply with the EPCIS events stored, one write.
A second shape, "rare-earth": the same count of class-level separating events (LGTIN lots
with quantities, no per-code state) with their mass balance and quota checks, captured by
the operator (the lots' GTIN is no product of the issuer's).

Baseline: each event's JSON under its id and a row per EPC, putmulti in one transaction.
"""
import json
import uuid

import lmdb
import pytest

from bench.conftest import size
from bench.test_bench_epcis import BASE, SCHEME, document, need_schema
from bench.test_bench_epcis import engine  # noqa: F401 - the fixture, shared
from tracecode.app.caller import LOCAL
from tracecode.categories import rare_earth

N_EVENTS = size(1_000, 10_000)
ROUNDS = 3
SHAPES = [pytest.param(s, marks=pytest.mark.benchmark(group=f"epcis-transform-{s}"))
          for s in ("instances", "rare-earth")]
GTIN = "09506000134352"


def _tf(**fields):
    return {"type": "TransformationEvent", "eventID": f"urn:uuid:{uuid.uuid4()}",
            "eventTime": "2026-06-01T08:00:00+08:00", "eventTimeZoneOffset": "+08:00", **fields}


def instances(inputs, outputs):
    return [_tf(bizStep="commissioning", inputEPCList=inputs[2 * i:2 * i + 2], outputEPCList=[outputs[i]])
            for i in range(len(outputs))]


def lots(n, tag):
    q = lambda lot, kg: {"epcClass": f"https://id.gs1.org/01/{GTIN}/10/{lot}", "quantity": kg, "uom": "KGM"}  # noqa: E731
    return [_tf(bizStep=rare_earth.STEPS["separating"], inputQuantityList=[q(f"C{tag}-{i}", 1000)],
                outputQuantityList=[q(f"O{tag}-{i}", 990)]) for i in range(n)]


ROUND = iter(range(10**9))


@pytest.mark.parametrize("shape", SHAPES)
def test_engine_capture_transformations(benchmark, engine, shape):  # noqa: F811 - the shared fixture
    svc, issuer, product = engine

    def setup():
        if shape == "rare-earth":
            return (document(lots(N_EVENTS, next(ROUND))),), {}
        codes = [f"{BASE}/c/{c.decode()}" for c in svc.dd.issue(SCHEME, product, 3 * N_EVENTS).codes()]
        inputs, outputs = codes[:2 * N_EVENTS], codes[2 * N_EVENTS:]
        ready = svc.capture(issuer, document([{**_tf(), "type": "ObjectEvent", "action": "ADD",
                                                "bizStep": "commissioning", "epcList": inputs}]),
                            "application/json")
        assert ready["state"] == "success", ready["errors"][:3]
        return (document(instances(inputs, outputs)),), {}

    def capture(body):
        job = svc.capture(who, body, "application/json")
        assert job["state"] == "success", job["errors"][:3]
    who = LOCAL if shape == "rare-earth" else issuer   # the lots' GTIN is not the issuer's product
    benchmark.extra_info.update(codes=3 * N_EVENTS if shape == "instances" else 2 * N_EVENTS, role="engine",
                                note=f"capture: {N_EVENTS:,} TransformationEvents ({shape}), validated, "
                                     "checked, applied, stored")
    benchmark.pedantic(capture, setup=setup, rounds=ROUNDS, iterations=1)


@pytest.mark.parametrize("shape", SHAPES)
def test_baseline_lmdb_putmulti_transformations(benchmark, tmp_path, shape):
    need_schema()
    env = lmdb.open(str(tmp_path / "base"), map_size=1 << 33, max_dbs=4)
    events_db, epcs_db = env.open_db(b"events"), env.open_db(b"epcs", dupsort=True)
    serial = iter(range(10**9))

    def setup():
        if shape == "rare-earth":
            return (document(lots(N_EVENTS, next(serial))),), {}
        codes = [f"{BASE}/c/8177322{next(serial):013d}" for _ in range(3 * N_EVENTS)]
        return (document(instances(codes[:2 * N_EVENTS], codes[2 * N_EVENTS:])),), {}

    def put(body):
        rows, index = [], []
        for ev in json.loads(body)["epcisBody"]["eventList"]:
            eid = ev["eventID"].encode()
            rows.append((eid, json.dumps(ev).encode()))
            epcs = ev.get("inputEPCList", []) + ev.get("outputEPCList", []) + [
                q["epcClass"] for q in ev.get("inputQuantityList", []) + ev.get("outputQuantityList", [])]
            index += [(e.encode(), eid) for e in epcs]
        with env.begin(write=True) as txn:
            txn.cursor(db=events_db).putmulti(rows)
            txn.cursor(db=epcs_db).putmulti(sorted(index), dupdata=True)
    benchmark.extra_info.update(codes=3 * N_EVENTS if shape == "instances" else 2 * N_EVENTS, role="baseline",
                                note="py-lmdb putmulti: event JSON by id and EPC -> event id rows")
    benchmark.pedantic(put, setup=setup, rounds=ROUNDS, iterations=1)
