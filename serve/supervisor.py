"""`tracecode serve`: worker processes sharing the ports over one data directory.

The parent checks the configuration, reserves the ports, forks the workers and
supervises them; it never opens the LMDB environment nor creates a gRPC or HTTP object,
so the workers start clean (gRPC and LMDB must not cross a fork). Each worker
(worker.py) opens the data directory and one Service, and serves gRPC, HTTP or both on
the ports with SO_REUSEPORT (the kernel spreads connections over the workers); on
SIGTERM or SIGINT it drains in-flight calls and requests for `grace` seconds, commits
the scan log, closes the index and exits 0. A worker that dies is replaced; one that
cannot start stops the server. Workers die with their parent: a parent killed with
SIGKILL sends them SIGTERM (Linux PR_SET_PDEATHSIG), so none is left serving
unsupervised on a port.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import time
from multiprocessing.connection import wait
from pathlib import Path

from ..settings import load as load_settings
from .config import Config, check, join_address, split_address, web_settings
from .ports import reserve
from .worker import Binds, run_worker

log = logging.getLogger("tracecode.serve")

START_TIMEOUT_S = 60
QUICK_DEATH_S = 5       # a worker dying this soon after starting, three times running, stops all


def _reserve_all(config: Config) -> tuple[list, Binds]:
    holders = []

    def bind(address):   # HOST:PORT reserved (port 0 resolved), its holder kept until the fork
        if address is None:
            return None
        host, port = split_address(address)
        holder, port = reserve(host, port)
        holders.append(holder)
        return join_address(host, port)
    try:
        grpc_bind, http_bind = bind(config.address), bind(config.http)
    except BaseException:
        for h in holders:
            h.close()
        raise
    return holders, Binds(grpc=grpc_bind, http=http_bind)


def serve(config: Config) -> int:
    """Run the server until SIGTERM or SIGINT; returns the exit status."""
    check(config)
    holders, binds = _reserve_all(config)
    workers = config.workers or len(os.sched_getaffinity(0))
    if binds.http:
        share_rate_limits(config)
    ctx = mp.get_context("fork")
    ready_r, ready_w = ctx.Pipe(duplex=False)
    stopping = []

    parent = os.getpid()

    def start():
        p = ctx.Process(target=run_worker, args=(config, binds, ready_w, parent), daemon=False)
        p.start()
        return p, time.monotonic()

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [start() for _ in range(workers)]
    started, quick_deaths, status = 0, 0, 0
    deadline = time.monotonic() + START_TIMEOUT_S
    while not stopping:
        ready = wait([ready_r] + [p.sentinel for p, _ in procs], timeout=0.2)
        if ready_r in ready:
            ready_r.recv()
            started += 1
            if started == workers:  # tools and tests wait for this line
                print(banner(config, binds, workers), file=sys.stderr, flush=True)
        for i, (p, t0) in enumerate(procs):
            if p.exitcode is None:
                continue
            quick_deaths = quick_deaths + 1 if time.monotonic() - t0 < QUICK_DEATH_S else 0
            if started < workers or quick_deaths >= 3:
                log.error("worker %d exited with %s %s; stopping", p.pid, p.exitcode,
                          "while starting" if started < workers else "three times running")
                stopping.append(None)
                status = 1
                break
            log.error("worker %d exited with %s; starting another", p.pid, p.exitcode)
            procs[i] = start()
        if started < workers and time.monotonic() > deadline:
            log.error("workers did not start within %d s; stopping", START_TIMEOUT_S)
            stopping.append(None)
            status = 1
    for p, _ in procs:
        if p.exitcode is None:
            os.kill(p.pid, signal.SIGTERM)
    for p, _ in procs:
        p.join(config.grace + 10)
        if p.exitcode is None:
            log.error("worker %d did not stop in time; killing it", p.pid)
            p.kill()
            p.join()
        if p.exitcode != 0:
            status = 1
    for holder in holders:
        holder.close()
    return status


def share_rate_limits(config: Config) -> None:
    """The HTTP rate limits' buckets in memory shared by every worker (created before the
    fork, inherited by each, a replaced one too): a limit is the server's, not a worker's."""
    from ..web.ratelimit import table_slots
    from ..web.sharedbuckets import SharedTable, share
    slots = table_slots(web_settings(load_settings(config.datadir)))
    share(SharedTable(slots) if slots else None)


def banner(config: Config, binds: Binds, workers: int) -> str:
    """The line tools and tests wait for: "serving DIR on ADDRESS with N worker processes"
    (ADDRESS: the gRPC one when there is gRPC), then the HTTP one and the warnings."""
    security = (f"{'TLS' if config.tls_cert else 'plain text'}"
                f"{', client certificates' if config.client_ca else ''}"
                f"{', clients from ' + str(config.tokens) if config.tokens else ''}")
    first = binds.grpc or binds.http
    what = "gRPC and HTTP" if binds.grpc and binds.http else "gRPC" if binds.grpc else "HTTP"
    lines = [f"tracecode: serving {config.datadir} on {first} with {workers} worker processes "
             f"({what}, {security})"]
    if binds.http:
        scheme = "https" if config.tls_cert else "http"
        base = load_settings(config.datadir).base_url
        lines.append(f"tracecode: HTTP on {binds.http}: open {scheme}://{binds.http}/"
                     + (f" (public base URL {base}, from settings.toml)" if base else
                        " (no public base URL: `tracecode settings DIR --base-url URL`)"))
    if binds.grpc and not config.tokens:
        lines.append("tracecode: WARNING: no --tokens file: every local user of this machine is an "
                     "admin of this gRPC server")
    if not (config.audit_log or os.access(Path(config.datadir), os.W_OK)):
        lines.append(f"tracecode: {config.datadir} is read-only: verification without recording "
                     "only; issuance is refused and refusals are not audited (--audit-log PATH: "
                     "an audit log on a writable disk)")
    return "\n".join(lines)
