"""The JSON API for apps: the answer the page shows, as JSON (tracecode.web.answer), the
links of products (read by anyone, set by an admin or the product's issuer), the OpenAPI
document (web/openapi.py) and /healthz.

Errors are {"error": {"status", "reason", "field", "message"}} (web/errors.py); CORS is
open on /api (WebSettings.cors_origins).
"""
from __future__ import annotations

import json

from starlette.responses import JSONResponse, Response

from ..app.refusal import Refusal, invalid
from .errors import NO_STORE, error_response
from .ratelimit import charge_address, charge_product

JSON_TYPES = ("application/json", "application/linkset+json")
MAX_PLACE_PARAM = 256   # the answer keeps a coarse region of it; the rest is not read


ANSWER_VARY = "Accept-Language, Cookie, Authorization"   # the words and what the caller may see


def _json(body, status: int = 200, cache: str = NO_STORE) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status_code=status,
                    media_type="application/json", headers={"cache-control": cache, "vary": ANSWER_VARY})


def _lang(request) -> str:
    from .i18n import negotiate
    return negotiate(request)


async def code(request) -> Response:
    """GET /api/v1/codes/{code}: the public answer to one code or scan (recorded as a query)."""
    from .answer import code_answer
    charge_address(request)
    place = request.query_params.get("place")
    if place is not None and len(place) > MAX_PLACE_PARAM:
        raise invalid("place", f"a coarse region (a city or province), at most {MAX_PLACE_PARAM} characters")
    state = request.app.state
    # the product's limit charged before the query is recorded; a HEAD is no query
    answer = code_answer(state.service, request.state.caller, request.path_params["code"],
                         place=request.query_params.get("region") or place, lang=_lang(request),
                         repeat=request.method == "HEAD", charge=lambda a: charge_product(request, a),
                         lat=_degrees(request, "lat"), lon=_degrees(request, "lon"))
    return _json(answer)


def _degrees(request, name: str):
    """?lat= / ?lon= as text (the Service checks them: a bad one is a 400 naming it)."""
    value = request.query_params.get(name)
    if value is not None and len(value) > 32:
        raise invalid(name, f"{name} is a number of degrees (WGS-84), at most 32 characters")
    return value or None


async def approval(request) -> Response:
    """GET /api/v1/approvals/{number}: an approval or registration number in the registry."""
    from .answer import approval_answer
    charge_address(request)
    answer = approval_answer(request.app.state.service, request.state.caller,
                             request.path_params["number"], lang=_lang(request))
    return _json(answer)


def _links_body(key: str, links) -> dict:
    return {"key": key, "links": [link.to_dict() for link in links]}


async def links(request) -> Response:
    """GET /api/v1/links/{key}: the links stored under a product's key (public).
    PUT: replace them (an admin or the product's issuer; {"links": [...]} or a list)."""
    svc, caller = request.app.state.service, request.state.caller
    key = request.path_params["key"]
    if request.method == "GET":
        charge_address(request)
        canonical = svc.link_key(key)
        return _json(_links_body(canonical, svc.links(caller, canonical, method="HTTP GetLinks")))
    if not caller.authenticated:
        raise Refusal("unauthenticated", "", "setting links needs a bearer token of an admin or "
                      "of the product's issuer (Authorization: Bearer <token>)")
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind not in JSON_TYPES:
        return error_response(request, 415, "send the links as JSON (Content-Type: application/json)",
                              reason="unsupported_media_type", field="content-type")
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise invalid("body", "the body is not JSON: {\"links\": [{\"link_type\": \"gs1:pip\", "
                              "\"href\": \"https://...\", ...}]}") from None
    items = body.get("links") if isinstance(body, dict) else body
    if items is None:
        raise invalid("links", "the body names no links: {\"links\": [...]} (an empty list removes them)")
    stored = svc.set_links(caller, key, items, peer=request.state.client_host, method="HTTP SetLinks")
    return _json(_links_body(svc.link_key(key), stored))


async def alerts(request) -> Response:
    """GET /api/v1/alerts?rule=&code=&open=1&limit=&page_token=: the analytics' alerts
    (regulators and admins: a bearer token), a page at a time as gRPC's ListAlerts:
    next_page_token (null after the last page) goes in page_token for the next."""
    from ..app.alertsapp import page_alerts
    q = request.query_params
    limit = q.get("limit", "100")
    if not (limit.isascii() and limit.isdigit()):
        raise invalid("limit", "limit is a number, 1 to 1000")
    found, token = page_alerts(request.app.state.service, request.state.caller, rule=q.get("rule"),
                               code=q.get("code"), open_only=q.get("open") in ("1", "true"),
                               limit=int(limit), page_token=q.get("page_token"), method="HTTP Alerts")
    return _json({"alerts": found, "next_page_token": token})


async def close_alert(request) -> Response:
    """POST /api/v1/alerts/{id}/close {"note": "..."}: close an open alert (overseers)."""
    from ..app.alertsapp import close_alert as close
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        raise invalid("body", 'the body is not JSON: {"note": "why"}') from None
    note = body.get("note", "") if isinstance(body, dict) else None
    return _json(close(request.app.state.service, request.state.caller,
                       request.path_params["alert_id"], note if isinstance(note, str) else None,
                       method="HTTP CloseAlert"))


async def openapi(request) -> Response:
    return JSONResponse(request.app.state.openapi, headers={"cache-control": "max-age=3600"})


async def healthz(request) -> Response:
    """Liveness for load balancers: answered without touching the index (not rate-limited)."""
    return Response("ok\n", media_type="text/plain", headers={"cache-control": NO_STORE})
