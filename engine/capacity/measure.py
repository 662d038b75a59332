"""Measurements of the engine on this machine, shared by `tracecode capacity` and bench/.

Every figure is measured on one core of this process (the engine's bulk paths
are single-threaded; a machine runs one worker process per core), in a
throw-away data directory, and returned as plain data that goes into the
capacity report's JSON unchanged. The machine may be shared: other work only
ever slows a round down, so each throughput is the best of a few rounds, and
figures that are compared (with and without recording) are timed in alternating
rounds.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import schemes
from ..datadir import DataDir
from . import memory

ISSUE_SCHEME = "cn-drug-20"       # the national drug code: what most codes of a province are
SCALE_SCHEME = "cn-pesticide-32"  # 10^16 codes per product: room for 10^9 in one product
SCALE_BATCH = 10**7               # codes per batch when growing the index to 10^9
ROUNDS = 3
MAX_CALLS = 500  # calls per round: small batches would otherwise take minutes
# LMDB databases that grow with issuance (one record per batch), and with a code's
# events and scans (see engine/index/batches.py and index.py).
# The store's parts of the data (tracecode.store.port: Store.bytes_in_use) measured apart.
ISSUANCE, VERDICTS, HISTORY, SCAN_LOG = "issuance", "verdicts", "history", "scan_log"


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""
    issued: int                 # codes issued in the verification data directory
    scans: int                  # scans per verification throughput round
    issue_batches: tuple        # codes per issuance request
    verify_batches: tuple       # scans per verify_many call
    latency_samples: int        # single verify() calls timed one by one
    event_sizes: tuple          # codes per commission / ship event
    case_size: int              # codes packed into one case (one pack event)
    scale: tuple                # issued codes at which verification is measured
    scale_sample: int           # codes commissioned and verified at each scale step
    memory_issue: tuple         # codes written to a file by a child process
    memory_verify: tuple        # scans verified (recorded) by a child process


QUICK = Sizes(issued=100_000, scans=20_000, issue_batches=(100, 10_000, 100_000),
              verify_batches=(1, 100, 10_000), latency_samples=2_000, event_sizes=(1_000, 10_000),
              case_size=24, scale=(10**6, 10**9), scale_sample=500,
              memory_issue=(10**5, 10**6), memory_verify=(10**4, 10**5))
STANDARD = Sizes(issued=1_000_000, scans=200_000, issue_batches=(100, 1_000, 10_000, 100_000, 1_000_000),
                 verify_batches=(1, 10, 100, 1_000, 10_000, 100_000), latency_samples=20_000,
                 event_sizes=(1_000, 10_000, 100_000), case_size=24,
                 scale=(10**6, 10**7, 10**8, 10**9), scale_sample=2_000,
                 memory_issue=(10**6, 10**7, 10**8), memory_verify=(10**5, 10**6, 10**7))


QUICK_WARNING = ("these are --quick measurements (small sizes, one short round): they show the "
                 "report works, they are not figures to plan with; measure without --quick")


def is_quick(m: dict) -> bool:
    """Whether measurements were made at the QUICK sizes (also for a reused report's JSON)."""
    return bool(m.get("quick")) or m.get("sizes") == json.loads(json.dumps(asdict(QUICK)))


# -- timing --------------------------------------------------------------------------------

def best_seconds(*fns, rounds: int = ROUNDS) -> list:
    """The shortest wall time of each fn() over rounds, the fns alternating round by round
    (after one untimed warm-up call of each)."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def latencies(fn, items) -> np.ndarray:
    """Seconds of each fn(item) call, timed one by one."""
    out = np.empty(len(items))
    clock = time.perf_counter
    for i, item in enumerate(items):
        t = clock()
        fn(item)
        out[i] = clock() - t
    return out


def summary(lat: np.ndarray) -> dict:
    """Median, p90, p99 and max of latencies, in microseconds."""
    p = np.percentile(lat, [50, 90, 99, 100]) * 1e6
    return {"p50_us": p[0], "p90_us": p[1], "p99_us": p[2], "max_us": p[3]}


def cdf_points(lat: np.ndarray, points: int = 200) -> list:
    """[latency in microseconds, fraction at or below] at `points` quantiles: enough for a plot."""
    q = np.linspace(0, 1, points)
    return [[float(x), float(f)] for x, f in zip(np.quantile(lat, q) * 1e6, q)]


# -- the index's size ----------------------------------------------------------------------

def index_bytes(store, part=None) -> int:
    """Bytes one part of a store's data occupies (all of it by default)."""
    return store.bytes_in_use(part)


# -- data sets -----------------------------------------------------------------------------

def verification_data(path, issued: int, scans: int):
    """A data directory with `issued` cn-drug-20 codes in one batch, and `scans` of them
    spread over the batch (as text), the first half commissioned."""
    d = DataDir.init(path)
    product = schemes.get(ISSUE_SCHEME).example_product()
    batch = d.issue(ISSUE_SCHEME, product, issued, lot="L1", expiry="20301231")
    step = max(1, issued // scans)
    chunk = step * (1 << 20)  # rendered a chunk at a time: 10^8 codes would be 2 GB at once
    texts = [c.decode() for start in range(batch.start, batch.start + issued, chunk)
             for c in batch.issuer.codes(start, min(chunk, batch.start + issued - start))[::step]][:scans]
    d.apply([{"id": "commission-half", "action": "commission", "codes": texts[: len(texts) // 2]}])
    return d, texts


def sscc(n: int) -> str:
    """The n-th SSCC-18 of a made-up company prefix, with its GS1 check digit."""
    from ..checks import GS1
    body = f"0614141{n:010d}"
    return "(00)" + body + GS1.calc(body)


def commission_events(codes, size: int, tag: str) -> list:
    return [{"id": f"{tag}-{i}", "action": "commission", "codes": codes[i:i + size]}
            for i in range(0, len(codes), size)]


def pack_events(codes, case_size: int, tag: str, first_case: int = 0) -> list:
    """Codes packed into cases (SSCCs) of case_size, one AggregationEvent per case."""
    return [{"id": f"{tag}-{k}", "action": "pack", "codes": codes[i:i + case_size],
             "parent": sscc(first_case + k)}
            for k, i in enumerate(range(0, len(codes), case_size))]


# -- measurements --------------------------------------------------------------------------

def issuance(workdir: Path, sizes: Sizes) -> list:
    """Codes per second issued through the index (durable reservation, then FF1 rendering
    written to /dev/null) against codes per request."""
    d = DataDir.init(workdir / "issuance")
    product = schemes.get(ISSUE_SCHEME).example_product()
    target = max(sizes.issue_batches)
    rows = []
    with d, open(os.devnull, "wb") as sink:
        for size in sizes.issue_batches:
            requests = max(1, min(target // size, MAX_CALLS))

            def run():
                for _ in range(requests):
                    d.issue(ISSUE_SCHEME, product, size).write(sink)
            rows.append({"batch": size, "codes_per_s": size * requests / best_seconds(run)[0]})
    return rows


def verification(d, texts, sizes: Sizes) -> dict:
    """The latency of single verify() calls (scans not recorded, and recorded as the
    engine does by default) and of verify_many calls; verify_many throughput against
    scans per call, without and with recording."""
    sample = texts[: sizes.latency_samples]
    single = latencies(lambda s: d.verify(s, record=False), sample)
    recorded = latencies(lambda s: d.verify(s, place="bench"), sample)
    d.index.log.flush()
    batch = min(1_000, len(texts))
    per_call = latencies(lambda c: d.verify_many(c, record=False),
                         [texts[i:i + batch] for i in range(0, len(texts) - batch + 1, batch)])
    # Throughput with recording on one core: the log's background writer (another core)
    # stays idle and the caller commits (at 4,096 pending, and at the flush), so recorded
    # figures are core-seconds, timed in rounds alternating with unrecorded ones.
    d.index.log.interval = 3600.0
    plain, rec = best_seconds(lambda: _calls(d, d.verify, sample, False),
                              lambda: _calls(d, d.verify, sample, True))
    out = {"issued": sizes.issued,
           "single": {"codes_per_s": len(sample) / plain, **summary(single), "cdf": cdf_points(single)},
           "single_recorded": {**summary(recorded), "cdf": cdf_points(recorded)},
           "single_recorded_one_core": {"codes_per_s": len(sample) / rec},
           "batch_latency": {"batch": batch, **summary(per_call), "cdf": cdf_points(per_call)},
           "batches": [], "recorded": []}
    for size in sizes.verify_batches:
        chunks = [texts[i:i + size] for i in range(0, size * min(len(texts) // size, MAX_CALLS), size)]
        plain, rec = best_seconds(lambda: _calls(d, d.verify_many, chunks, False),
                                  lambda: _calls(d, d.verify_many, chunks, True))
        out["batches"].append({"batch": size, "codes_per_s": size * len(chunks) / plain})
        out["recorded"].append({"batch": size, "codes_per_s": size * len(chunks) / rec})
    return out


def _calls(d, verify, items, record) -> None:
    for item in items:
        verify(item, record=record, place="bench")
    d.index.log.flush()  # a recorded scan counts once committed


def grpc_stream(path, texts) -> dict:
    """Streamed verification through the gRPC service (`tracecode serve`, one worker, on
    loopback): the latency of each stream of 1,000 scans, and scans per second over one
    stream of all of them. {"skipped": why} when the service's bindings are not there."""
    try:
        from ..v1 import Client
        from ..v1.testing import ServerProcess
    except ImportError as exc:
        return {"skipped": f"the gRPC bindings (tracecode.v1) are not importable: {exc}"}
    batch = min(1_000, len(texts))
    calls = [texts[i:i + batch] for i in range(0, len(texts) - batch + 1, batch)]
    with ServerProcess(path, workers=1) as server, Client(server.address) as client:
        per_call = latencies(lambda c: client.verify_many(c, record=False), calls)
        rate = len(texts) / best_seconds(lambda: client.verify_many(texts, record=False))[0]
    return {"batch": batch, "codes_per_s": rate, **summary(per_call), "cdf": cdf_points(per_call)}


def cpu_seconds(pids) -> float:
    """User + system CPU seconds so far of live processes (/proc/PID/stat), those gone skipped."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / tick


UNARY_CALLS = 2_000


def grpc_unary(path, texts, calls: int = UNARY_CALLS) -> dict:
    """Unary Verify calls (one scan each, not recorded) to `tracecode serve` (one worker,
    loopback), one after another from this process: their latency, and queries per core, the
    calls over the CPU seconds the server's processes spent on them (the client's own
    CPU apart). {"skipped": why} when the gRPC bindings are not importable."""
    try:
        from ..v1 import Client
        from ..v1.testing import ServerProcess
    except ImportError as exc:
        return {"skipped": f"the gRPC bindings (tracecode.v1) are not importable: {exc}"}
    sample = (texts * (1 + calls // max(1, len(texts))))[:calls]
    with ServerProcess(path, workers=1) as server, Client(server.address) as client:
        for t in sample[:200]:  # warm: the channel, the worker's caches
            client.verify(t, record=False)
        pids = server.processes()
        cpu0, t0 = cpu_seconds(pids), time.perf_counter()
        lat = latencies(lambda t: client.verify(t, record=False), sample)
        wall, cpu = time.perf_counter() - t0, cpu_seconds(pids) - cpu0
    return {"calls": len(sample), "queries_per_s": len(sample) / wall,
            "queries_per_core_s": len(sample) / cpu if cpu > 0 else None,
            "server_cpu_s": cpu, **summary(lat), "cdf": cdf_points(lat)}


PUBLIC_SECONDS = 3
PUBLIC_CONNECTIONS = 8


def public_http(path, texts, seconds: float = PUBLIC_SECONDS) -> dict:
    """Public queries over HTTP (`tracecode serve --http-only`, one worker, loopback), from a
    load generator in another process (tracecode.serve.load, keep-alive connections): the
    page a phone opens (/c/{code}) and the JSON API (/api/v1/codes/{code}), queries per
    second and latency, each query recorded as a public scan, the rate limits off (one load
    generator is one address). {"skipped": why} when the HTTP face is not importable."""
    import importlib.util
    import subprocess
    import sys
    if importlib.util.find_spec("tracecode.web.app") is None:
        return {"skipped": "the HTTP face (tracecode.web) is not installed"}
    from ..serve.testing import ServeProcess
    out = {"connections": PUBLIC_CONNECTIONS, "seconds": seconds}
    with ServeProcess(path, "--http", "127.0.0.1:0", "--http-only", "--http-app",
                      "tracecode.serve.apps:unlimited", workers=1) as server:
        for name, prefix, accept in (("page", "/c/", "text/html"),
                                     ("api", "/api/v1/codes/", "application/json")):
            paths = Path(path).parent / f"public-{name}.txt"
            paths.write_text("".join(f"{prefix}{t}\n" for t in texts))

            def load(secs):
                r = subprocess.run([sys.executable, "-m", "tracecode.serve.load", server.http_url,
                                    "--paths", str(paths), "--accept", accept, "--seconds", str(secs),
                                    "--connections", str(PUBLIC_CONNECTIONS)],
                                   capture_output=True, text=True, timeout=secs + 120)
                if r.returncode != 0:
                    raise RuntimeError(f"the HTTP load generator failed: {r.stderr.strip()[-300:]}")
                return json.loads(r.stdout)
            load(1)   # warm: imports, templates, caches
            pids = server.processes()
            cpu0 = cpu_seconds(pids)
            got = load(seconds)
            cpu = cpu_seconds(pids) - cpu0
            out[name] = {"queries_per_s": got["rate"], "requests": got["requests"],
                         "queries_per_core_s": got["requests"] / cpu if cpu > 0 else None,
                         "statuses": got["statuses"],
                         **{f"{q}_us": got[f"{q}_s"] * 1e6 for q in ("p50", "p90", "p99")}}
    return out


def scan_storage(workdir: Path, sizes: Sizes) -> dict:
    """Index bytes a recorded scan adds (the scan log), and a code's first scan (its seen record)."""
    d, texts = verification_data(workdir / "scans", sizes.issued, sizes.scans)
    with d:
        store = d.index.store
        codes0, scans0 = index_bytes(store, VERDICTS), index_bytes(store, SCAN_LOG)
        rounds = 4
        for _ in range(rounds):
            d.verify_many(texts, place="bench")
        d.index.log.flush()
        return {"scan_bytes": (index_bytes(store, SCAN_LOG) - scans0) / (rounds * len(texts)),
                "seen_bytes_per_code": (index_bytes(store, VERDICTS) - codes0) / len(texts)}


EVENT_ACTIONS = ("commission", "pack", "ship")
PALLET_CASES = 40  # cases per pallet


def events(workdir: Path, sizes: Sizes) -> dict:
    """Event ingestion in codes per second, and index bytes per code, for commission (one
    event of N codes), pack (one event per case of case_size, all in one call) and ship
    (one event naming N codes), against N. Bytes are split into the records verification
    reads (verdict) and those only history() reads (events, their codes, containers' children)."""
    d = DataDir.init(workdir / "events")
    product = schemes.get(ISSUE_SCHEME).example_product()
    rates = {a: {n: [] for n in sizes.event_sizes} for a in EVENT_ACTIONS}
    grown = {a: {"verdict": 0, "history": 0} for a in EVENT_ACTIONS}
    codes, cases = 0, 0
    with d:
        store = d.index.store
        for n in sizes.event_sizes:
            for r in range(ROUNDS):
                texts = [c.decode() for c in d.issue(ISSUE_SCHEME, product, n).codes()]
                packs = pack_events(texts, sizes.case_size, f"p{n}-{r}", cases)
                cases += len(packs)
                codes += n
                for action, evs in (("commission", commission_events(texts, n, f"c{n}-{r}")),
                                    ("pack", packs),
                                    ("ship", [{"id": f"s{n}-{r}", "action": "ship", "codes": texts}])):
                    before = index_bytes(store, VERDICTS), index_bytes(store, HISTORY)
                    t = time.perf_counter()
                    results = d.apply(evs)
                    rates[action][n].append(n / (time.perf_counter() - t))  # best round kept
                    refused = [x for x in results if not x["ok"]]
                    if refused:
                        raise RuntimeError(f"{action} measurement refused: {refused[0]['error']}")
                    grown[action]["verdict"] += index_bytes(store, VERDICTS) - before[0]
                    grown[action]["history"] += index_bytes(store, HISTORY) - before[1]
        # A verdict on a packed code also reads its containers' records: verify the last
        # round's codes once their cases are on pallets (3 levels), and as many loose ones.
        on_pallets = pack_events([p["parent"] for p in packs], PALLET_CASES, "pallets", cases)
        loose = [c.decode() for c in d.issue(ISSUE_SCHEME, product, len(texts)).codes()]
        for evs in (on_pallets, commission_events(loose, len(loose), "loose")):
            if not all(x["ok"] for x in d.apply(evs)):
                raise RuntimeError("could not set up the packed verification measurement")
        on, off = best_seconds(lambda: d.verify_many(texts, record=False),
                               lambda: d.verify_many(loose, record=False))
        packed = {"levels": 3, "codes_per_s": len(texts) / on, "loose_codes_per_s": len(loose) / off}
    out = {a: {"rates": [{"batch": n, "codes_per_s": max(v)} for n, v in rates[a].items()],
               "verdict_bytes_per_code": grown[a]["verdict"] / codes,
               "history_bytes_per_code": grown[a]["history"] / codes} for a in EVENT_ACTIONS}
    return {**out, "case_size": sizes.case_size, "verify_packed": packed}


def scale(workdir: Path, sizes: Sizes, step=lambda label: None) -> list:
    """Index size and verification throughput and latency as one index grows through
    sizes.scale issued codes (in batches of SCALE_BATCH: cheap, a batch is one record).
    At each step a sample of the codes new since the last step is commissioned, and the
    samples so far are verified."""
    d = DataDir.init(workdir / "scale")
    product = schemes.get(SCALE_SCHEME).example_product()
    iss = d.issuer(SCALE_SCHEME, product)
    rng = np.random.default_rng(6)
    issued, batches, sample, rows = 0, 0, [], []
    with d:
        store = d.index.store
        for n in sizes.scale:
            step(f"index at {n:.0e} issued codes")
            first = issued
            while issued < n:
                issued += d.issue(SCALE_SCHEME, product, min(SCALE_BATCH, n - issued)).count
                batches += 1
            counters = np.unique(rng.integers(first, n, sizes.scale_sample)).tolist()
            new = [iss.codes(c, 1)[0].decode() for c in counters]
            d.apply([{"id": f"scale-{n}", "action": "commission", "codes": new}])
            sample += new
            scans = (sample * (1 + sizes.scans // len(sample)))[: sizes.scans]
            rate = len(scans) / best_seconds(lambda: d.verify_many(scans, record=False))[0]
            lat = latencies(lambda s: d.verify(s, record=False), sample[: sizes.latency_samples])
            rows.append({"issued": n, "batches": batches, "verify_codes_per_s": rate,
                         **summary(lat),
                         "issuance_bytes_per_code": index_bytes(store, ISSUANCE) / n,
                         "index_bytes": index_bytes(store)})
    return rows


def peak_memory(workdir: Path, sizes: Sizes, step=lambda label: None) -> dict:
    """Peak memory (private, and resident) of child processes issuing codes to a file and
    verifying (recorded) scans in chunks, against the count: bulk paths should stay flat."""
    out = {"idle": memory.run("idle", 0, workdir / "mem-idle")}
    for kind, counts in (("issue", sizes.memory_issue), ("verify", sizes.memory_verify)):
        out[kind] = []
        for n in counts:
            step(f"peak memory: {kind} {n:.0e}")
            out[kind].append({"count": n, **memory.run(kind, n, workdir / f"mem-{kind}-{n}")})
    return out


def run(workdir: Path, sizes: Sizes, progress) -> dict:
    """Every measurement the capacity report needs, in one dict."""
    progress.step("issuance against batch size")
    issue = issuance(workdir, sizes)
    progress.step("verification against batch size, latency")
    d, texts = verification_data(workdir / "verify", sizes.issued, sizes.scans)
    with d:
        verify = verification(d, texts, sizes)
    progress.step("streamed verification over gRPC")
    grpc = grpc_stream(workdir / "verify", texts)
    progress.step("unary gRPC queries")
    unary = grpc_unary(workdir / "verify", texts)
    progress.step("public queries over HTTP")
    public = public_http(workdir / "verify", texts[:10_000])
    progress.step("scan log bytes")
    scans = scan_storage(workdir, sizes)
    progress.step("event ingestion")
    ev = events(workdir, sizes)
    grown = scale(workdir, sizes, progress.step)
    mem = peak_memory(workdir, sizes, progress.step)
    return {"sizes": asdict(sizes), "issuance": issue, "verification": verify, "grpc": grpc,
            "grpc_unary": unary,
            "public_http": public, "scan_storage": scans, "events": ev, "scale": grown, "memory": mem}


STEPS = 7  # progress steps of run() besides those of scale() and peak_memory()


def step_count(sizes: Sizes) -> int:
    return STEPS + len(sizes.scale) + len(sizes.memory_issue) + len(sizes.memory_verify)
