"""From a workload and this machine's measured rates to cores, memory, disk and machines.

The model, stage by stage (each figure per replica; every replica carries the
whole load, so one can fail at peak):

- issuance: codes/day spread over the working hours, at the measured rate per
  core for the workload's request size (FF1 and rendering; the reservation is
  one small committed write per request, inside that rate);
- verification: the peak scan rate at the measured verdicts per core for the
  workload's scans per call;
- recording: each scan's extra cost when recorded (measured on one core), paid
  by the index's single writer;
- event ingestion: per code, one commission, one pack if there is more than one
  packaging level, and the other events at the measured ship rate, spread over
  the working hours; also paid by the single writer;
- public HTTP queries: the peak rate of public queries at the measured queries per
  server core-second of one `serve --http` worker for the page a phone opens (the
  JSON API is cheaper), each also recorded as a scan by the index's single writer;
- transport: single scans arrive one per unary gRPC call, each costing the server
  its measured CPU per call beyond the in-process verdict;
- disk: batch records, each code's event and first-scan records, and the scan
  log (at mean_to_peak x peak, all day) over the retention period.

LMDB has one writer per environment, so recording and events cannot use more
than one core of writer time per index: beyond that the index is split into
shards (by product), each on its own machines. Cores sum the stages (they can
coincide at peak); memory is one worker process per core plus the records of
the last hot_days of codes in the page cache. Everything is then multiplied by
(1 + headroom).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from .workload import DAYS_PER_YEAR, Workload, WorkloadError

SECONDS_PER_DAY = 86_400


def ceil(x: float) -> int:
    """Whole units needed for x, without float noise turning 3.0000000001 into 4."""
    return max(0, math.ceil(x - 1e-9))


def interpolate(points: list, batch: float) -> float:
    """codes_per_s at `batch` on a measured curve, linear in log-log between points,
    clamped to the end points outside the measured range."""
    pts = sorted((p["batch"], p["codes_per_s"]) for p in points)
    if batch <= pts[0][0]:
        return pts[0][1]
    if batch >= pts[-1][0]:
        return pts[-1][1]
    for (b0, r0), (b1, r1) in zip(pts, pts[1:]):
        if b0 <= batch <= b1:
            t = math.log(batch / b0) / math.log(b1 / b0)
            return math.exp(math.log(r0) + t * math.log(r1 / r0))
    raise AssertionError("unreachable: batch lies between the end points")


ACTIONS = ("commission", "pack", "ship")


@dataclass(frozen=True)
class Rates:
    """One core's figures for one workload, read off a measurement."""
    issue: float                 # codes/s, at the workload's request size
    verify: float                # verdicts/s, at the workload's scans per call
    record_seconds: float        # extra core-seconds a recorded scan costs the verifying process
    writer_seconds: float        # of which the index's single writer (the commit)
    commission: float            # codes/s
    pack: float
    ship: float
    issuance_bytes_per_code: float
    verdict_bytes: dict          # bytes per code verification reads, by action
    history_bytes: dict          # bytes per code only history() reads, by action
    scan_bytes: float
    seen_bytes_per_code: float
    worker_bytes: float          # a worker process's peak private memory (the index's pages apart)
    public_query: float | None = None   # public page queries/s per core over HTTP (None: not measured)
    public_api: float | None = None     # JSON API queries/s per core
    grpc_unary: float | None = None     # unary gRPC Verify calls per server core-second (None: not measured)
    verify_plain: float | None = None   # in-process verify() of one loose code, not recorded, per core
    writer_name: str = "the index's single writer"  # who pays recording's and events' commits

    @classmethod
    def of(cls, m: dict, w: Workload) -> "Rates":
        v, ev, mem = m["verification"], m["events"], m["memory"]
        if w.scan_batch == 1:  # one scan per call: the single-scan path, verify()
            verify, recorded = v["single"]["codes_per_s"], v["single_recorded_one_core"]["codes_per_s"]
        else:
            verify, recorded = interpolate(v["batches"], w.scan_batch), interpolate(v["recorded"], w.scan_batch)
        # The commit's share: recording's cost at the largest batch, where per-call costs vanish.
        big = max(p["batch"] for p in v["recorded"])
        writer = max(0.0, 1 / interpolate(v["recorded"], big) - 1 / interpolate(v["batches"], big))
        record = max(writer, 1 / recorded - 1 / verify)  # both measured on the same loose codes
        biggest = max(p["batch"] for p in ev["commission"]["rates"])
        packed = ev["verify_packed"]
        if w.packaging_levels > 1:  # verdicts on packed codes read their containers too
            verify *= min(1.0, packed["codes_per_s"] / packed["loose_codes_per_s"])
        return cls(
            issue=interpolate(m["issuance"], w.issue_batch), verify=verify,
            record_seconds=record, writer_seconds=writer,
            commission=interpolate(ev["commission"]["rates"], biggest),
            pack=interpolate(ev["pack"]["rates"], biggest),
            ship=interpolate(ev["ship"]["rates"], biggest),
            issuance_bytes_per_code=max(m["scale"], key=lambda r: r["issued"])["issuance_bytes_per_code"],
            verdict_bytes={a: ev[a]["verdict_bytes_per_code"] for a in ACTIONS},
            history_bytes={a: ev[a]["history_bytes_per_code"] for a in ACTIONS},
            scan_bytes=m["scan_storage"]["scan_bytes"],
            seen_bytes_per_code=m["scan_storage"]["seen_bytes_per_code"],
            worker_bytes=max(r["peak_private_bytes"] for r in mem["issue"] + mem["verify"]),
            public_query=per_core((m.get("public_http") or {}).get("page")),
            public_api=per_core((m.get("public_http") or {}).get("api")),
            grpc_unary=(m.get("grpc_unary") or {}).get("queries_per_core_s"),
            verify_plain=v["single"]["codes_per_s"])


