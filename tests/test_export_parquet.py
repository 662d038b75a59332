"""tracecode export DIR --parquet OUT: scans, events and each code's state as Parquet,
partitioned by day, incremental (every scan and event exported once across runs)."""
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tracecode
from tracecode.analytics.export import (CODE_SCHEMA, EVENT_SCHEMA, SCAN_SCHEMA, ExportError,
                                        export, read_state)
from tracecode.epcis.parties import party_and_region

DRUG = {"drug_id": "8177322"}


def _read(out, part):
    table = ds.dataset(out / part, partitioning="hive").to_table()
    return table.sort_by("seq") if "seq" in table.column_names else table


@pytest.fixture
def d(tmp_path):
    with tracecode.init(tmp_path / "data") as dd:
        yield dd


def test_two_runs_export_every_scan_and_event_once(d, tmp_path):
    out = tmp_path / "out"
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 6).codes()]
    d.apply([{"id": "c1", "action": "commission", "codes": codes[:4]},
             {"id": "s1", "action": "ship", "codes": codes[:2], "source": "factory A",
              "source_region": "110105", "destination": "wholesaler B", "destination_region": "450100"}])
    d.verify_many(codes, scanner="pda-1", place="shop", region="110105", lat=39.92, lon=116.44)
    d.verify_many(["8177322000000000000X"], scanner="pda-2")
    first = export(d, out, chunk=4)        # chunks of 4: parts across chunk boundaries
    assert (first["scans"], first["events"], first["scan_seq"], first["event_seq"]) == (7, 6, 7, 2)
    d.verify(codes[0], scanner="public", place="450100", region="450100")
    d.apply([{"id": "r1", "action": "receive", "codes": codes[:1], "destination_region": "450100"}])
    second = export(d, out, chunk=4)
    assert (second["scans"], second["events"]) == (1, 1), second
    assert export(d, out)["scans"] == 0   # nothing new: nothing written

    scans = _read(out, "scans")
    assert scans.column("seq").to_pylist() == list(range(1, 9))   # each once
    assert scans.schema.remove(scans.schema.get_field_index("day")) == SCAN_SCHEMA
    rows = scans.to_pylist()
    assert rows[0]["code"] == codes[0] and rows[0]["product"] == "8177322" and rows[0]["batch"] == 1
    assert (rows[0]["region"], rows[0]["lat"], rows[0]["lon"]) == ("110105", 39.92, 116.44)
    assert [r["verdict"] for r in rows[:7]] == ["GENUINE"] * 4 + ["NOT_COMMISSIONED"] * 2 + ["UNKNOWN"]
    assert rows[6]["code"] is None and rows[6]["region"] is None and rows[6]["scanner"] == "pda-2"
    assert (rows[7]["scanner"], rows[7]["region"]) == ("public", "450100")

    events = _read(out, "events")
    assert events.schema.remove(events.schema.get_field_index("day")) == EVENT_SCHEMA
    ev = events.to_pylist()
    assert [(e["seq"], e["code"]) for e in ev] == [(1, c) for c in codes[:4]] + [(2, c) for c in codes[:2]] \
        + [(3, codes[0])]
    ship = [e for e in ev if e["event_id"] == "s1"]
    assert {(e["source_party"], e["source_region"], e["destination_party"], e["destination_region"],
             e["biz_step"], e["kind"]) for e in ship} == {
        ("factory A", "110105", "wholesaler B", "450100", "shipping", "ObjectEvent")}

    state = json.loads((out / "_export.json").read_text())
    assert (state["scan_seq"], state["event_seq"]) == (8, 3) == (read_state(out)["scan_seq"], 3)
    snap = ds.dataset(out / "codes", partitioning="hive").to_table()
    latest = max(snap.column("snapshot").to_pylist())
    now = {r["code"]: r for r in snap.to_pylist() if r["snapshot"] == latest}
    assert snap.schema.remove(snap.schema.get_field_index("snapshot")) == CODE_SCHEMA
    assert (now[codes[0]]["status"], now[codes[0]]["scan_count"]) == ("RECEIVED", 2)
    assert (now[codes[2]]["status"], now[codes[2]]["scan_count"]) == ("COMMISSIONED", 1)


