"""`tracecode serve` on a lab shard, and clients driving it through faults: the drill of
tests/test_cluster_serve.py and bench/test_bench_failover.py.

    with served_lab() as node:          # lab (1 shard, 2 members), data directory, serve (2 workers)
        with drivers(node) as d:        # a gRPC client issuing, downloading, sending events;
            ...kill something...        # an HTTP client verifying and querying
        check(node, d)                  # nothing twice, nothing lost

Every client call must succeed through its own retry (the gRPC client's retry_timeout; the
HTTP client below retries a 503 after its Retry-After, and a connection refused or reset): a
call that still fails ends the drill with that error. Each completed call is timed, so the
longest gap of a client's completions around a fault is the outage that client saw."""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from cluster_lab import running_lab, wait_healthy

SCHEME = "cn-drug-20"
DRUG = {"drug_id": "8177322"}
BATCH = 500               # codes per batch
EVENT_CODES = 50          # codes commissioned by each event (from its batch)
CLIENT_RETRY_S = 90.0     # the clients' retry budget: longer than any failover here
HTTP_TIMEOUT_S = 30.0     # one HTTP request (the store waits up to 20 s for its server)


@dataclass
class Node:
    lab: object
    datadir: str
    server: object        # tracecode.serve.testing.ServeProcess
    token: str
    env: dict


@contextmanager
def served_lab(workers: int = 2, timeout: float = 120.0):
    """A 1-shard, 2-member lab, a data directory whose index is in it (the multi-host URL,
    no password in settings.toml: PGPASSWORD), and `tracecode serve` on it: gRPC and HTTP on
    free loopback ports, `workers` worker processes, an admin token."""
    import tempfile

    import tracecode
    from tracecode.app.clients import ClientsFile
    from tracecode.serve.testing import ServeProcess
    with running_lab(shards=1, replicas=2) as lab:
        env = {"PGPASSWORD": lab.state["passwords"]["postgres"]}
        wait_healthy(lab, "shard0")
        with tempfile.TemporaryDirectory(prefix="tracecode-node-") as tmp:
            datadir = os.path.join(tmp, "d")
            saved = os.environ.get("PGPASSWORD")
            os.environ.update(env)    # libpq of this process (the checks) reads it too
            try:
                url = lab.dsn("shard0", password=False)
                tracecode.init(datadir, store=url).close()
                clients = ClientsFile.open_or_create(os.path.join(tmp, "clients.toml"))
                token = clients.add("drill", ["admin"])
                server = ServeProcess(datadir, "--store", url,   # as settings.toml has it: the option tried
                                      "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
                                      "--tokens", os.path.join(tmp, "clients.toml"),
                                      workers=workers, env=env, timeout=timeout)
                with server:
                    yield Node(lab, datadir, server, token, env)
            finally:
                if saved is None:
                    os.environ.pop("PGPASSWORD", None)
                else:
                    os.environ["PGPASSWORD"] = saved


@dataclass
class Log:
    done: list = field(default_factory=list)       # (monotonic time, kind) of completed calls
    retries: list = field(default_factory=list)    # what the client said when it retried
    error: BaseException | None = None
    KINDS = ()

    def mark(self, kind: str) -> None:
        self.done.append((time.monotonic(), kind))

    def rounds_after(self, t: float) -> int:
        """Whole rounds of the client's loop (each kind of call) completed after t: a call
        that needs no database (a download from a cached batch) may pass during an outage, so
        a client is back once every kind has completed again."""
        kinds = [k for x, k in self.done if x > t]
        return min(kinds.count(k) for k in self.KINDS)

    def outage(self, t: float, until: float) -> float:
        """The longest time without a completed call from the last completion before t to
        `until` (the client's calls are sequential: a call waiting out the fault is the gap)."""
        times = [x for x, _ in self.done if x <= until]
        before = [x for x in times if x <= t]
        edge = [before[-1]] if before else [t]
        after = [x for x in times if x > t]
        return max((b - a for a, b in zip(edge + after, after)), default=float("inf"))


@dataclass
class GrpcLog(Log):
    KINDS = ("issue", "download", "events")
    run: str = field(default_factory=lambda: os.urandom(4).hex())   # keys and ids of this drill
    batches: dict = field(default_factory=dict)    # idempotency key -> (id, start, count)
    codes: list = field(default_factory=list)      # every code downloaded, by batch
    events: dict = field(default_factory=dict)     # event id -> the codes it commissioned