def per_second(x: float) -> str:
    """29 k, 725: a rate in words that stays readable under a thousand."""
    return f"{x / 1e3:,.0f} k" if x >= 10_000 else f"{x:,.0f}"


def per_core(q: dict | None) -> float | None:
    """Queries per server core-second where measured (the server's CPU over the load), else
    per second of one worker (reports measured before the server's CPU was read)."""
    if not q:
        return None
    return q.get("queries_per_core_s") or q.get("queries_per_s")


@dataclass(frozen=True)
class Stage:
    name: str
    load: str           # what arrives, in words
    cores: float        # core-seconds per second, before headroom
    writer: float       # seconds of the index's single writer per second
    bottleneck: str


@dataclass(frozen=True)
class Plan:
    stages: list
    cores: int                  # per replica, with headroom
    shards: int                 # index partitions the single writer forces
    memory_bytes: float         # per replica, with headroom
    disk_bytes: float           # per replica at the end of the retention period, with headroom
    disk_per_year: dict         # bytes per replica per year, by what, without headroom
    machines_per_replica: int
    machines: int
    limited_by: str             # what sets machines_per_replica
    assumptions: list
    disk_by_year: list = field(default_factory=list)   # cumulative bytes per replica by what, no headroom
    sensitivity: list = field(default_factory=list)    # the plan at other mean_to_peak ratios

    def as_dict(self) -> dict:
        return asdict(self)


def public_stage(w: Workload, r: Rates) -> Stage:
    """Public queries over HTTP: worker cores at the measured page rate, plus their scans'
    share of the single writer."""
    q = w.peak_public_queries_per_second
    load = f"{q:,.0f} public queries/s at peak"
    if not q:
        return Stage("public HTTP queries", load, 0.0, 0.0, "none in this workload")
    if not r.public_query:
        raise WorkloadError("the workload has public queries, but these measurements have no "
                            "public HTTP rate: measure again (without --reuse) where tracecode.web "
                            "is installed")
    api = f"; the JSON API {r.public_api:,.0f}/s" if r.public_api else ""
    return Stage("public HTTP queries", load, q / r.public_query, q * r.writer_seconds,
                 f"CPU (HTTP, the answer, the page): {r.public_query:,.0f} page queries/s per core{api}")


