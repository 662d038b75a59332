"""The HTTP face assembled: `create_app(service, base_url=...)` -> a Starlette app.

    /                          the query box (pages.home_page; ?code= or ?approval= answer it)
    /c/{code}                  the page of a code: any scheme the engine reads, or a label's
                               whole QR payload percent-encoded (the veterinary five fields,
                               the pesticide trace URL)
    /approvals/{number}        the page of an approval or registration number
    /api/v1/...                the JSON API (web/api.py, its OpenAPI document at /api/v1/openapi.json)
    /epcis/...                 the EPCIS 2.0 REST binding: capture, queries (web/epcis.py)
    /regulator                 the regulator's page: analytics overview, alerts (web/regulator.py)
    /.well-known/gs1resolver   the resolver's description
    /healthz, /robots.txt
    anything else              the GS1 Digital Link resolver (web/resolver.py), or 404

Layers, outermost first: Guard (sizes, caller, security headers, no stack trace), CORS on
the API, the resolver and /.well-known (the resolver standard asks for it; the pages need
none), Starlette's router and its exception handlers (Refusal, RateLimited, HTTP errors).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Match, Mount, Route, Router

from ..app.refusal import Refusal, refusal_of
from ..store.errors import StoreUnavailable
from ..errors import ValidationError
from . import api, epcis, epcis_subscriptions, regulator, resolver
from .errors import error_response, refusal_response
from .middleware import Guard
from .openapi import document
from .auth import refused_credentials
from .ratelimit import Limiter, RateLimited, charge_address
from .settings import WebSettings

# the pages (HTML for people, no cross-origin reads wanted) take no CORS headers
PAGE_PREFIXES = ("/c/", "/approvals/", "/static/", "/regulator/")
PAGE_PATHS = frozenset({"/", "/c", "/approvals", "/healthz", "/robots.txt", "/favicon.ico", "/regulator"})
ROBOTS = "User-agent: *\nAllow: /$\nDisallow: /\n"   # codes are not for crawling (each is a query)
EPCIS_REQUEST_HEADERS = ("gs1-epcis-version", "gs1-cbv-version", "gs1-capture-error-behaviour")
EPCIS_RESPONSE_HEADERS = ("gs1-epcis-version", "gs1-cbv-version", "gs1-epcis-capture-limit",
                          "gs1-epcis-capture-file-size-limit")
MESSAGES = {404: "there is no page at this address", 405: "this address does not take that method"}


class PathCors:
    """CORSMiddleware for every path but the pages'."""

    def __init__(self, app, origins):
        self.plain = app
        self.cors = CORSMiddleware(app, allow_origins=list(origins),
                                   allow_methods=["GET", "HEAD", "PUT", "POST", "OPTIONS"],
                                   allow_headers=["authorization", "content-type", "accept", "accept-language",
                                                  *EPCIS_REQUEST_HEADERS],
                                   expose_headers=["link", "location", "retry-after", "content-language",
                                                   *EPCIS_RESPONSE_HEADERS],
                                   max_age=600)

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path in PAGE_PATHS or path.startswith(PAGE_PREFIXES):
            await self.plain(scope, receive, send)
        else:
            await self.cors(scope, receive, send)


class HeadRouter(Router):
    """Starlette's router, but a request is matched only against the routes of its path's
    first segment (the resolver's for any other): a Digital Link, the label's own URI, is
    not tried against every route before the last. Anything unusual (no full match in the
    group) falls back to the full scan, so 404s and 405s are Starlette's."""

    _groups: dict | None = None
    _other: tuple = ()

    def _build(self) -> None:
        groups: dict = {}
        other = []
        for route in self.routes:
            path = route.path if isinstance(route, (Route, Mount)) else None
            head = path[1:].partition("/")[0] if path is not None else None
            if head is None or "{" in head:
                other.append(route)
            else:
                groups.setdefault(head, []).append(route)
        self._other = tuple(other)
        self._groups = {head: (*routes, *other) for head, routes in groups.items()}

    async def app(self, scope, receive, send):
        if scope["type"] == "http":
            if self._groups is None:
                self._build()
            path = scope["path"]
            group = self._groups.get(path[1:].partition("/")[0], self._other)
            for route in group:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope["router"] = self
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


# -- the pages' routes (the pages themselves are web/pages.py's) -------------------------------
async def home(request):
    from .pages import home_page
    params = request.query_params
    if params.get("code") or params.get("approval"):
        charge_address(request)
    return await home_page(request)


async def code_by_query(request):
    """/c?code=...: the box's form sent to /c."""
    scan = (request.query_params.get("code") or "").strip()
    if not scan:
        return RedirectResponse("/", 303)
    return await code(request, scan)


