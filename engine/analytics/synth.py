"""Generated trace data in the export's layout, with planted patterns (tests, bench).

Clean part: codes commissioned at a factory region, shipped to a city (some shipped on to
a second city), scanned there by at most three of that city's scanners (half the scans
with coordinates near the city centre, some without a region), some sold and checked once
by the buyer within the day; cases (parents of ten units) scanned by six scanners; unknown
scans scattered thinly. Planted: clone_velocity (the same code minutes apart in cities
thousands of km apart), clone_spread (one unit on eight scanners in four regions over
weeks), diversion (shipped to one province, scanned in another), probing (a scanner and a
client sending bursts of unknown codes), impossible (scans after sale, before
commissioning, after destruction, after slaughter; a detonator blasted twice) and a
recalled batch (some codes scanned after the recall).

generate() returns the planted subjects per rule (the truth a test compares with). The
columns are built with numpy, a chunk of codes at a time (bounded memory: 10⁸ scans stream
out in chunks of ~3 M), not per-row Python.
"""
from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import centroids
from .errors import AnalyticsError
from .layout import CODES, EVENTS, SCANS

T0 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1e6)
HOUR = 3_600_000_000
DAY = 24 * HOUR
FACTORY = "320500"    # Suzhou


def _cities():
    t = centroids.table()
    codes = t.column("code").to_numpy(zero_copy_only=False)
    keep = np.array([not c.endswith("0000") for c in codes])
    return (codes[keep].astype(object), t.column("lat").to_numpy()[keep],
            t.column("lon").to_numpy()[keep])


def _codes(product: str, serials: np.ndarray) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(serials.astype(np.int64)).cast(pa.string()), 12, "0")
    return pc.binary_join_element_wise(pa.scalar(product), digits, "")


class _Rows:
    """Rows collected in small lists (the planted part: hundreds, not millions)."""

    def __init__(self, schema):
        self.schema, self.cols = schema, {n: [] for n in schema.names}

    def add(self, **kw):
        for n in self.cols:
            self.cols[n].append(kw.get(n))

    def table(self) -> pa.Table:
        return pa.table({n: pa.array(v, self.schema.field(n).type) for n, v in self.cols.items()},
                        schema=self.schema)


CHUNK_CODES = 1_000_000   # clean codes generated, sorted and written at a time (~3 M scans)


def generate(out, n_codes: int = 20_000, scans_per_code: float = 3.0, seed: int = 7,
             plant: bool = True, chunk_codes: int = CHUNK_CODES) -> dict:
    """Write OUT/scans, OUT/events, OUT/codes; the planted subjects per rule.

    OUT is new or an empty directory (AnalyticsError otherwise: a second run into a filled
    one would mix its scans with the first's). The data is written into a sibling and
    renamed to OUT when whole, so OUT never holds half a run (a failed one leaves nothing).

    Streams: the clean codes come chunk_codes at a time (each chunk's scans and events
    sorted by time and written as day parts of their own; seq numbers run on across
    chunks, in time order within one), so memory is bounded by a chunk, not by n_codes
    (10⁸ scans fit). A code's scans and events all fall in its chunk; the cases and the
    planted patterns come last, in a chunk of their own."""
    out = Path(out)
    _refuse_filled(out)
    work = out.parent / f".{out.name}.generating-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)   # this process's own leftover, if any
    work.mkdir(parents=True)
    try:
        truth = _generate(work, n_codes, scans_per_code, seed, plant, chunk_codes)
        _refuse_filled(out)   # filled by someone else meanwhile: theirs stays
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return truth