def transport_stage(w: Workload, r: Rates) -> Stage:
    """Scans arriving one per unary gRPC call: the server's cores beyond the in-process
    verdict (protobuf, HTTP/2, the call's own work), from the server CPU measured per call."""
    name, load = "transport (unary gRPC)", f"{w.peak_scans_per_second:,.0f} calls/s at peak"
    if w.scan_batch > 1:
        return Stage(name, load, 0.0, 0.0, f"scans come {w.scan_batch:,} a call (streamed): "
                     "the stream's transport is not sized (see the streamed gRPC figure)")
    if not r.grpc_unary or not r.verify_plain:
        return Stage(name, load, 0.0, 0.0, "not measured in these measurements: not sized")
    extra = max(0.0, 1 / r.grpc_unary - 1 / r.verify_plain)
    return Stage(name, load, w.peak_scans_per_second * extra, 0.0,
                 f"CPU (gRPC): {r.grpc_unary:,.0f} unary calls per server core-second, "
                 f"{extra * 1e6:,.0f} µs a call beyond the verdict")


def plan(w: Workload, r: Rates, *, sensitivity: bool = True) -> Plan:
    spread = w.working_hours * 3600
    issue_in = w.codes_per_day / spread              # codes/s during the working hours
    others = w.events_per_code - 1 - w.packs_per_code
    event_seconds = 1 / r.commission + w.packs_per_code / r.pack + others / r.ship
    record = w.peak_scans_per_second * r.record_seconds
    record_writer = w.peak_scans_per_second * r.writer_seconds
    events = issue_in * event_seconds
    stages = [
        Stage("issuance", f"{issue_in:,.0f} codes/s over {w.working_hours:g} h a day", issue_in / r.issue, 0.0,
              f"CPU (FF1, rendering): {r.issue / 1e6:.2f} M codes/s per core at {w.issue_batch:,} per request"),
        Stage("verification", f"{w.peak_scans_per_second:,.0f} scans/s at peak",
              w.peak_scans_per_second / r.verify, 0.0,
              f"CPU (parse, FF1⁻¹, index read): {per_second(r.verify)} scans/s per core at "
              f"{w.scan_batch:,} per call"),
        Stage("recording", f"{w.peak_scans_per_second:,.0f} scans/s at peak", record, record_writer,
              f"{r.writer_name}: {r.writer_seconds * 1e6:.2f} µs per scan of "
              f"{r.record_seconds * 1e6:.2f} µs recording costs"),
        Stage("event ingestion", f"{issue_in * w.events_per_code:,.0f} code events/s over "
              f"{w.working_hours:g} h a day", events, events,
              f"{r.writer_name}: {event_seconds * 1e6:.2f} µs per code, "
              f"{events:.2f} s of writer time per second"),
    ]
    stages.append(public_stage(w, r))
    stages.append(transport_stage(w, r))
    grow = 1 + w.headroom
    writer = sum(s.writer for s in stages)
    shards = max(1, ceil(writer * grow))
    cores = ceil(sum(s.cores for s in stages) * grow)

    def per_code(by_action):
        return by_action["commission"] + w.packs_per_code * by_action["pack"] + others * by_action["ship"]
    verdict_bytes, history_bytes = per_code(r.verdict_bytes), per_code(r.history_bytes)
    scans_per_day = ((w.peak_scans_per_second + w.peak_public_queries_per_second)
                     * w.mean_to_peak * SECONDS_PER_DAY)
    per_day = {"batch records": w.codes_per_day * r.issuance_bytes_per_code,
               "code records (state, container)": w.codes_per_day * verdict_bytes,
               "event history": w.codes_per_day * history_bytes,
               "first-scan records": w.codes_per_day * r.seen_bytes_per_code,
               "scan log": scans_per_day * r.scan_bytes}
    disk_per_year = {k: v * DAYS_PER_YEAR for k, v in per_day.items()}
    disk = sum(disk_per_year.values()) * w.retention_years * grow
    biggest = max(disk_per_year, key=disk_per_year.get)
    stages.append(Stage("disk growth", f"{sum(disk_per_year.values()) / 1e12:,.2f} TB a year per replica",
                        0.0, 0.0, f"{biggest}: {disk_per_year[biggest] / 1e12:,.2f} TB a year"))
    hot = w.codes_per_day * w.hot_days * (verdict_bytes + r.seen_bytes_per_code)
    memory = (cores * r.worker_bytes + hot) * grow

    needs = {"index writer (shards)": shards,
             "cores": ceil(cores / w.machine_cores),
             "memory": ceil(memory / (w.machine_memory_gb * 1e9)),
             "disk": ceil(disk / (w.machine_disk_tb * 1e12))}
    limited_by = max(needs, key=needs.get)
    per_replica = max(1, needs[limited_by])
    assumptions = [
        "Rates are one core of the measured machine; a machine runs one worker process per core.",
        f"Each of the {w.replicas} replicas holds the whole index and carries the whole load, "
        f"so the platform survives losing a replica at peak.",
        f"Issuance and events arrive evenly over {w.working_hours:g} hours a day; "
        f"scans peak at {w.peak_scans_per_second:,.0f}/s and average {w.mean_to_peak:g} of that "
        f"over the day ({scans_per_day / 1e6:,.1f} M scans a day).",
        f"Each code has {w.events_per_code:g} events naming it: 1 commission"
        + (", 1 pack" if w.packs_per_code else "") + f", {others:g} at the measured ship rate; "
        f"events on containers write nothing per code inside them.",
        "Verification of packed codes runs at the rate measured on codes in cases on pallets "
        "(3 levels) relative to loose ones; deeper packaging adds a record per level.",
        "Public HTTP queries run at the rate one `serve --http` worker answered the page on this "
        "machine (loopback, keep-alive connections, the load generator in another process); "
        "each is recorded as a scan (the single writer, and the scan log on disk). TLS and the "
        "network in front of the workers are not sized.",
        "Issuance, verification, recording, events and public queries can all peak at once: "
        "their cores add up.",
        "Recording and events go through LMDB's single writer per index; more than one core "
        "of writer time means splitting the index by product into shards.",
        f"Memory: one worker per core at its measured private peak ({r.worker_bytes / 1e6:,.0f} MB) "
        f"plus the records verification reads (state, container, first scan) of the last "
        f"{w.hot_days:g} days of codes in the page cache ({hot / 1e9:,.1f} GB); older records, "
        "event history and the scan log are read from disk.",
        f"Headroom: cores, memory and disk sized for {grow:g} x the load; the disk for "
        f"{w.retention_years:g} years of events and scans.",
        f"Machines of {w.machine_cores} cores, {w.machine_memory_gb:,.0f} GB memory and "
        f"{w.machine_disk_tb:,.2f} TB disk. Single scans are sized as unary gRPC calls (the server's "
        "CPU per call measured on loopback, one worker); streamed calls' transport, TLS and the network "
        "are not sized.",
    ]
    return Plan(stages=stages, cores=cores, shards=shards, memory_bytes=memory, disk_bytes=disk,
                disk_per_year=disk_per_year, machines_per_replica=per_replica,
                machines=per_replica * w.replicas, limited_by=limited_by, assumptions=assumptions,
                disk_by_year=disk_by_year(disk_per_year, w.retention_years),
                sensitivity=peak_sensitivity(w, r) if sensitivity else [])


