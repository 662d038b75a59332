"""The Parquet export and EPCIS error declarations: an event undone after it was exported
is named in undone/ (its parts are not rewritten) and the analytics engines' `events` view
leaves it out; the code snapshot no longer stands on it. Each runs over LMDB and over
PostgreSQL (a real server)."""
from __future__ import annotations

import json

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import tracecode
from tracecode.analytics.engines import open_engine
from tracecode.analytics.export import UNDONE_SCHEMA, ExportError, export, read_state
from tracecode.app import Caller, ProductRule, Service
from tracecode.app.caller import LOCAL
from tracecode.app.clients import Clients, ClientsFile

from test_epcis_error_declaration import declared, event   # the same EPCIS events as there

GTIN = "09506000134352"
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
LINE = Caller("line-3", frozenset({"issuer"}), (ProductRule.parse(f"gs1-sgtin:gtin={GTIN}"),))


@pytest.fixture(params=["lmdb", "postgres"])
def svc(request, tmp_path):
    store = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    tracecode.init(tmp_path / "data", **({"store": store} if store else {})).close()
    d = tracecode.open(tmp_path / "data")
    ClientsFile.open_or_create(tmp_path / "clients.toml").add("line-3", ["issuer"], [f"gs1-sgtin:gtin={GTIN}"])
    s = Service(d, Clients(tmp_path / "clients.toml"))
    yield s
    s.close()
    d.close()


def codes(svc, n):
    hri = [c.decode() for c in svc.dd.issue("gs1-sgtin", {"gtin": GTIN}, n).codes("hri")]
    return [f"https://id.gs1.org/01/{c[4:18]}/21/{c[22:]}" for c in hri], [c[4:18] + c[22:] for c in hri]


def capture(svc, *events, who=LINE):
    body = json.dumps({"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00+08:00", "epcisBody": {"eventList": list(events)}})
    job = svc.capture(who, body.encode(), "application/ld+json")
    assert job["state"] == "success", job["errors"]
    return job


def table(out, name):
    return ds.dataset(out / name, partitioning="hive").to_table().drop_columns(["day"]).sort_by("seq")


def snapshot(out):
    rows = pq.read_table(out / "codes" / read_state(out)["snapshot"] / "part-0.parquet").to_pylist()
    return {r["code"]: r for r in rows}


def standing(out) -> list:
    """(bizStep, code) of the events DuckDB's view shows."""
    engine = open_engine("duckdb", out)
    try:
        return sorted((r["biz_step"], r["code"]) for r in engine.rows("SELECT biz_step, code FROM events"))
    finally:
        engine.close()


def test_an_event_undone_after_its_export_is_named_and_left_out(svc, tmp_path):
    out = tmp_path / "out"
    epcs, bare = codes(svc, 3)
    ship = event(epcs=epcs, action="OBSERVE", step="shipping", disp="in_transit", minute=10)
    capture(svc, event(epcs=epcs), ship)
    first = export(svc.dd, out)
    assert first["events"] == 6 and first["undone"] == 0
    assert {r["last_event_time"].minute for r in snapshot(out).values()} == {10}
    fix = event(epcs=epcs[:1], action="OBSERVE", step="shipping", disp="in_transit", minute=40)
    capture(svc, declared(ship, corrective=[fix["eventID"]]))
    second = export(svc.dd, out)
    assert second["events"] == 0 and second["undone"] == 1 and second["epcis_seq"] == 3
    [row] = table(out, "undone").to_pylist()
    ship_seq = [r["seq"] for r in table(out, "events").to_pylist() if r["biz_step"] == "shipping"][0]
    assert row["event_seq"] == ship_seq and row["event_id"] == ship["eventID"]
    assert row["epcis_event_id"] == ship["eventID"] and row["reason"] == "incorrect_data"
    assert row["corrective_event_ids"] == [fix["eventID"]]
    assert row["time"].isoformat() == "2026-12-02T00:00:00+00:00"
    assert table(out, "undone").schema == UNDONE_SCHEMA
    # the parts written before stay as they were; the engines' view leaves the ship out
    assert len(table(out, "events")) == 6
    assert standing(out) == sorted(("commissioning", c) for c in bare)
    # the snapshot is drawn again without it: the codes' last event is their commission
    snap = snapshot(out)
    assert {snap[c]["status"] for c in bare} == {"COMMISSIONED"}
    assert {snap[c]["last_event_time"].minute for c in bare} == {0}
    # the corrective event is exported as any; a third run finds nothing new
    capture(svc, fix)
    third = export(svc.dd, out)
    assert (third["events"], third["undone"]) == (1, 0)
    assert standing(out) == sorted([("commissioning", c) for c in bare] + [("shipping", bare[0])])
    assert snapshot(out)[bare[0]]["last_event_time"].minute == 40


