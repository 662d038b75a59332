"""The apps bench/test_bench_http.py serves with `tracecode serve --http-app bench.http_apps:NAME`
on the same worker, uvicorn and httptools stack: the public window, and a do-nothing
Starlette app to measure it against."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route


def window(service, *, base_url: str):
    """The public window without its rate limits (tracecode.serve.apps.unlimited)."""
    from tracecode.serve.apps import unlimited
    return unlimited(service, base_url=base_url)


def nothing(service, *, base_url: str):
    """One Starlette route for every path, a fixed small JSON body."""
    body = b'{"ok":true}'

    async def ok(request):
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", ok, methods=["GET", "HEAD"])])