async def code(request, scan: str | None = None):
    from .pages import code_page
    charge_address(request)
    return await code_page(request, request.path_params["code"] if scan is None else scan)


async def approval(request):
    from .pages import approval_page
    charge_address(request)
    return await approval_page(request, request.path_params["number"])


async def approval_by_query(request):
    number = (request.query_params.get("number") or request.query_params.get("approval") or "").strip()
    if not number:
        return RedirectResponse("/", 303)
    from .pages import approval_page
    charge_address(request)
    return await approval_page(request, number)


async def robots(request):
    return PlainTextResponse(ROBOTS, headers={"cache-control": "max-age=86400"})


# -- errors -----------------------------------------------------------------------------------
async def on_http_error(request, exc: HTTPException):
    message = MESSAGES.get(exc.status_code) or str(exc.detail)
    return error_response(request, exc.status_code, message, headers=exc.headers)


async def on_refusal(request, refusal: Refusal):
    if refusal.reason in ("permission_denied", "unauthenticated"):
        try:   # charged to the address and audited bounded when anonymous (web/auth.py)
            refused_credentials(request.app, getattr(request.state, "caller", None), f"HTTP {request.method}",
                                getattr(request.state, "client_host", "") or _peer_host(request), refusal)
        except RateLimited as limited:
            return await on_rate_limited(request, limited)
    return refusal_response(request, refusal)


async def on_unavailable(request, exc):
    """The store lost its server (a failover): 503 with Retry-After, not a 500."""
    return refusal_response(request, refusal_of(exc))


def _peer_host(request) -> str:
    return request.client.host if request.client else ""


async def on_rate_limited(request, exc: RateLimited):
    return error_response(request, 429, str(exc), reason="rate_limited",
                          headers={"retry-after": str(exc.retry_after)},
                          extra={"retry_after": exc.retry_after}
                          if request.url.path.startswith("/api/") else None)


def _base(base_url: str) -> str:
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValidationError(f"the base URL must be http(s)://host[:port][/path], not {base_url!r}",
                              field="base_url")
    return base_url.rstrip("/")


def create_app(service, *, base_url: str, settings: WebSettings | None = None) -> Starlette:
    """The HTTP face of one Service: the pages, the resolver, the JSON API."""
    from .pages import mount_static
    settings = settings or WebSettings()
    base = _base(base_url)
    routes = [
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/c", code_by_query, methods=["GET", "HEAD"]),
        Route("/c/{code:path}", code, methods=["GET", "HEAD"]),
        Route("/approvals", approval_by_query, methods=["GET", "HEAD"]),
        Route("/approvals/{number:path}", approval, methods=["GET", "HEAD"]),
        Route("/api/v1/codes/{code:path}", api.code, methods=["GET", "HEAD"]),
        Route("/api/v1/approvals/{number:path}", api.approval, methods=["GET", "HEAD"]),
        Route("/api/v1/links/{key:path}", api.links, methods=["GET", "HEAD", "PUT"]),
        Route("/api/v1/alerts", api.alerts, methods=["GET", "HEAD"]),
        Route("/api/v1/alerts/{alert_id}/close", api.close_alert, methods=["POST"]),
        Route("/api/v1/openapi.json", api.openapi, methods=["GET", "HEAD"]),
        Route("/healthz", api.healthz, methods=["GET", "HEAD"]),
        Route("/robots.txt", robots, methods=["GET", "HEAD"]),
        Route("/.well-known/gs1resolver", resolver.well_known, methods=["GET", "HEAD"]),
        *epcis.routes(),     # the EPCIS 2.0 REST binding (web/epcis.py)
        *epcis_subscriptions.routes(),   # its query subscriptions: webhooks, WebSocket
        *regulator.routes(),  # the regulator's page: the analytics for overseers (web/regulator.py)
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, service=service, settings=settings, base_url=base),
                    Middleware(PathCors, origins=settings.cors_origins)],
        exception_handlers={HTTPException: on_http_error, Refusal: on_refusal,
                            RateLimited: on_rate_limited, StoreUnavailable: on_unavailable})
    app.router = HeadRouter(routes=routes)
    mount_static(app)
    # last: every other path is the resolver's (a Digital Link may start with any custom path)
    app.router.routes.append(Route("/{path:path}", resolver.resolve, methods=["GET", "HEAD", "OPTIONS"]))
    app.state.service = service
    app.state.base_url = base
    app.state.settings = settings
    app.state.limiter = Limiter(settings)
    app.state.openapi = document(base)
    app.state.resolver_description = resolver.description(base, settings)
    return app
