"""The Parquet export analytics reads (issue 17): scans, events and each code's state, from
any store behind the port (scans_since / events_since), incrementally.

    OUT/scans/day=YYYY-MM-DD/part-<first seq>-<last seq>.parquet     (SCAN_SCHEMA)
    OUT/events/day=YYYY-MM-DD/part-<first seq>-<last seq>.parquet    (EVENT_SCHEMA)
    OUT/undone/day=YYYY-MM-DD/part-<first seq>-<last seq>.parquet    (UNDONE_SCHEMA)
    OUT/codes/snapshot=<export time>/part-0.parquet                  (CODE_SCHEMA)
    OUT/_export.json   {"format": 1, "scan_seq": N, "event_seq": M, "epcis_seq": E,
                        "exported_at": ..., "index": UUID, "purge_generation": G}

Parts are never rewritten for an event undone after it was exported (an EPCIS error
declaration: the event stays in the store's log, marked undone): undone/ gets a row per
lifecycle event undone, read from the EPCIS log's declarations since epcis_seq, and the
engines' `events` view leaves those events out. A run that finds new undone rows draws the
code snapshot from every event again (undone ones left out), as a parent or first event
time may have come from one.

The state names the index it was written from (DIR/index.stamp's uuid): an OUT of another
index, or marks past the store's last seqs, are refused. Privacy purges are followed: each
run applies the purges recorded since its last (store/purges.py, generation > G) to the
scan parts already written: a purge before a time deletes the whole days before it and
rewrites its own day; a scanner's purge rewrites the parts holding that scanner's scans.

A run writes what has seq above the state file's marks, a chunk of the logs at a time:
each part under a temporary name, renamed when whole, then the state file (atomically).
A run that died between its renames and its state file left parts past the marks: the
next run removes those first and writes them again, so every scan and event is in the
export exactly once. A state file that is not the JSON this module writes is refused
(ExportError): delete it and OUT's parts to start again.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..categories.declared import DECLARED
from ..epcis.cbv import lifecycle_id
from ..errors import TracecodeError
from ..index.verdicts import Verdict
from ..store import purges
from ..store.port import EpcisQuery
from ..store import stamp
from ..store.durable import write_atomically
from .codes import CodeNames, product_text
from .layout import CODES, EVENTS, SCANS, TS, UNDONE
from ..epcis.parties import party_and_region

STATE = "_export.json"
FORMAT = 1
CHUNK = 262_144      # scans read, resolved and written per step (bounded memory)
EVENT_CHUNK = 4_096  # events per step (each may list many codes)
_PART = re.compile(r"part-(\d+)-(\d+)\.parquet$")

# the export's tables, as the engines read them (layout.py holds the one definition)
SCAN_SCHEMA, EVENT_SCHEMA, UNDONE_SCHEMA, CODE_SCHEMA = SCANS, EVENTS, UNDONE, CODES
_VERDICT_NAMES = pa.array([Verdict(v).name if v in Verdict._value2member_map_ else None
                           for v in range(256)], pa.string())


class ExportError(TracecodeError):
    """The export cannot go on: a damaged state file, an output that is not an export."""


def read_state(out: Path) -> dict:
    path = Path(out) / STATE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {"format": FORMAT, "scan_seq": 0, "event_seq": 0}
    try:
        state = json.loads(raw)
        ok = (isinstance(state, dict) and state.get("format") == FORMAT
              and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0   # epcis_seq: newer
                      for v in (state.get("scan_seq"), state.get("event_seq"), state.get("epcis_seq", 0)))
              and isinstance(state.get("index", ""), str)
              and isinstance(state.get("purge_generation", 0), int)
              and isinstance(state.get("snapshot", ""), str) and "/" not in state.get("snapshot", ""))
    except (ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise ExportError(f"{path} is damaged (not the export state tracecode writes): nothing "
                          f"was exported; remove it and the parts under {Path(out)} to export "
                          f"everything again")
    return state


def export(dd, out, *, since: float | None = None, now: float | None = None,
           chunk: int = CHUNK) -> dict:
    """Export what is new since the last run into OUT; {"scans", "events", "undone", "codes",
    "scan_seq", "event_seq", "epcis_seq", "purged"}. since: a Unix time; scans and events
    before it are skipped (and never exported later: the marks pass them); undone rows are
    all kept (one naming an event not exported leaves nothing out)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = read_state(out)
    store = dd.index.store
    if not hasattr(store, "scans_since"):
        raise ExportError(f"this data directory's store ({type(store).__name__}) has no export "
                          f"reads yet (scans_since, events_since): export from an LMDB data directory")
    store.flush_scans()   # committed scans only are read: commit the queue first
    index = (stamp.read(dd.path) or {}).get("index")
    if state.get("index") and index and state["index"] != index:
        raise ExportError(f"{out} is the export of index {state['index']}, not of {dd.path}'s "
                          f"index {index}: nothing was exported; export into another folder")
    last_scan, last_event = store.export_last_seqs()
    last_epcis = store.epcis_last_seq()
    epcis_seq = state.get("epcis_seq", 0)
    if state["scan_seq"] > last_scan or state["event_seq"] > last_event or epcis_seq > last_epcis:
        raise ExportError(f"{out / STATE} marks scan {state['scan_seq']:,}, event "
                          f"{state['event_seq']:,} and EPCIS event {epcis_seq:,} but {dd.path}'s store "
                          f"ends at scan {last_scan:,}, event {last_event:,}, EPCIS event {last_epcis:,}: "
                          f"it was not written from this store; nothing was exported (remove {out} "
                          f"to export everything again)")
    names = CodeNames(dd)
    _drop_uncommitted(out / "scans", state["scan_seq"])
    _drop_uncommitted(out / "events", state["event_seq"])
    _drop_uncommitted(out / "undone", epcis_seq)
    seen = state.get("purge_generation", 0)
    done = purges.read(dd.path)
    n_purged = _follow_purges(out / "scans", [p for p in done if p["generation"] > seen], purges.key(dd.path))
    generation = done[-1]["generation"] if done else seen
    n_scans, n_events = 0, 0
    scan_seq, event_seq = state["scan_seq"], state["event_seq"]
    while True:
        cols = store.scans_since(scan_seq, chunk)
        if not len(cols["seq"]):
            break
        n_scans += _write_by_day(out / "scans", _scan_table(cols, names, since))
        scan_seq = int(cols["seq"][-1])
    while True:
        events = store.events_since(event_seq, EVENT_CHUNK)
        if not events:
            break
        n_events += _write_by_day(out / "events", _event_table(events, names, since))
        event_seq = int(events[-1]["seq"])
    n_undone, epcis_seq = _write_undone(out / "undone", store, epcis_seq, last_epcis)
    when = _dt.datetime.fromtimestamp(now if now is not None else _dt.datetime.now().timestamp(),
                                      _dt.timezone.utc)
    # an event undone since the last snapshot may have given a code its parent or event times
    n_codes, snapshot = _write_snapshot(out / "codes", store, names, when,
                                        {**state, "snapshot": ""} if n_undone else state)
    state = {"format": FORMAT, "scan_seq": scan_seq, "event_seq": event_seq, "epcis_seq": epcis_seq,
             "exported_at": when.isoformat(timespec="seconds"), "purge_generation": generation,
             "snapshot": snapshot}
    if index:
        state["index"] = index
    write_atomically(out / STATE, json.dumps(state, indent=1).encode() + b"\n")
    return {"scans": n_scans, "events": n_events, "undone": n_undone, "codes": n_codes,
            "scan_seq": scan_seq, "event_seq": event_seq, "epcis_seq": epcis_seq, "purged": n_purged}


