"""Small ASGI apps for `tracecode serve --http-app serve_apps:NAME` in the serving tests and
benchmarks: the same worker, Service and uvicorn stack as the public window, nothing else."""
from __future__ import annotations

import asyncio
import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


def probe(service, *, base_url: str):
    """/healthz and /pid name the worker; /slow?s= holds a request open (drain tests);
    /schemes proves the app runs over the worker's Service."""
    pid = os.getpid()

    async def healthz(request):
        return JSONResponse({"ok": True, "pid": pid})

    async def slow(request):
        await asyncio.sleep(float(request.query_params.get("s", "1")))
        return PlainTextResponse(f"done {pid}")

    async def schemes(request):
        return JSONResponse({"base_url": base_url, "schemes": sorted(service.dd.schemes)})

    return Starlette(routes=[Route("/healthz", healthz), Route("/pid", healthz),
                             Route("/slow", slow), Route("/schemes", schemes)])


def nothing(service, *, base_url: str):
    """The do-nothing Starlette app the benchmarks measure the public window against: one
    route for every path, a fixed small JSON body."""
    async def ok(request):
        return Response(b'{"ok":true}', media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", ok)])