def test_an_event_undone_before_its_first_export(svc, tmp_path):
    """Exported once, already marked undone: its rows are in events/ (the store's log has
    them), named in undone/, out of the view and the snapshot. The operator's events (no
    client) are found too."""
    out = tmp_path / "out"
    epcs, bare = codes(svc, 2)
    ship = event(epcs=epcs, action="OBSERVE", step="shipping", disp="in_transit", minute=5)
    capture(svc, event(epcs=epcs), ship, who=LOCAL)
    capture(svc, declared(ship), who=LOCAL)
    got = export(svc.dd, out)
    assert got["undone"] == 1 and len(table(out, "events")) == 4
    assert standing(out) == sorted(("commissioning", c) for c in bare)
    snap = snapshot(out)
    assert {snap[c]["status"] for c in bare} == {"COMMISSIONED"}
    assert {snap[c]["last_event_time"].minute for c in bare} == {0}


def test_a_transformation_undone_is_both_its_sides(svc, tmp_path):
    out = tmp_path / "out"
    epcs, bare = codes(svc, 4)
    capture(svc, event(epcs=epcs[:2]))
    made = event("TransformationEvent", inputEPCList=epcs[:2], outputEPCList=epcs[2:], step="commissioning",
                 minute=20)
    del made["action"]
    capture(svc, made)
    capture(svc, declared(made))
    export(svc.dd, out)
    rows = table(out, "undone").to_pylist()
    assert len(rows) == 2 and {r["epcis_event_id"] for r in rows} == {made["eventID"]}
    assert len({r["event_seq"] for r in rows}) == 2
    assert standing(out) == sorted(("commissioning", c) for c in bare[:2])
    snap = snapshot(out)
    assert {snap[c]["status"] for c in bare[:2]} == {"COMMISSIONED"} and not set(bare[2:]) & set(snap)


def test_declarations_that_undid_nothing_have_no_rows(svc, tmp_path):
    """A declaration of an event that changed no state (a class-level one) is stored, with
    no undone row; a refused one (a later event depends on it) is not stored at all."""
    out = tmp_path / "out"
    epcs, bare = codes(svc, 2)
    lot = event(epcs=[], quantityList=[{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/LOT1", "quantity": 5,
                                       "uom": "KGM"}], minute=1)
    commission = event(epcs=epcs, minute=2)
    capture(svc, lot, commission, event(epcs=epcs, action="OBSERVE", step="shipping", disp="in_transit", minute=3))
    capture(svc, declared(lot))
    body = json.dumps({"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00+08:00",
                       "epcisBody": {"eventList": [declared(commission)]}})
    refused = svc.capture(LINE, body.encode(), "application/ld+json")
    assert refused["state"] == "failure"
    got = export(svc.dd, out)
    assert got["undone"] == 0 and got["epcis_seq"] == svc.dd.index.store.epcis_last_seq()
    assert not (out / "undone").exists()
    assert standing(out) == sorted([("commissioning", c) for c in bare] + [("shipping", c) for c in bare])


def test_marks_and_runs_that_died(svc, tmp_path):
    """An EPCIS mark past the store's log is refused; undone parts past the mark (a run
    that died before its state file) are written again once; a state file of before
    (no epcis_seq) reads every declaration."""
    out = tmp_path / "out"
    epcs, _ = codes(svc, 2)
    ship = event(epcs=epcs, action="OBSERVE", step="shipping", disp="in_transit", minute=10)
    capture(svc, event(epcs=epcs), ship, declared(ship))
    export(svc.dd, out)
    state = json.loads((out / "_export.json").read_text())
    (out / "_export.json").write_text(json.dumps({**state, "epcis_seq": 99_999}))
    with pytest.raises(ExportError, match="EPCIS event 99,999"):
        export(svc.dd, out)
    (out / "_export.json").write_text(json.dumps({k: v for k, v in state.items() if k != "epcis_seq"}))
    again = export(svc.dd, out)
    assert again["undone"] == 1 and len(table(out, "undone")) == 1   # the part past the mark, again once
    (out / "_export.json").write_text(json.dumps({**state, "epcis_seq": True}))
    with pytest.raises(ExportError, match="damaged"):
        export(svc.dd, out)


@pytest.mark.slow
def test_spark_leaves_the_undone_events_out_as_duckdb_does(tmp_path):
    from test_analytics_spark import _need_spark
    _need_spark()
    tracecode.init(tmp_path / "data").close()
    with tracecode.open(tmp_path / "data") as d:
        s = Service(d)
        try:
            epcs, bare = codes(s, 2)
            ship = event(epcs=epcs, action="OBSERVE", step="shipping", disp="in_transit", minute=10)
            capture(s, event(epcs=epcs), ship, who=LOCAL)
            export(d, tmp_path / "out")
            capture(s, declared(ship), who=LOCAL)
            export(d, tmp_path / "out")
        finally:
            s.close()
    spark = open_engine("spark", tmp_path / "out")
    got = sorted((r["biz_step"], r["code"]) for r in spark.rows("SELECT biz_step, code FROM events"))
    undone = spark.rows("SELECT event_id, corrective_event_ids FROM undone")
    spark.close()
    assert got == standing(tmp_path / "out") == sorted(("commissioning", c) for c in bare)
    assert undone == [{"event_id": ship["eventID"], "corrective_event_ids": []}]
