"""`tracecode serve`: server processes sharing one port over one data directory.

The parent checks the configuration, reserves the port, forks the workers and
supervises them; it never opens the LMDB environment or creates a gRPC object, so
the workers start clean (gRPC and LMDB must not cross a fork). Each worker opens the
data directory, serves the four services plus health and reflection on the port
with SO_REUSEPORT (the kernel spreads connections over the workers), and on SIGTERM
or SIGINT reports NOT_SERVING, drains in-flight calls for `grace` seconds,
commits the scan log, closes the index and exits 0. A worker that dies is
replaced; one that cannot start stops the server. Workers die with their parent: a
parent killed with SIGKILL sends them SIGTERM (Linux PR_SET_PDEATHSIG), so none is
left serving unsupervised on the port.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from ..datadir import DataDir
from ..errors import TracecodeError
from . import (admin_pb2, admin_pb2_grpc, issuance_pb2, issuance_pb2_grpc, lifecycle_pb2,
               lifecycle_pb2_grpc, limits, verification_pb2, verification_pb2_grpc)
from ..app.clients import Clients, ClientsFile
from .servicers import Admin, Issuance, Lifecycle, Verification

log = logging.getLogger("tracecode.serve")

SERVICES = ((Issuance, issuance_pb2, issuance_pb2_grpc.add_IssuanceServicer_to_server),
            (Verification, verification_pb2, verification_pb2_grpc.add_VerificationServicer_to_server),
            (Lifecycle, lifecycle_pb2, lifecycle_pb2_grpc.add_LifecycleServicer_to_server),
            (Admin, admin_pb2, admin_pb2_grpc.add_AdminServicer_to_server))
START_TIMEOUT_S = 60
QUICK_DEATH_S = 5       # a worker dying this soon after starting, three times running, stops all


class ServeError(TracecodeError):
    """The server cannot start as configured."""


@dataclass
class Config:
    datadir: Path
    address: str = "localhost:50051"
    workers: int = 0                  # 0: one per core
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None     # mutual TLS: client certificates signed by this CA
    tokens: Path | None = None        # the clients file (tracecode.app.clients)
    allow_insecure: bool = False      # plain text beyond loopback
    grace: float = 10.0               # seconds in-flight calls get on SIGTERM
    keepalive: float = 60.0           # seconds between pings of a quiet connection
    audit_log: Path | None = None     # default DIR/audit.log (elsewhere for a read-only DIR)


def keepalive_options(seconds: float) -> list:
    """Ping each connection after `seconds` without traffic and close it when the ping is
    not answered within min(20 s, seconds): a client that vanished (power, network) must
    not keep its streams, and their slots (streams.py), open for ever. A live client that
    merely stops reading answers pings (its transport does) and keeps them."""
    ms = max(int(seconds * 1000), 1000)
    return [("grpc.keepalive_time_ms", ms), ("grpc.keepalive_timeout_ms", min(ms, 20_000)),
            ("grpc.http2.ping_timeout_ms", min(ms, 20_000)),   # what newer gRPC core times out
            ("grpc.http2.max_pings_without_data", 0),   # a stalled stream sends no data
            ("grpc.keepalive_permit_without_calls", 1)]


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ServeError(f"address {address!r} must be HOST:PORT (e.g. localhost:50051, [::1]:50051)")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def check(config: Config) -> None:
    """Refuse a configuration that cannot work, or would expose the service, before forking."""
    DataDir(config.datadir)  # a data directory with a readable key (the index opens later)
    host, _ = split_address(config.address)
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ServeError("give --tls-cert and --tls-key together")
    if config.client_ca and not config.tls_cert:
        raise ServeError("--client-ca (mutual TLS) needs --tls-cert and --tls-key")
    for path in (config.tls_cert, config.tls_key, config.client_ca):
        if path is not None and not Path(path).is_file():
            raise ServeError(f"{path}: no such file")
    local = is_loopback(host)
    if not config.tls_cert and not local and not config.allow_insecure:
        raise ServeError(f"{host} is not a loopback address: serve with TLS (--tls-cert, --tls-key) "
                         "or pass --allow-insecure to send plain text over the network")
    if config.tokens:
        ClientsFile.load(config.tokens)
    elif not local:  # without a clients file every caller would be an admin
        raise ServeError("a server beyond loopback needs a clients file: --tokens FILE (see "
                         "`tracecode token add`; it also names clients by certificate)")


def _reserve(host: str, port: int) -> tuple[socket.socket, int]:
    """A bound (not listening) SO_REUSEPORT socket holding the port while workers start;
    refuses a port another server already listens on, even one with SO_REUSEPORT."""
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    if port:
        probe = socket.socket(family, kind, proto)
        # SO_REUSEADDR: the connections of a crashed server linger in TIME_WAIT and must not
        # stop its restart; a socket listening there still refuses the probe (Linux)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        finally:
            probe.close()
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(addr)
    return sock, sock.getsockname()[1]


def serve(config: Config) -> int:
    """Run the server until SIGTERM or SIGINT; returns the exit status."""
    check(config)
    host, port = split_address(config.address)
    holder, port = _reserve(host, port)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    workers = config.workers or len(os.sched_getaffinity(0))
    ctx = mp.get_context("fork")
    ready_r, ready_w = ctx.Pipe(duplex=False)
    stopping = []

    parent = os.getpid()

    def start():
        p = ctx.Process(target=_worker, args=(config, bind, ready_w, parent), daemon=False)
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
                print(_banner(config, bind, workers), file=sys.stderr, flush=True)
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
    holder.close()
    return status


def _banner(config: Config, bind: str, workers: int) -> str:
    return (f"tracecode: serving {config.datadir} on {bind} with {workers} worker processes "
            f"({'TLS' if config.tls_cert else 'plain text'}"
            f"{', client certificates' if config.client_ca else ''}"
            f"{', clients from ' + str(config.tokens) if config.tokens else ''})"
            + ("" if config.tokens else "\ntracecode: WARNING: no --tokens file: every local user "
               "of this machine is an admin of this server")
            + ("" if config.audit_log or os.access(Path(config.datadir), os.W_OK) else
               f"\ntracecode: {config.datadir} is read-only: verification without recording "
               "only; issuance is refused and refusals are not audited (--audit-log PATH: "
               "an audit log on a writable disk)"))


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """SIGTERM to this process when its parent dies (a drain, as on a normal stop), and
    exit now if the parent died before the request took effect (the fork race)."""
    if sys.platform.startswith("linux"):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.error("prctl(PR_SET_PDEATHSIG): %s", os.strerror(ctypes.get_errno()))
            os._exit(1)
    if os.getppid() != parent:
        os._exit(1)


def _worker(config: Config, bind: str, ready, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    logging.basicConfig(level=logging.INFO, format=f"tracecode serve [{os.getpid()}]: %(message)s",
                        force=True)
    try:
        asyncio.run(_serve_worker(config, bind, ready, parent))
    except Exception as exc:  # noqa: BLE001 - one line, then a non-zero exit
        log.error("%s", exc)
        os._exit(1)
    os._exit(0)  # skip the parent's atexit handlers inherited by fork


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    log.error("the supervising process %d is gone; stopping", parent)
    stop.set()


def credentials(config: Config):
    import grpc
    if not config.tls_cert:
        return None
    pair = (Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes())
    ca = Path(config.client_ca).read_bytes() if config.client_ca else None
    return grpc.ssl_server_credentials([pair], root_certificates=ca, require_client_auth=ca is not None)


async def _serve_worker(config: Config, bind: str, ready, parent: int) -> None:
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    from . import reflection
    from ..app import Service

    dd = DataDir(config.datadir)
    dd.index  # opened here, after the fork
    svc = Service(dd, Clients(config.tokens), audit_path=config.audit_log)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1), *limits.GRPC_OPTIONS,
                                      *keepalive_options(config.keepalive)])
    ours = []
    for cls, module, add in SERVICES:
        servicer = cls(svc)
        service = module.DESCRIPTOR.services_by_name[cls.__name__]
        for method in service.methods:
            if not hasattr(getattr(servicer, method.name), "roles"):
                raise ServeError(f"{service.full_name}/{method.name} has no @rpc guard")
        add(servicer, server)
        ours.append(service.full_name)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable([*ours, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name], server)
    creds = credentials(config)
    if creds is None:
        server.add_insecure_port(bind)
    else:
        server.add_secure_port(bind, creds)
    await server.start()
    for name in ["", *ours]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready.send(os.getpid())
    orphaned = asyncio.ensure_future(_watch_parent(parent, stop))  # where PDEATHSIG is missing
    await stop.wait()
    orphaned.cancel()
    await health_servicer.enter_graceful_shutdown()
    await server.stop(config.grace)
    try:
        dd.close()  # commits the scan log (a full disk: IndexFull, the worker's last line)
    finally:
        svc.close()  # the audit log's last records, whatever the index said
