"""The HTTP adapter's server: uvicorn (httptools for HTTP/1.1 parsing) on a socket the caller
made, in the caller's event loop, stopped by the caller.

`tracecode serve` hands each worker its own SO_REUSEPORT socket on the shared port
(tracecode.serve.ports), so uvicorn's own process management, signal handlers and
socket binding are not used: the supervisor does those for gRPC and HTTP alike.

    server = await start(app, sock, certfile=..., keyfile=..., grace=10)
    ...
    await server.stop()      # stop accepting, let requests in flight finish (grace), close

or, for a server that runs until an event is set: `await run(app, sock, stop=event)`.
"""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import uvicorn

from ..errors import TracecodeError

KEEP_ALIVE_S = 5          # an idle keep-alive connection is closed after this long
BACKLOG = 2048


class HttpServerError(TracecodeError):
    """The HTTP server could not start."""


class HttpServer:
    """One uvicorn server on one listening socket."""

    def __init__(self, app, sock: socket.socket, *, certfile: str | Path | None = None,
                 keyfile: str | Path | None = None, access_log: bool = False, grace: float = 10.0,
                 log_level: str = "warning", **options):
        self.sock = sock
        # proxy_headers off: uvicorn would trust X-Forwarded-For from 127.0.0.1 and let a
        # local client pick the address the rate limits count; the app decides whom to trust
        self.config = uvicorn.Config(
            app, http="httptools", ws="none", lifespan="auto", interface="asgi3",
            log_level=log_level, access_log=access_log, proxy_headers=False,
            server_header=False, date_header=True, timeout_keep_alive=KEEP_ALIVE_S,
            timeout_graceful_shutdown=grace, backlog=BACKLOG,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None, **options)
        self.server = uvicorn.Server(self.config)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    async def start(self) -> "HttpServer":
        """Listen and serve in the running loop (returns once accepting)."""
        config = self.config
        if not config.loaded:
            config.load()  # TLS files are read here: a bad key is an error before serving
        self.server.lifespan = config.lifespan_class(config)
        try:
            await self.server.startup(sockets=[self.sock])
        except SystemExit:   # uvicorn exits when the app's startup fails
            raise HttpServerError("the HTTP application failed to start (see the log above)") from None
        if not self.server.started:
            raise HttpServerError(f"HTTP did not start on port {self.port}")
        await self.server.on_tick(0)   # the Date header, before the first response
        self._ticks = asyncio.ensure_future(self._tick())
        return self

    async def _tick(self) -> None:
        # uvicorn's main loop refreshes the Date header once a second; this is that loop
        # without its exit handling (stop() is how this server ends)
        while True:
            await asyncio.sleep(1)
            await self.server.on_tick(0)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting, close idle connections, give requests in flight `grace` seconds
        (default: the one given at construction), then run the app's shutdown."""
        if grace is not None:
            self.config.timeout_graceful_shutdown = grace
        self._ticks.cancel()
        await self.server.shutdown(sockets=[self.sock])


async def start(app, sock: socket.socket, **options) -> HttpServer:
    """An HttpServer (options as its constructor) serving `app` on `sock`."""
    return await HttpServer(app, sock, **options).start()


async def run(app, sock: socket.socket, *, stop: asyncio.Event, **options) -> None:
    """Serve `app` on `sock` until `stop` is set, then drain and return."""
    server = await start(app, sock, **options)
    try:
        await stop.wait()
    finally:
        await server.stop()