def disk_by_year(per_year: dict, retention_years: float) -> list:
    """What each component holds per replica at the end of each year of retention (the last
    row at the retention period itself), without headroom: every component grows linearly."""
    years = [min(y, retention_years) for y in range(1, ceil(retention_years) + 1)]
    return [{"year": y, "by_component": {k: v * y for k, v in per_year.items()},
             "total": sum(per_year.values()) * y} for y in years]


# Mean scan rate over the peak: the workload's guess sets the scan log, the biggest part of the
# disk of a scan-heavy platform, so the report shows the plan across a range of it.
MEAN_TO_PEAK_STEPS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def peak_sensitivity(w: Workload, r: Rates) -> list:
    """The plan's scan log, disk and machines at other mean-to-peak ratios (the workload's own
    among them), everything else unchanged."""
    rows = []
    for ratio in sorted(set(MEAN_TO_PEAK_STEPS) | {w.mean_to_peak}):
        p = plan(replace(w, mean_to_peak=ratio), r, sensitivity=False)
        rows.append({"mean_to_peak": ratio, "peak_to_mean": (1 / ratio) if ratio else None,
                     "scan_log_per_year": p.disk_per_year["scan log"], "disk_bytes": p.disk_bytes,
                     "machines_per_replica": p.machines_per_replica, "machines": p.machines,
                     "limited_by": p.limited_by, "workload": ratio == w.mean_to_peak})
    return rows