@dataclass
class HttpLog(Log):
    KINDS = ("verify", "query")
    verified: int = 0
    queried: int = 0


def grpc_driver(node: Node, stop: threading.Event, log: GrpcLog, cid: int = 0) -> None:
    """Reserve a batch (an idempotency key of its own), download it, commission part of it
    with an event (an id of its own); each call retried by the client alone."""
    from tracecode.v1 import Client
    try:
        with Client(node.server.grpc_address, token=node.token, retry_timeout=CLIENT_RETRY_S,
                    timeout=60, on_retry=log.retries.append) as c:
            n = 0
            while not stop.is_set():
                key = f"{log.run}-{cid}-{n}"
                b = c.request_batch(SCHEME, DRUG, BATCH, idempotency_key=key)
                log.batches[key] = (b.id, b.start, b.count)
                log.mark("issue")
                codes = c.download(b.id).all()
                assert len(codes) == BATCH, (key, len(codes))
                log.codes.append(codes)
                log.mark("download")
                eid = f"{log.run}-ev-{cid}-{n}"
                picked = [x.decode() for x in codes[:EVENT_CODES]]
                res = c.send_events([{"id": eid, "action": "commission", "codes": picked}])
                assert all(r["ok"] for r in res), res
                log.events[eid] = picked
                log.mark("events")
                n += 1
    except BaseException as exc:   # noqa: BLE001 - the drill reports it
        log.error = exc


def _http_get(http, url: str, log: Log, headers: dict):
    """GET, retried as a client of a failing-over server should: a 503 after its Retry-After,
    a refused or reset connection after a short pause, until CLIENT_RETRY_S."""
    import httpx
    deadline = time.monotonic() + CLIENT_RETRY_S
    while True:
        try:
            r = http.get(url, headers=headers)
            if r.status_code != 503:
                return r
            why, pause = f"503 {r.text[:120]}", float(r.headers.get("retry-after", "1"))
        except httpx.TransportError as exc:
            why, pause = f"{type(exc).__name__}: {exc}", 0.2
        if time.monotonic() + pause > deadline:
            raise AssertionError(f"GET {url}: still failing after {CLIENT_RETRY_S:g} s: {why}")
        log.retries.append(why)
        time.sleep(pause)


def http_driver(node: Node, gl: GrpcLog, stop: threading.Event, log: HttpLog) -> None:
    """Verify codes the gRPC client commissioned (each must be genuine: its event is there)
    and query the EPCIS events, over HTTP with the admin token."""
    import httpx
    headers = {"authorization": f"Bearer {node.token}"}
    rng = np.random.default_rng(7)
    try:
        with httpx.Client(base_url=node.server.http_url, timeout=HTTP_TIMEOUT_S) as http:
            while not stop.is_set():
                events = list(gl.events.values())
                if not events:
                    time.sleep(0.05)
                    continue
                code = events[rng.integers(len(events))][rng.integers(EVENT_CODES)]
                r = _http_get(http, f"/api/v1/codes/{code}", log, headers)
                assert r.status_code == 200, (r.status_code, r.text[:300])
                assert r.json()["verdict"].lower() == "genuine", r.json()
                log.verified += 1
                log.mark("verify")
                r = _http_get(http, "/epcis/events?perPage=2", log, headers)
                assert r.status_code == 200, (r.status_code, r.text[:300])
                log.queried += 1
                log.mark("query")
    except BaseException as exc:   # noqa: BLE001
        log.error = exc


@dataclass
class Drivers:
    grpc: GrpcLog
    http: HttpLog

    @property
    def logs(self) -> list:
        return [self.grpc, self.http]

    def failed(self) -> list:
        return [lg.error for lg in self.logs if lg.error is not None]

    def wait_rounds(self, after: float, n: int = 2, timeout: float = 120.0) -> float:
        """Until every client completed n whole rounds of calls after `after`; the time then.
        AssertionError with the client's error if one stopped, or past timeout."""
        deadline = time.monotonic() + timeout
        while True:
            assert not self.failed(), f"a client call failed through its retries: {self.failed()!r}"
            if all(lg.rounds_after(after) >= n for lg in self.logs):
                return time.monotonic()
            assert time.monotonic() < deadline, (
                f"clients stalled {timeout:g} s: {[lg.rounds_after(after) for lg in self.logs]} rounds; "
                f"last retries {[lg.retries[-2:] for lg in self.logs]}")
            time.sleep(0.05)

    def outages(self, t: float, until: float) -> dict:
        return {"grpc_s": self.grpc.outage(t, until), "http_s": self.http.outage(t, until)}