def test_a_run_that_died_before_its_state_file_is_written_again_once(d, tmp_path):
    out = tmp_path / "out"
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 3).codes()]
    d.verify_many(codes)
    export(d, out)
    d.verify_many(codes)
    saved = (out / "_export.json").read_bytes()
    export(d, out)
    (out / "_export.json").write_bytes(saved)   # as if the second run died before its state file
    (next((out / "scans").rglob("*.parquet")).parent / ".part-x.parquet.tmp").write_bytes(b"half")
    assert export(d, out)["scans"] == 3
    assert _read(out, "scans").column("seq").to_pylist() == [1, 2, 3, 4, 5, 6]
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"format": 1, "scan_seq": -1, "event_seq": 0}',
                                    b'{"format": 9, "scan_seq": 1, "event_seq": 0}', b"[1, 2]",
                                    b'{"format": 1, "scan_seq": true, "event_seq": 0}'])
def test_a_damaged_state_file_is_refused_and_nothing_written(d, tmp_path, damage):
    out = tmp_path / "out"
    out.mkdir()
    (out / "_export.json").write_bytes(damage)
    d.verify_many(d.issue("cn-drug-20", DRUG, 2).codes())
    with pytest.raises(ExportError, match="damaged"):
        export(d, out)
    assert sorted(p.name for p in out.iterdir()) == ["_export.json"]


def test_since_skips_older_rows(d, tmp_path):
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 2).codes()]
    d.verify_many(codes[:1], when=1_700_000_000.0)
    d.verify_many(codes[1:])
    got = export(d, tmp_path / "out", since=1_750_000_000.0)
    assert got["scans"] == 1 and got["scan_seq"] == 2
    assert _read(tmp_path / "out", "scans").column("code").to_pylist() == [codes[1]]


def test_the_cli_exports(d, tmp_path):
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 2).codes()]
    d.verify_many(codes, region="310000")
    d.close()
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "tracecode", "export", str(tmp_path / "data"),
                          "--parquet", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "2 scans" in run.stderr
    assert _read(out, "scans").column("region").to_pylist() == ["310000", "310000"]
    (out / "_export.json").write_text("junk")
    run = subprocess.run([sys.executable, "-m", "tracecode", "export", str(tmp_path / "data"),
                          "--parquet", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "damaged" in run.stderr and "Traceback" not in run.stderr


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from([None, "110105", "450100", "654321"]),
                          st.one_of(st.none(), st.tuples(st.floats(-90, 90), st.floats(-180, 180)))),
                min_size=1, max_size=6))
def test_regions_and_coordinates_round_trip(tmp_path_factory, calls):
    base = tmp_path_factory.mktemp("rt")
    with tracecode.init(base / "data") as dd:
        code = dd.issue("cn-drug-20", DRUG, 1).codes()[0].decode()
        for region, at in calls:
            lat, lon = at if at else (None, None)
            dd.verify_many([code], region=region, lat=lat, lon=lon)
        export(dd, base / "out")
    rows = _read(base / "out", "scans").to_pylist()
    assert [(r["region"], (r["lat"], r["lon"]) if r["lat"] is not None else None) for r in rows] == calls


def test_party_and_region_rules():
    epcis = {"sourceList": [{"type": "urn:epcglobal:cbv:sdt:owning_party", "source": "urn:epc:id:pgln:0614141.00001"},
                            {"type": "location", "source": "urn:tracecode:region:110105"}],
             "destinationList": [{"type": "urn:tracecode:region", "destination": "450100"},
                                 {"type": "possessing_party", "destination": "urn:epc:id:sgln:0614141.00002.0"}]}
    assert party_and_region(epcis, "source") == ("urn:epc:id:pgln:0614141.00001", "110105")
    assert party_and_region(epcis, "destination") == ("urn:epc:id:sgln:0614141.00002.0", "450100")
    gln_only = {"sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}]}
    assert party_and_region(gln_only, "source") == ("urn:epc:id:pgln:0614141.00001", None)
    assert party_and_region({}, "destination") == (None, None)
    assert pa.types.is_timestamp(SCAN_SCHEMA.field("time").type)


def test_a_bad_event_region_refuses_that_event_only(d):
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 2).codes()]
    got = d.apply([{"id": "c1", "action": "commission", "codes": codes},
                   {"id": "s1", "action": "ship", "codes": codes[:1], "destination_region": "99x"},
                   {"id": "s2", "action": "ship", "codes": codes[1:], "destination_region": "450100"}])
    assert [g["ok"] for g in got] == [True, False, True] and "destination_region" in got[1]["error"]


