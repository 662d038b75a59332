"""The outermost layer of the HTTP face (pure ASGI: no per-request task or copy of the body):
refuses URLs and bodies over their bounds (414, 413) before anything reads them, names the
caller (request.state.caller; a bad token: 401), adds the security headers to every
response, and turns any fault below it into a short page or JSON: never a stack trace.

It sits inside Starlette's ServerErrorMiddleware, so the 500 it writes carries the same
headers as every other answer.
"""
from __future__ import annotations

import logging

from starlette.requests import Request

from ..app.caller import PUBLIC
from ..app.refusal import Refusal
from ..errors import TracecodeError
from .auth import caller_of, client_host, refused_credentials
from .errors import error_response, refusal_response
from .headers import security_headers
from .ratelimit import RateLimited

log = logging.getLogger("tracecode.web")
BODILESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
CAPTURE_PATH = "/epcis/capture"


class BodyTooLarge(TracecodeError):
    """A request body past max_body_bytes while it was being read."""


class Guard:
    def __init__(self, app, *, service, settings, base_url: str):
        self.app = app
        self.service = service
        self.settings = settings
        self.extra = security_headers(base_url)
        self.max_url = settings.max_url_bytes
        self.max_body = settings.max_body_bytes
        self.max_capture = max(settings.max_capture_bytes, settings.max_body_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.extra
        started = False

        async def send_secured(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        size = len(scope.get("raw_path") or scope["path"].encode("utf-8", "replace")) \
            + len(scope.get("query_string") or b"")
        if size > self.max_url:
            await self._answer(scope, receive, send_secured, 414,
                               f"the address is {size:,} bytes long; at most {self.max_url:,}")
            return
        authorization = None
        declared = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        host = client_host(scope, self.settings)
        state["client_host"] = host
        try:
            state["caller"] = caller_of(self.service, authorization)
        except Refusal as refusal:
            state["caller"] = PUBLIC
            try:   # a bad token costs its address a query: guessing tokens is rate-limited
                refused_credentials(scope["app"], None, f"HTTP {scope['method']}", host, refusal)
            except RateLimited as limited:
                await limited_response(Request(scope), limited)(scope, receive, send_secured)
                return
            await refusal_response(Request(scope), refusal)(scope, receive, send_secured)
            return
        if scope["method"] not in BODILESS:
            # an EPCIS document is the one body that may be large (web/epcis.py)
            limit = self.max_capture if scope["path"] == CAPTURE_PATH else self.max_body
            if declared is not None:
                try:
                    length = int(declared)
                except ValueError:
                    length = -1
                if length < 0:
                    await self._answer(scope, receive, send_secured, 400, "the Content-Length "
                                       "header is not a number")
                    return
                if length > limit:
                    await self._answer(scope, receive, send_secured, 413, f"the request body is "
                                       f"{length:,} bytes; at most {limit:,}")
                    return
            receive = self._bounded(receive, limit)
        try:
            await self.app(scope, receive, send_secured)
        except BodyTooLarge:
            if started:
                raise
            await self._answer(scope, receive, send_secured, 413,
                               f"the request body is over {limit:,} bytes")
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"][:200])
            if started:   # the status is gone: the server closes the connection
                raise
            await self._answer(scope, receive, send_secured, 500, "an internal error of the "
                               "server; it has been logged. Please try again later.")

    def _bounded(self, receive, limit: int):
        seen = 0

        async def bounded():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message
        return bounded

    @staticmethod
    async def _answer(scope, receive, send, status: int, message: str) -> None:
        scope.setdefault("state", {})
        response = error_response(Request(scope), status, message)
        if status in (413, 414):   # the rest of the request is not read: do not keep the connection
            response.headers["connection"] = "close"
        await response(scope, receive, send)


def limited_response(request, exc: RateLimited):
    """The 429 of a rate limit: a short page or JSON with Retry-After (nothing else is done)."""
    return error_response(request, 429, str(exc), reason="rate_limited",
                          headers={"retry-after": str(exc.retry_after)},
                          extra={"retry_after": exc.retry_after}
                          if request.url.path.startswith("/api/") else None)
