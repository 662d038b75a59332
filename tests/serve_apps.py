"""A small ASGI app for `tracecode serve --http-app serve_apps:probe` in the serving tests:
the same worker, Service and uvicorn stack as the public window, and nothing else."""
from __future__ import annotations

import asyncio
import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
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