def _refuse_filled(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AnalyticsError(f"{out} is not an empty directory: generate writes a whole export "
                             "(scans, events, codes) into a new or empty one; remove it or name another")


def _generate(out: Path, n_codes: int, scans_per_code: float, seed: int, plant: bool,
              chunk_codes: int) -> dict:
    cities = _cities()
    writer = _Writer(out)
    n_chunks = -(-n_codes // chunk_codes)
    for i in range(n_chunks):
        offset = i * chunk_codes
        m = min(chunk_codes, n_codes - offset)
        writer.write(*_clean_chunk(np.random.default_rng([seed, i]), cities, offset, m,
                                   scans_per_code), name=str(i))
    truth = {r: set() for r in ("clone_velocity", "clone_spread", "diversion", "impossible",
                                "probing", "recall_reach")}
    rng = np.random.default_rng([seed, n_chunks])
    extra_s, extra_e, extra_c = _Rows(SCANS), _Rows(EVENTS), _Rows(CODES)
    _cases(extra_s, extra_c, rng)
    if plant:
        _plant(truth, extra_s, extra_e, extra_c, rng)
    writer.write(extra_s.table().drop(["seq"]), extra_e.table().drop(["seq"]), extra_c.table(),
                 name="extra")
    truth["clean_codes"] = n_codes
    truth["scans"] = writer.scans
    return truth


class _Writer:
    """Chunks of scans, events and codes written in the export's layout; seq numbered on."""

    def __init__(self, out: Path):
        self.out, self.scans, self.events = out, 0, 0
        self.snap = out / "codes" / "snapshot=2026-03-01T00-00-00Z"
        self.snap.mkdir(parents=True, exist_ok=True)

    def write(self, scans: pa.Table, events: pa.Table, codes: pa.Table, name: str) -> None:
        self.scans = _numbered(self.out / "scans", scans, SCANS, self.scans)
        self.events = _numbered(self.out / "events", events, EVENTS, self.events)
        pq.write_table(codes.cast(CODES), self.snap / f"part-{name}.parquet")


def _numbered(base: Path, table: pa.Table, schema: pa.Schema, last: int) -> int:
    """table sorted by time, seq last+1.. added, written by day; the new last seq."""
    table = table.select(schema.names[1:]).cast(schema.remove(0))
    table = table.take(pc.sort_indices(table, [("time", "ascending")]))
    table = table.add_column(0, "seq", pa.array(np.arange(last + 1, last + 1 + table.num_rows)))
    _by_day(base, table)
    return last + table.num_rows


def _clean_chunk(rng, cities, offset: int, n_codes: int, scans_per_code: float):
    """The clean part's codes offset..offset+n_codes: (scans, events, codes) tables."""
    cities, clat, clon = cities
    products = np.array(["8177322", "8123456", "8654321", "8000017"], dtype=object)

    # -- clean codes: product, batch, destination city, commissioning and shipping times --
    prod_i = rng.integers(0, len(products), n_codes)
    # distinct per product, and across chunks (each chunk permutes its own range)
    serial = (offset + rng.permutation(n_codes).astype(np.int64)) * 7919 + 1000
    batch = rng.integers(1, 40, n_codes).astype(np.int64)
    dest = rng.integers(0, len(cities), n_codes)
    t_comm = T0 + rng.integers(0, 30 * DAY, n_codes)
    t_ship = t_comm + rng.integers(HOUR, 3 * DAY, n_codes)
    codes = pa.chunked_array([_codes(p, serial[prod_i == i]) for i, p in enumerate(products)])
    order = np.concatenate([np.flatnonzero(prod_i == i) for i in range(len(products))])
    prod_i, serial, batch, dest, t_comm, t_ship = (a[order] for a in
                                                   (prod_i, serial, batch, dest, t_comm, t_ship))
    codes = codes.combine_chunks()
    # 3 % shipped on to a second city (noise for diversion and velocity: days later)
    onward = rng.random(n_codes) < 0.03
    dest2 = np.where(onward, rng.integers(0, len(cities), n_codes), dest)
    t_ship2 = t_ship + rng.integers(5 * DAY, 8 * DAY, n_codes)
    # 20 % sold 10-15 days after shipping (the buyer checks once within a few hours)
    sold = rng.random(n_codes) < 0.2
    t_sold = t_ship2 + rng.integers(10 * DAY, 15 * DAY, n_codes)

    # -- clean scans: per code a Poisson count, in its city, after shipping ----------------
    k = rng.poisson(scans_per_code, n_codes)
    idx = np.repeat(np.arange(n_codes), k)
    n = idx.size
    t = t_ship[idx] + rng.integers(HOUR, 9 * DAY, n)
    later = onward[idx] & (t > t_ship2[idx])
    # a day in transit to the second city: no scan there sooner (else a clone_velocity leg)
    t = np.where(later & (t < t_ship2[idx] + DAY), t + DAY, t)
    city = np.where(later, dest2[idx], dest[idx])
    t = np.where(sold[idx] & (t > t_sold[idx]), t_sold[idx] - rng.integers(HOUR, DAY, n), t)
    scanner = pc.binary_join_element_wise(
        pa.array(cities[city].astype(str)), pa.array(((offset + idx) % 3).astype(str)), "-s")
    has_ll = rng.random(n) < 0.5
    lat = np.where(has_ll, clat[city] + rng.normal(0, 0.03, n), np.nan)
    lon = np.where(has_ll, clon[city] + rng.normal(0, 0.03, n), np.nan)
    region = pa.array(cities[city].astype(str))
    no_region = rng.random(n) < 0.05
    region = pc.if_else(pa.array(no_region), pa.nulls(n, pa.string()), region)
    scans = [pa.table({
        "time": pa.array(t, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "code": codes.take(idx), "scheme": pa.array(np.full(n, "cn-drug-20", object), pa.string()),
        "product": pa.array(products[prod_i[idx]], pa.string()), "batch": pa.array(batch[idx]),
        "verdict": pa.array(np.where(sold[idx] & (t > t_sold[idx]), "ALREADY_SOLD", "GENUINE"),
                            pa.string()),
        "scanner": scanner, "place": pa.nulls(n, pa.string()), "region": region,
        "lat": pa.array(lat, from_pandas=True), "lon": pa.array(lon, from_pandas=True),
        "client": pa.nulls(n, pa.string())})]
    # the buyer's one check, through the public window (client "public", no scanner)
    si = np.flatnonzero(sold)
    ts = t_sold[si] + rng.integers(60_000_000, 6 * HOUR, si.size)
    scans.append(pa.table({
        "time": pa.array(ts).cast(pa.timestamp("us", tz="UTC")), "code": codes.take(si),
        "scheme": pa.array(np.full(si.size, "cn-drug-20", object), pa.string()),
        "product": pa.array(products[prod_i[si]], pa.string()), "batch": pa.array(batch[si]),
        "verdict": pa.array(np.full(si.size, "ALREADY_SOLD", object), pa.string()),
        "scanner": pa.nulls(si.size, pa.string()), "place": pa.nulls(si.size, pa.string()),
        "region": pa.array(cities[dest2[si]].astype(str)), "lat": pa.nulls(si.size, pa.float64()),
        "lon": pa.nulls(si.size, pa.float64()),
        "client": pa.array(np.full(si.size, "public", object), pa.string())}))
    # unknown scans scattered thinly: a mistyped code now and then (1 in 100), by a scanner
    # at a time it was scanning genuine codes, so the noise follows the traffic (uniform
    # noise would outnumber a quiet scanner's genuine scans at 10⁸ and look like probing)
    nu = max(1, n // 100)
    near = rng.integers(0, n, nu)
    scans.append(pa.table({
        "time": pa.array(t[near] + rng.integers(0, 600_000_000, nu)).cast(
            pa.timestamp("us", tz="UTC")),
        "code": pc.binary_join_element_wise(pa.scalar("81"), pa.array(
            rng.integers(10**15, 10**16, nu).astype(str)), ""),
        "scheme": pa.nulls(nu, pa.string()), "product": pa.nulls(nu, pa.string()),
        "batch": pa.nulls(nu, pa.int64()),
        "verdict": pa.array(np.full(nu, "UNKNOWN", object), pa.string()),
        "scanner": scanner.take(pa.array(near)), "place": pa.nulls(nu, pa.string()),
        "region": region.take(pa.array(near)),
        "lat": pa.nulls(nu, pa.float64()), "lon": pa.nulls(nu, pa.float64()),
        "client": pa.nulls(nu, pa.string())}))

    # -- clean events: commissioning, shipping (and the onward shipping, the sale) ---------
    def ev(sel, times, step, disp, src, dst, tag):
        m = int(sel.sum()) if sel.dtype == bool else sel.size
        ii = np.flatnonzero(sel) if sel.dtype == bool else sel
        return pa.table({
            "event_id": pc.binary_join_element_wise(pa.scalar(tag), pa.array((offset + ii).astype(str)),
                                                   ""),
            "time": pa.array(times[ii]).cast(pa.timestamp("us", tz="UTC")),
            "kind": pa.array(np.full(m, "ObjectEvent", object), pa.string()),
            "action": pa.array(np.full(m, "ADD" if step == "commissioning" else "OBSERVE", object),
                               pa.string()),
            "biz_step": pa.array(np.full(m, step, object), pa.string()),
            "disposition": pa.array(np.full(m, disp, object), pa.string()),
            "code": codes.take(ii), "product": pa.array(products[prod_i[ii]], pa.string()),
            "parent": pa.nulls(m, pa.string()),
            "source_party": pa.nulls(m, pa.string()),
            "source_region": (pa.array(src[ii].astype(str)) if src is not None
                              else pa.nulls(m, pa.string())),
            "destination_party": pa.nulls(m, pa.string()),
            "destination_region": (pa.array(dst[ii].astype(str)) if dst is not None
                                   else pa.nulls(m, pa.string())),
            "read_point": pa.nulls(m, pa.string()), "biz_location": pa.nulls(m, pa.string()),
            "quantity": pa.nulls(m, pa.float64()), "uom": pa.nulls(m, pa.string())})
    every = np.ones(n_codes, bool)
    factory = np.full(n_codes, FACTORY, object)
    events = [ev(every, t_comm, "commissioning", "active", None, None, "c"),
              ev(every, t_ship, "shipping", "in_transit", factory, cities[dest], "s"),
              ev(onward, t_ship2, "shipping", "in_transit", cities[dest], cities[dest2], "o"),
              ev(sold, t_sold, "retail_selling", "retail_sold", None, None, "r")]
    code_tab = pa.table({
        "code": codes, "scheme": pa.array(np.full(n_codes, "cn-drug-20", object), pa.string()),
        "product": pa.array(products[prod_i], pa.string()), "batch": pa.array(batch),
        "status": pa.array(np.where(sold, "sold", "shipped"), pa.string()),
        "parent": pa.nulls(n_codes, pa.string()),
        "first_event_time": pa.array(t_comm).cast(pa.timestamp("us", tz="UTC")),
        "last_event_time": pa.array(np.where(sold, t_sold, t_ship2)).cast(
            pa.timestamp("us", tz="UTC")),
        "scan_count": pa.array(k.astype(np.int64))})
    bare = SCANS.remove(0)   # without seq: numbered when the chunk is written
    return (pa.concat_tables([t.select(bare.names).cast(bare) for t in scans]),
            pa.concat_tables([e.cast(EVENTS.remove(0)) for e in events]), code_tab)


def _by_day(base: Path, table: pa.Table) -> None:
    """day=YYYY-MM-DD/part-<first seq>-<last seq>.parquet, the table sorted by time."""
    if table.num_rows == 0:
        return
    day = table.column("time").cast(pa.int64()).to_numpy() // DAY   # UTC days since 1970
    cuts = np.flatnonzero(day[1:] != day[:-1]) + 1
    starts, ends = np.r_[0, cuts], np.r_[cuts, len(day)]
    seq = table.column("seq").to_numpy()
    for a, b in zip(starts, ends):
        d = base / f"day={np.datetime64(int(day[a]), 'D')}"
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(a, b - a), d / f"part-{seq[a]}-{seq[b - 1]}.parquet")


def _scan(rows, code, t, region, scanner=None, verdict="GENUINE", product="8999001",
          batch=1, client=None, lat=None, lon=None):
    rows.add(time=datetime.fromtimestamp(t / 1e6, timezone.utc), code=code, scheme="cn-drug-20",
             product=product, batch=batch, verdict=verdict, scanner=scanner, region=region,
             client=client, lat=lat, lon=lon)


def _event(rows, eid, code, t, step, disp=None, src=None, dst=None, product="8999001"):
    rows.add(event_id=eid, time=datetime.fromtimestamp(t / 1e6, timezone.utc), kind="ObjectEvent",
             action="OBSERVE", biz_step=step, disposition=disp, code=code, product=product,
             source_region=src, destination_region=dst)


def _code(rows, code, status="shipped", batch=1, product="8999001", parent=None):
    rows.add(code=code, scheme="cn-drug-20", product=product, batch=batch, status=status,
             parent=parent, scan_count=0)


def _cases(s, c, rng) -> None:
    """Clean aggregates: 20 cases of 10 units, each case scanned by 6 scanners of one city
    (allowed for an aggregate, over the unit limit)."""
    for i in range(20):
        case = f"CASE{i:06d}"
        _code(c, case, product="8999002")
        for u in range(10):
            _code(c, f"UNIT{i:04d}{u:02d}", product="8999002", parent=case)
        for j in range(6):
            _scan(s, case, T0 + (i * 10 + j) * DAY // 7, "330100", scanner=f"330100-w{j}",
                  product="8999002")


def _plant(truth, s, e, c, rng) -> None:
    base = T0 + 20 * DAY
    for i in range(10):   # clones: Urumqi then Shanghai 30 minutes later
        code = f"CLONE{i:06d}"
        _code(c, code)
        _event(e, f"pc{i}", code, base - 5 * DAY, "commissioning")
        _scan(s, code, base + i * DAY, "650100", scanner="650100-s0", lat=43.8, lon=87.6)
        _scan(s, code, base + i * DAY + HOUR // 2, "310000", scanner="310000-s1")
        truth["clone_velocity"].add(code)
    for i in range(5):    # copies of one label: 8 scanners in 4 regions over four weeks
        code = f"SPREAD{i:05d}"
        _code(c, code)
        for j in range(8):
            reg = ("110000", "440300", "510100", "330100")[j % 4]
            _scan(s, code, base + j * 4 * DAY + i * HOUR, reg, scanner=f"{reg}-x{j}")
        truth["clone_spread"].add(code)
    for i in range(10):   # diversion: shipped to Zhejiang, scanned in Guangdong
        code = f"DIVERT{i:05d}"
        _code(c, code)
        _event(e, f"pd{i}", code, base, "shipping", "in_transit", FACTORY, "330100")
        for j in range(2):
            _scan(s, code, base + (3 + j) * DAY, "440300", scanner="440300-s2")
        truth["diversion"].add(code)
    for b in range(3):    # probing: 40 unknown codes in 10 minutes from one scanner
        t = base + b * 3 * DAY
        for j in range(40):
            _scan(s, f"81{rng.integers(10**15, 10**16)}", t + j * 15_000_000, "440100",
                  scanner="440100-probe", verdict="UNKNOWN", product=None, batch=None)
        truth["probing"].add(("scanner:440100-probe", t))
    t = base + 2 * DAY + 7 * HOUR   # the public window enumerated by one client
    for j in range(30):
        _scan(s, f"81{rng.integers(10**15, 10**16)}", t + j * 60_000_000, None,
              client="enum-bot", verdict="UNKNOWN", product=None, batch=None)
    truth["probing"].add(("client:enum-bot", t))
    for i in range(5):    # scanned again and again after the sale
        code = f"RESOLD{i:05d}"
        _code(c, code, status="sold")
        _event(e, f"ps{i}", code, base, "retail_selling", "retail_sold")
        for j in range(3):
            _scan(s, code, base + (5 + j) * DAY, "330100", scanner="330100-s0",
                  verdict="ALREADY_SOLD")
        truth["impossible"].add((code, "after_sale"))
    for i in range(3):    # before commissioning; after destruction; after slaughter
        code = f"EARLY{i:05d}"
        _code(c, code)
        _event(e, f"pe{i}", code, base, "commissioning", "active")
        _scan(s, code, base - DAY, "330100", scanner="330100-s0", verdict="NOT_COMMISSIONED")
        truth["impossible"].add((code, "before_commissioning"))
        code = f"GONE{i:05d}"
        _code(c, code, status="destroyed")
        _event(e, f"pg{i}", code, base, "destroying", "destroyed")
        _scan(s, code, base + DAY, "330100", scanner="330100-s1", verdict="DESTROYED")
        truth["impossible"].add((code, "after_destruction"))
        code = f"EARTAG{i:05d}"
        _code(c, code, product="8999003")
        _event(e, f"pl{i}", code, base, "urn:tracecode:bizstep:slaughtering", product="8999003")
        _scan(s, code, base + 2 * DAY, "510100", scanner="510100-s0", product="8999003")
        truth["impossible"].add((code, "after_slaughter"))
    code = "DET0000000001"   # one detonator blasted twice
    _code(c, code, product="8999004")
    for j in range(2):
        _event(e, f"pb{j}", code, base + j * DAY, "urn:tracecode:bizstep:blasting", "destroyed",
               product="8999004")
    truth["impossible"].add((code, "used_twice"))
    for i in range(30):   # a recalled batch (77) of 30 codes, shipped to 3 cities; 4 scanned after
        code = f"RECALL{i:05d}"
        dst = ("330100", "320100", "370100")[i % 3]
        _code(c, code, batch=77, status="recalled")
        _event(e, f"pr-s{i}", code, base - 10 * DAY, "shipping", "in_transit", FACTORY, dst)
        _event(e, f"pr-r{i}", code, base, "recalling", "recalled")
        if i < 4:
            _scan(s, code, base + DAY + i * HOUR, dst, scanner=f"{dst}-s0", verdict="RECALLED",
                  batch=77)
            truth["impossible"].add((code, "after_recall"))
    truth["recall_reach"].add("8999001/77")
