"""A real HTTP server for the web tests: `serving(app)` runs uvicorn on a loopback port chosen
by the kernel, in a thread of the test process, and yields its base URL; at exit the server
is told to stop and the thread is joined (a server that does not stop fails the test).

    with serving(create_app(svc, base_url="https://trace.example")) as url:
        httpx.get(url + "/healthz")

Proxy headers are off (uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, which would
let a test's client pick its own address); the app's own trusted-proxy setting is what the
tests exercise.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import uvicorn

START_TIMEOUT = 30.0    # a loaded machine (two cores, five test runs) starts slowly
STOP_TIMEOUT = 30.0


@contextlib.contextmanager
def serving(app, *, host: str = "127.0.0.1", **config):
    """Serve `app` on host:0 until the block ends; yields "http://HOST:PORT". `config`:
    more uvicorn.Config options (limit_concurrency, timeout_keep_alive...)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    options = {"log_level": "warning", "lifespan": "off", "proxy_headers": False,
               "server_header": False, "access_log": False, **config}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    failure: list = []

    def run():
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if failure or not thread.is_alive():
            sock.close()
            raise RuntimeError(f"the test server did not start: {failure[0] if failure else 'exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the test server did not start within {START_TIMEOUT:g} s")
        time.sleep(0.005)
    shown = f"[{host}]" if ":" in host else host
    try:
        yield f"http://{shown}:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"the test server on port {port} did not stop within {STOP_TIMEOUT:g} s")
        if failure:
            raise RuntimeError(f"the test server failed: {failure[0]!r}") from failure[0]