def test_epcis_sources_and_destinations_reach_the_export(d, tmp_path):
    from tracecode.app import Service
    from tracecode.app.caller import LOCAL
    from tracecode.epcis.epc import to_epc
    codes = [c.decode() for c in d.issue("gs1-sgtin", {"gtin": "09521234543213"}, 2).codes()]
    d.apply([{"id": "c1", "action": "commission", "codes": codes}])
    epcs = [to_epc(f"(01){c[:14]}(21){c[14:]}") for c in codes]
    event = {"type": "ObjectEvent", "eventTime": "2026-11-02T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
             "epcList": epcs, "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
             "eventID": "urn:uuid:7c9a3f7e-0000-4000-8000-000000000001",
             "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"},
                            {"type": "location", "source": "urn:tracecode:region:110105"}],
             "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00002"},
                                 {"type": "location", "destination": "urn:tracecode:region:990000"}]}
    body = json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                       "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-02T00:00:00Z",
                       "epcisBody": {"eventList": [event]}}).encode()
    svc = Service(d)
    try:
        job = svc.capture(LOCAL, body, "application/ld+json")
        assert job.get("success", job.get("ok", True)) is not False, job
    finally:
        svc.close()
    d.verify_many(codes, region="450100")
    export(d, tmp_path / "out")
    assert _read(tmp_path / "out", "scans").column("code").to_pylist() == codes
    ship = [e for e in _read(tmp_path / "out", "events").to_pylist() if e["biz_step"] == "shipping"]
    assert sorted(e["code"] for e in ship) == sorted(codes)
    # 990000 is no GB/T 2260 code: left out, the event still captured
    assert {(e["source_party"], e["source_region"], e["destination_party"], e["destination_region"])
            for e in ship} == {("urn:epc:id:pgln:0614141.00001", "110105", "urn:epc:id:pgln:0614141.00002", None)}
    snap = ds.dataset(tmp_path / "out" / "codes", partitioning="hive").to_table().to_pylist()
    assert sorted(r["code"] for r in snap) == sorted(codes)   # one row per code, bare as scans tell it
    assert {r["status"] for r in snap} == {"SHIPPED"} and {r["product"] for r in snap} == {"09521234543213"}


DAY = 86_400.0
T0 = 1_767_225_600.0   # 2026-01-01T00:00:00Z


def test_the_export_follows_privacy_purges_at_its_next_run(d, tmp_path):
    from tracecode.app import Service
    from tracecode.app.privacy import purge_before, purge_scanner
    out = tmp_path / "out"
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 4).codes()]
    d.verify_many(codes[:2], scanner="old", when=T0 + 3600)            # day 1
    d.verify_many(codes[:2], scanner="alice", when=T0 + DAY + 3600)    # day 2, before the cut
    d.verify_many(codes[2:], scanner="bob", when=T0 + DAY + 7200)      # day 2, after it
    d.verify_many(codes, scanner="alice", when=T0 + 2 * DAY + 60)      # day 3
    d.verify_many(codes[:1], scanner="bob", when=T0 + 2 * DAY + 120)
    assert export(d, out)["scans"] == 11
    svc = Service(d)
    try:
        assert purge_before(svc, T0 + DAY + 5000)["scans"] == 4
        assert (lambda r: (r["scans"], r["purged"]))(export(d, out)) == (0, 4)
        scans = _read(out, "scans")
        assert sorted(scans.column("scanner").to_pylist()) == ["alice"] * 4 + ["bob"] * 3
        assert not (out / "scans" / "day=2026-01-01").exists()   # a whole day gone
        purge_scanner(svc, "alice")
    finally:
        svc.close()
    assert b"alice" not in (d.path / "purges.jsonl").read_bytes()
    export(d, out)
    scans = _read(out, "scans")
    assert scans.column("scanner").to_pylist() == ["bob"] * 3
    assert read_state(out)["purge_generation"] == 2
    before = sorted(p.name for p in (out / "scans").rglob("*.parquet"))
    export(d, out)   # a purge is applied once: later runs leave the parts alone
    assert sorted(p.name for p in (out / "scans").rglob("*.parquet")) == before