@contextmanager
def drivers(node: Node):
    stop = threading.Event()
    d = Drivers(GrpcLog(), HttpLog())
    threads = [threading.Thread(target=grpc_driver, args=(node, stop, d.grpc), daemon=True),
               threading.Thread(target=http_driver, args=(node, d.grpc, stop, d.http), daemon=True)]
    for t in threads:
        t.start()
    try:
        d.wait_rounds(time.monotonic() - 3600)   # both are going
        yield d
    finally:
        stop.set()
        for t in threads:
            t.join(CLIENT_RETRY_S + 30)
    assert not d.failed(), f"a client call failed through its retries: {d.failed()!r}"


def check(node: Node, d: Drivers) -> dict:
    """No counter handed out twice (batch ranges disjoint, every code downloaded unique), each
    idempotency key bound to the batch its client received (a batch of a lost COMMIT left
    behind, counted as orphan_batches, is of such a key and never handed out), every
    acknowledged event applied exactly once (each code's history holds one commissioning,
    by that event), every commissioned code verifies genuine."""
    import tracecode
    from tracecode.index import Verdict
    gl = d.grpc
    spans = sorted((start, count) for _, start, count in gl.batches.values())
    for (a, n), (b, _) in zip(spans, spans[1:]):
        assert a + n <= b, f"counters {b}.. handed out twice (batch at {a} of {n})"
    codes = np.concatenate(gl.codes)
    assert len(np.unique(codes)) == len(codes), "a code was handed out twice"
    received = {bid for bid, _, _ in gl.batches.values()}
    with tracecode.open(node.datadir) as dd:
        stored = {b.id: b for b in dd.index.batches.list()   # this drill's (a node serves many)
                  if (b.requester or "").startswith(f"drill request {gl.run}-")}
        assert received <= set(stored), "a batch a client received is not in the store"
        # a reservation whose COMMIT was lost in the kill but had committed is run again
        # (store.write): the first batch stays behind with its counters skipped, never handed
        # out (batches.py); it names the key of a batch the client did receive, which the
        # key is bound to, so a retry with that key still gets the batch the client has
        keys = {f"drill request {k}": bid for k, (bid, _, _) in gl.batches.items()}
        orphans = [b for bid, b in stored.items() if bid not in received]
        for b in orphans:
            assert b.requester in keys, f"batch {b.id} of {b.requester!r}: no client asked for it"
            assert dd.index.store.idempotency_get("drill", b.requester.split()[-1])["batch"] == \
                keys[b.requester], "a key bound to a batch its client did not receive"
        for eid, picked in gl.events.items():
            hist = dd.index.history(picked[0])
            commissions = [h for h in hist if h.get("action") == "commission"]
            assert [h.get("id") for h in commissions] == [eid], (eid, hist)
        committed = np.array([c.encode() for p in gl.events.values() for c in p])
        verdicts = {a.verdict for a in dd.verify_many(committed, record=False)}
        assert verdicts == {Verdict.GENUINE}, verdicts
    return {"batches": len(gl.batches), "orphan_batches": len(orphans), "codes": len(codes), "events": len(gl.events),
            "verified_http": d.http.verified, "queried_http": d.http.queried,
            "grpc_retries": len(gl.retries), "http_retries": len(d.http.retries)}


def kill_primary(node: Node, d: Drivers) -> dict:
    """One round: the shard proven healthy, every client going, kill -9 of the primary's
    postgres; every client's outage (seconds without a completed call around the kill)."""
    wait_healthy(node.lab, "shard0")
    d.wait_rounds(time.monotonic())
    t = time.monotonic()
    node.lab.kill_primary_postgres("shard0")
    return d.outages(t, d.wait_rounds(t))


def kill_worker(node: Node, d: Drivers) -> dict:
    """One round: kill -9 of one serving worker (the supervisor starts another); the outage."""
    d.wait_rounds(time.monotonic())
    before = set(node.server.worker_pids())
    victim = sorted(before)[0]
    t = time.monotonic()
    os.kill(victim, 9)
    until = d.wait_rounds(t)
    deadline = time.monotonic() + 60
    while len(set(node.server.worker_pids()) - before) < 1 or victim in node.server.worker_pids():
        assert time.monotonic() < deadline, f"no worker replaced {victim}:\n{node.server.output()[-2000:]}"
        time.sleep(0.1)
    assert len(node.server.worker_pids()) == len(before)
    return d.outages(t, until)