def _follow_purges(root: Path, todo: list, key: bytes | None) -> int:
    """The purges recorded since the last run applied to the scan parts written before:
    each part rewritten without the purged rows (under a temporary name, then renamed),
    deleted when none is left; a day wholly before a purge's time deleted unread. The
    rows removed."""
    removed = 0
    if not todo or not root.exists():
        return 0
    before = max((p["before"] for p in todo if "before" in p), default=None)
    marks = {p["scanner"] for p in todo if "scanner" in p}
    for path in sorted(root.glob("day=*/part-*.parquet")):
        day = _dt.date.fromisoformat(path.parent.name[4:])
        start = _dt.datetime(day.year, day.month, day.day, tzinfo=_dt.timezone.utc).timestamp()
        if before is not None and start + 86_400 <= before:
            removed += pq.read_metadata(path).num_rows
            path.unlink()
            continue
        if not marks and (before is None or start >= before):
            continue
        table = pq.read_table(path)
        keep = np.ones(table.num_rows, bool)
        if before is not None and start < before:
            keep &= table.column("time").cast(pa.int64()).to_numpy() >= round(before * 1e6)
        if marks and key is not None:
            scanner = table.column("scanner").combine_chunks().dictionary_encode()
            hit = np.array([v is not None and purges.scanner_mark(key, v) in marks
                            for v in scanner.dictionary.to_pylist()], bool)
            idx = scanner.indices.to_numpy(zero_copy_only=False)
            valid = ~np.asarray(scanner.is_null().to_numpy(zero_copy_only=False), bool)
            keep &= ~(valid & hit[np.where(valid, idx, 0)] if len(hit) else np.zeros(len(keep), bool))
        if keep.all():
            continue
        removed += int((~keep).sum())
        if not keep.any():
            path.unlink()
            continue
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table.filter(pa.array(keep)), tmp, compression="zstd")
        os.replace(tmp, path)
    for folder in root.glob("day=*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return removed


def _drop_uncommitted(root: Path, mark: int) -> None:
    """Parts past the state file's mark (a run that died before its state file) and
    temporary files: removed, to be written again."""
    if not root.exists():
        return
    for path in root.rglob("*"):
        if path.is_file():
            m = _PART.search(path.name)
            if path.name.endswith(".tmp") or (m and int(m.group(1)) > mark):
                path.unlink()


def _micros(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.round(np.asarray(seconds, np.float64) * 1e6).astype(np.int64), TS)


def _scan_table(cols: dict, names: CodeNames, since) -> pa.Table:
    code, scheme, product, batch = names.of_keys(cols["keys"])
    src = cols["source"]
    sources = cols["sources"]
    pick = lambda i: pa.array([s[i] for s in sources], pa.string()).take(pa.array(src))  # noqa: E731
    coord = lambda i: pa.array([s[i] for s in sources], pa.float64()).take(pa.array(src))  # noqa: E731
    table = pa.table({
        "seq": pa.array(cols["seq"], pa.int64()), "time": _micros(cols["time"]),
        "code": code, "scheme": scheme, "product": product, "batch": batch,
        "verdict": _VERDICT_NAMES.take(pa.array(cols["verdict"].astype(np.int32))),
        "scanner": pick(0), "place": pick(1), "region": pick(2), "lat": coord(3), "lon": coord(4),
        "client": pa.nulls(len(src), pa.string())}, schema=SCAN_SCHEMA)
    if since is not None:
        table = table.filter(pa.array(cols["time"] >= since))
    return table


# the event columns read straight from the stored records (an export column: (record key, type))
_EVENT_FIELDS = {"seq": ("seq", pa.int64()), "event_id": ("id", pa.string()), "time": ("time", pa.float64()),
                 "kind": ("type", pa.string()), "action": ("epcis_action", pa.string()),
                 "biz_step": ("bizStep", pa.string()), "disposition": ("disposition", pa.string()),
                 "parent": ("parent", pa.string()), "read_point": ("place", pa.string()),
                 "biz_location": ("biz_location", pa.string()), "quantity": ("quantity", pa.float64()),
                 "uom": ("uom", pa.string())}
_EVENT_STRUCT = pa.struct([(key, t) for key, t in _EVENT_FIELDS.values()])


def _event_table(events: list, names: CodeNames, since) -> pa.Table:
    """The chunk's events, one row per code each names (one row, code null, if none):
    pyarrow converts the records' fields and code lists in bulk; the parties and regions
    (nested EPCIS lists) are read per event. An odd record (a field of another type)
    sends the chunk through the row-by-row reading, which judges each value."""
    try:
        fields = pa.array(events, _EVENT_STRUCT)
        lists = pa.array([ev.get("codes") or None for ev in events], pa.list_(pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return _event_table_rows(events, names, since)
    n = len(events)
    lens = np.asarray(lists.value_lengths().fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    counts = np.maximum(lens, 1)
    repeat = np.repeat(np.arange(n, dtype=np.int64), counts)
    first_row = np.zeros(n, np.int64)
    np.cumsum(counts[:-1], out=first_row[1:])
    at = np.repeat(lists.offsets.to_numpy()[:-1].astype(np.int64) - first_row, counts) + np.arange(len(repeat))
    codes = lists.values.take(pa.array(at, mask=~np.repeat(lens > 0, counts))).to_pylist()
    code, product = names.of_texts(codes)
    take = pa.array(repeat)
    data = {name: fields.field(key).take(take) for name, (key, _) in _EVENT_FIELDS.items()}
    data["time"] = _micros(fields.field("time").fill_null(np.nan).to_numpy(zero_copy_only=False)).take(take)
    sides = [party_and_region(ev, "source") + party_and_region(ev, "destination") for ev in events]
    for i, name in enumerate(("source_party", "source_region", "destination_party", "destination_region")):
        data[name] = pa.array([side[i] for side in sides], pa.string()).take(take)
    data["code"], data["product"] = code, product
    table = pa.table({f.name: data[f.name] for f in EVENT_SCHEMA}, schema=EVENT_SCHEMA)
    if since is not None:
        t = fields.field("time").fill_null(np.nan).to_numpy(zero_copy_only=False)
        table = table.filter(pa.array(np.repeat(t, counts) >= since))
    return table


def _event_table_rows(events: list, names: CodeNames, since) -> pa.Table:
    rows: dict = {f.name: [] for f in EVENT_SCHEMA}
    counts, codes = [], []
    for ev in events:
        these = [c for c in (ev.get("codes") or []) if isinstance(c, str)] or [None]
        counts.append(len(these))
        codes += these
        src_party, src_region = party_and_region(ev, "source")
        dst_party, dst_region = party_and_region(ev, "destination")
        for name, value in (("seq", ev.get("seq")), ("event_id", ev.get("id")), ("time", ev.get("time")),
                            ("kind", ev.get("type")), ("action", ev.get("epcis_action")),
                            ("biz_step", ev.get("bizStep")), ("disposition", ev.get("disposition")),
                            ("parent", ev.get("parent")), ("source_party", src_party),
                            ("source_region", src_region), ("destination_party", dst_party),
                            ("destination_region", dst_region), ("read_point", ev.get("place")),
                            ("biz_location", ev.get("biz_location")),
                            ("quantity", ev.get("quantity")), ("uom", ev.get("uom"))):
            rows[name].append(value)
    repeat = pa.array(np.repeat(np.arange(len(events), dtype=np.int64), counts))
    code, product = names.of_texts(codes)
    data = {}
    for f in EVENT_SCHEMA:
        if f.name == "code":
            data[f.name] = code
        elif f.name == "product":
            data[f.name] = product
        elif f.name == "time":
            data[f.name] = _micros(np.array(rows["time"], np.float64)).take(repeat)
        else:
            data[f.name] = pa.array(rows[f.name], f.type).take(repeat)
    table = pa.table(data, schema=EVENT_SCHEMA)
    if since is not None:
        table = table.filter(pa.array(np.repeat(np.array(rows["time"], np.float64), counts) >= since))
    return table


def _write_undone(root: Path, store, after: int, end: int) -> tuple[int, int]:
    """The lifecycle events the error declarations after EPCIS seq `after` (up to `end`,
    the log's end when the run began) undid, into undone/; (rows, the EPCIS seq read to).
    A declaration whose event tracecode applied nothing for, or refused to undo, has none."""
    query, n = EpcisQuery(declared=True), 0
    while after < end:
        records, read_to = store.epcis_since(query, after, EVENT_CHUNK)
        if read_to <= after:
            break
        n += _write_by_day(root, _undone_table(store, records))
        after = read_to
    return n, after


def _undone_table(store, declarations: list) -> pa.Table:
    """One row per lifecycle event a declaration of `declarations` undid: its events are
    looked up by id under the declared event's capturer (or the data directory's own,
    None), as the undo found them, and kept when their record says undone."""
    named = [(d, d.event_id[:-len(DECLARED)]) for d in declarations if d.event_id.endswith(DECLARED)]
    declared = store.epcis_events([eid for _, eid in named]) if named else []
    rows: dict = {f.name: [] for f in UNDONE_SCHEMA}
    with store.reading() as view:
        found = []   # (declaration, declared event id, lifecycle id, its seq)
        for (d, eid), event in zip(named, declared):
            clients = (event.client, None) if event is not None and event.client is not None else (None,)
            for lid in dict.fromkeys((lifecycle_id(eid), lifecycle_id(eid, 1))):
                seen = next((s for s in (view.event_seen(c, lid) for c in clients) if s is not None), None)
                if seen is not None:
                    found.append((d, eid, lid, seen[0]))
        records = view.events_at([seq for *_, seq in found]) if found else {}
    for d, eid, lid, seq in found:
        if not (records.get(seq) or {}).get("undone"):
            continue
        err = (d.facets or {}).get("err") or {}
        t = err.get("t")
        for name, value in (("seq", d.seq), ("time", t if isinstance(t, (int, float)) else d.record_time),
                            ("event_seq", seq), ("event_id", lid), ("epcis_event_id", eid),
                            ("reason", err.get("r")), ("corrective_event_ids", list(err.get("c") or ()))):
            rows[name].append(value)
    rows["time"] = _micros(np.array(rows["time"], np.float64))
    return pa.table(rows, schema=UNDONE_SCHEMA)


def _write_by_day(root: Path, table: pa.Table) -> int:
    """The chunk's rows into one part per UTC day, each written whole under a temporary name."""
    if not table.num_rows:
        return 0
    micros = table.column("time").cast(pa.int64()).to_numpy()
    days = micros // 86_400_000_000
    for day in np.unique(days):
        part = table.filter(pa.array(days == day))
        seqs = part.column("seq").to_numpy()
        name = f"day={(_dt.date(1970, 1, 1) + _dt.timedelta(days=int(day))).isoformat()}"
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"part-{int(seqs.min()):012d}-{int(seqs.max()):012d}.parquet"
        tmp = folder / f".{final.name}.tmp"   # no reader globbing *.parquet sees it half-written
        pq.write_table(part, tmp, compression="zstd")
        os.replace(tmp, final)
    return table.num_rows


def _write_snapshot(root: Path, store, names: CodeNames, when: _dt.datetime, state: dict):
    """Each code any event names: its state now (status, parent, event times, scan count);
    (rows, the snapshot's folder name). The event times and parents carry on from the last
    run's snapshot (named in the state): only the events since its mark are read."""
    base = None
    if state.get("snapshot") and (root / state["snapshot"] / "part-0.parquet").exists():
        base = pq.read_table(root / state["snapshot"] / "part-0.parquet",
                             columns=["code", "parent", "first_event_time", "last_event_time"])
    first, last, parent = {}, {}, {}
    after = state["event_seq"] if base is not None else 0
    while True:
        events = store.events_since(after, EVENT_CHUNK)
        if not events:
            break
        for ev in events:
            if ev.get("undone"):
                continue   # declared erroneous: it says nothing of the code any more
            t = ev.get("time")
            for c in ev.get("codes") or []:
                if isinstance(c, str):
                    first.setdefault(c, t)
                    last[c] = t
                    if ev.get("action") == "pack":
                        parent[c] = ev.get("parent")
                    elif ev.get("action") == "unpack":
                        parent[c] = None   # unpacked: no parent (overrides the last snapshot's)
        after = int(events[-1]["seq"])
    rows: dict = {}
    if base is not None:
        seconds = lambda col: (base.column(col).cast(pa.int64()).to_numpy() / 1e6).tolist()  # noqa: E731
        for code, p, f, la in zip(base.column("code").to_pylist(), base.column("parent").to_pylist(),
                                  seconds("first_event_time"), seconds("last_event_time")):
            rows[code] = [None, f, la, p]
    texts = list(first)
    # one row per code: an EPCIS event's element string and a bare code are the same code
    bare = names.state_of_codes(texts)["code"].to_pylist() if texts else []
    touched: dict = {}   # codes some new pack or unpack names: their parent now
    for text, code in zip(texts, bare):
        seen = rows.get(code)
        if seen is None:
            rows[code] = [None, first[text], last[text], None]
        else:
            seen[1], seen[2] = min(seen[1], first[text]), max(seen[2], last[text])
        if text in parent:
            touched[code] = touched.get(code) or parent[text]
    for code, p in touched.items():
        rows[code][3] = p
    got = names.state_of_codes(list(rows))   # every code's state now: status, scan count
    keep = pa.array(np.arange(len(rows)), pa.int64())
    table = pa.table({
        "code": pa.array(list(rows), pa.string()), "scheme": got["scheme"].take(keep),
        "product": got["product"].take(keep), "batch": got["batch"].take(keep),
        "status": got["status"].take(keep),
        "parent": pa.array([r[3] for r in rows.values()], pa.string()),
        "first_event_time": _micros(np.array([r[1] for r in rows.values()], np.float64)),
        "last_event_time": _micros(np.array([r[2] for r in rows.values()], np.float64)),
        "scan_count": got["scan_count"].take(keep)}, schema=CODE_SCHEMA)
    folder = root / f"snapshot={when.strftime('%Y-%m-%dT%H%M%SZ')}"
    for stale in root.glob(".tmp-snapshot=*") if root.exists() else ():   # a run that died
        shutil.rmtree(stale)
    tmp = root / f".tmp-{folder.name}"
    tmp.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp / "part-0.parquet", compression="zstd")
    if folder.exists():   # two runs in one second: the later one's snapshot
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return table.num_rows, folder.name

__all__ = ["export", "read_state", "ExportError", "SCAN_SCHEMA", "EVENT_SCHEMA", "UNDONE_SCHEMA", "CODE_SCHEMA",
           "product_text"]