def test_marks_past_the_store_or_of_another_index_are_refused(d, tmp_path):
    out = tmp_path / "out"
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 2).codes()]
    d.verify_many(codes)
    export(d, out)
    state = json.loads((out / "_export.json").read_text())
    assert state["index"] == json.loads((d.path / "index.stamp").read_text())["index"]
    (out / "_export.json").write_text(json.dumps({**state, "scan_seq": 99_999}))
    with pytest.raises(ExportError, match="99,999.*ends at scan 2"):
        export(d, out)
    (out / "_export.json").write_text(json.dumps({**state, "index": "0" * 8 + "-0000-4000-8000-" + "0" * 12}))
    with pytest.raises(ExportError, match=f"index 00000000-.*{state['index']}"):
        export(d, out)
    assert json.loads((out / "_export.json").read_text())["scan_seq"] == 2   # nothing written


def test_a_run_reads_only_the_events_since_its_mark_and_its_snapshot_is_a_full_runs(d, tmp_path, monkeypatch):
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 5).codes()]
    d.apply([{"id": "c1", "action": "commission", "codes": codes},
             {"id": "p1", "action": "pack", "parent": codes[4], "codes": codes[:2]}])
    d.verify_many(codes[:3], scanner="pda")
    export(d, tmp_path / "out")
    d.apply([{"id": "u1", "action": "unpack", "parent": codes[4], "codes": codes[:1]},
             {"id": "p2", "action": "pack", "parent": codes[4], "codes": codes[2:3]},
             {"id": "s1", "action": "ship", "codes": codes[1:2]}])
    d.verify_many(codes[:1], scanner="pda")
    store = d.index.store
    reads = []
    real = store.events_since
    monkeypatch.setattr(store, "events_since", lambda after, limit: reads.append(after) or real(after, limit))
    second = export(d, tmp_path / "out", now=2e9)
    assert second["events"] == 3 and min(reads) == 2, reads   # never the whole log again
    monkeypatch.undo()
    export(d, tmp_path / "full", now=2e9)

    def snapshot(out):
        table = pq.read_table(out / "codes" / read_state(out)["snapshot"] / "part-0.parquet")
        return sorted(table.to_pylist(), key=lambda r: r["code"])
    got = snapshot(tmp_path / "out")
    assert got == snapshot(tmp_path / "full")
    parent = {r["code"]: r["parent"] for r in got}
    assert (parent[codes[0]], parent[codes[1]], parent[codes[2]]) == (None, codes[4], codes[4])


def test_sources_of_every_width_come_back_with_their_scans(d, tmp_path):
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 3).codes()]
    long = "w" * 250   # with a long scanner: past the fixed-width comparison, compared row by row
    d.verify_many(codes[:2], scanner="a", place="p", lat=1.5, lon=2.5)
    d.verify_many(codes[2:], scanner="b" * 250, place=long, lat=0.0, lon=0.0)
    d.verify_many(codes[:1], scanner="a", place="p", lat=1.5, lon=2.5)
    d.index.store.flush_scans()
    cols = d.index.store.scans_since(0, 10)
    rows = [cols["sources"][i] for i in cols["source"]]
    assert rows == [("a", "p", None, 1.5, 2.5)] * 2 + [("b" * 250, long, None, 0.0, 0.0), ("a", "p", None, 1.5, 2.5)]
    assert len(cols["sources"]) == 2 and cols["seq"].tolist() == [1, 2, 3, 4]


def test_the_bulk_event_columns_are_the_row_by_row_ones(d):
    from tracecode.analytics.codes import CodeNames
    from tracecode.analytics.export import _event_table, _event_table_rows
    codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 3).codes()]
    events = [{"seq": 1, "id": "a", "time": 1.7e9, "action": "commission", "codes": codes, "type": "ObjectEvent"},
              {"seq": 2, "id": "b", "time": 1.7e9 + 1, "action": "ship", "codes": [], "quantity": 3,
               "uom": "KGM", "source": "factory", "destination_region": "450100"},
              {"seq": 3, "id": "c", "time": 1.7e9 + 2, "action": "pack", "parent": codes[0], "codes": codes[1:],
               "place": "line 1", "bizStep": "packing"},
              {"seq": 4, "id": "d", "time": 1.7e9 + 3, "action": "observe"}]
    names = CodeNames(d)
    for since in (None, 1.7e9 + 1.5):
        assert _event_table(events, names, since).equals(_event_table_rows(events, names, since))
    odd = events + [{"seq": 5, "id": "e", "time": 1.7e9 + 4, "codes": [codes[0], 7]}]   # a non-text code
    got = _event_table(odd, names, None)
    assert got.equals(_event_table_rows(odd, names, None)) and got.num_rows == 8
