"""One worker process of `tracecode serve`: the data directory and one Service, with the
gRPC adapter (tracecode.v1.server), the HTTP adapter (tracecode.web.server) or both on
their shared ports.

The adapters are imported here, in the worker, when configured: tracecode.serve itself
imports neither grpc nor starlette, and an HTTP-only server never loads gRPC.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass

from ..datadir import DataDir
from .config import Config, ServeError, split_address, web_settings
from .ports import shared_socket

log = logging.getLogger("tracecode.serve")

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Binds:
    """The addresses the workers listen on, ports resolved (None: not served)."""
    grpc: str | None = None
    http: str | None = None


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


def run_worker(config: Config, binds: Binds, ready, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    logging.basicConfig(level=logging.INFO, format=f"tracecode serve [{os.getpid()}]: %(message)s",
                        force=True)
    try:
        _run(serve_worker(config, binds, ready, parent), uvloop=binds.http is not None)
    except Exception as exc:  # noqa: BLE001 - one line, then a non-zero exit
        log.error("%s", exc)
        os._exit(1)
    os._exit(0)  # skip the parent's atexit handlers inherited by fork


def _run(coro, uvloop: bool) -> None:
    """uvloop for HTTP (uvicorn's fast path: its parsing and sockets in C); the asyncio
    default loop for a gRPC-only worker, as before HTTP existed."""
    if uvloop:
        import uvloop as _uvloop
        with asyncio.Runner(loop_factory=_uvloop.new_event_loop) as runner:
            runner.run(coro)
    else:
        asyncio.run(coro)


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    log.error("the supervising process %d is gone; stopping", parent)
    stop.set()


def base_url(dd: DataDir, config: Config, http_bind: str) -> str:
    """The public base URL of the pages and links: the data directory's (settings.toml),
    else this server's own address (fine on loopback; set one for the public)."""
    configured = dd.settings.base_url
    if configured:
        return configured
    host, port = split_address(http_bind)
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if config.tls else 'http'}://{shown}:{port}"


def app_factory(config: Config):
    """The --http-app MODULE:FACTORY given instead of the public window (a sub-platform's
    own ASGI app over the same Service; the benchmarks' do-nothing app)."""
    import importlib
    module, _, name = config.http_app.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ServeError(f"--http-app {config.http_app}: {exc}") from None


async def start_http(svc, dd: DataDir, config: Config, bind: str):
    """The HTTP adapter on its own listening SO_REUSEPORT socket of the shared port."""
    from ..web.server import start
    url = base_url(dd, config, bind)
    if config.http_app is None:
        from ..web.app import create_app
        app = create_app(svc, base_url=url, settings=web_settings(dd.settings))
    else:
        app = app_factory(config)(svc, base_url=url)
    sock = shared_socket(*split_address(bind))
    return await start(app, sock, certfile=config.tls_cert, keyfile=config.tls_key,
                       access_log=config.access_log, grace=config.grace)


def _start_delivery(svc, config: Config, stop: asyncio.Event):
    """The EPCIS subscriptions' delivery runner (serve/delivery.py: the worker holding the
    store's lease delivers, the others stand by); none on a read-only data directory."""
    if not os.access(config.datadir, os.W_OK):
        return None
    from .delivery import DeliveryRunner
    return asyncio.ensure_future(DeliveryRunner(svc).run(stop))


async def serve_worker(config: Config, binds: Binds, ready, parent: int) -> None:
    from ..app import Service
    from ..app.clients import Clients

    dd = DataDir(config.datadir)
    dd.index  # opened here, after the fork
    svc = Service(dd, Clients(config.tokens), audit_path=config.audit_log)
    handles = []
    try:
        if binds.grpc:
            from ..v1.server import start_grpc
            handles.append(await start_grpc(svc, config, binds.grpc))
        if binds.http:
            handles.append(await start_http(svc, dd, config, binds.http))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        ready.send(os.getpid())
        orphaned = asyncio.ensure_future(_watch_parent(parent, stop))  # where PDEATHSIG is missing
        delivering = _start_delivery(svc, config, stop)
        await stop.wait()
        orphaned.cancel()
        if delivering is not None:
            await delivering   # stops with stop: its in-flight deliveries cancelled, the lease given back
    finally:
        # both drain at once: the grace is one budget, not one per adapter
        await asyncio.gather(*(h.stop(config.grace) for h in handles))
        svc.drain_captures()   # the captures begun (202 answered) finish before the index closes
        try:
            dd.close()  # commits the scan log (a full disk: IndexFull, the worker's last line)
        finally:
            svc.close()  # the audit log's last records, whatever the index said
