"""Every error the HTTP face answers, in one shape: a short page for people (the page
helper's `pages.error_page`), JSON for the API and for clients that ask for JSON. Never a
stack trace: a fault of ours is logged here and answered with one sentence.

JSON errors: {"error": {"status": 404, "reason": "unknown_code", "field": "", "message": "..."}}
"""
from __future__ import annotations

import html
import json
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..app.refusal import Refusal
from .status import PHRASES, http_status

log = logging.getLogger("tracecode.web")
API_PREFIX = "/api/"
NO_STORE = "no-store"


def wants_json(request: Request) -> bool:
    """The API always; elsewhere a client that asks for JSON and not for a page."""
    if request.url.path.startswith(API_PREFIX):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" not in accept and "json" in accept


def json_error(status: int, message: str, *, reason: str = "", field: str = "",
               headers: dict | None = None, extra: dict | None = None) -> Response:
    body = {"status": status, "reason": reason or _reason_of(status), "field": field, "message": message}
    if extra:
        body.update(extra)
    return Response(json.dumps({"error": body}, ensure_ascii=False, separators=(",", ":")),
                    status_code=status, media_type="application/json",
                    headers={"cache-control": NO_STORE, **(headers or {})})


def html_error(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    """The page helper's error page; if it cannot be drawn (not there yet, a template fault),
    a page of one sentence: an error while answering an error must not become a trace."""
    try:
        from .pages import error_page
        response = error_page(request, status, message)
    except Exception:  # noqa: BLE001 - the fallback below is the answer either way
        log.exception("the error page could not be drawn (status %s)", status)
        response = fallback_page(status, message)
    response.headers["cache-control"] = NO_STORE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def fallback_page(status: int, message: str) -> Response:
    phrase = PHRASES.get(status, "Error")
    text = html.escape(message)
    return HTMLResponse(f'<!doctype html><html lang="zh"><head><meta charset="utf-8">'
                        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
                        f"<title>{status} {phrase}</title></head><body><h1>{status} {phrase}</h1>"
                        f'<p>{text}</p><p><a href="/">查询首页 / Home</a></p></body></html>',
                        status_code=status)


def error_response(request: Request, status: int, message: str, *, reason: str = "",
                   field: str = "", headers: dict | None = None, as_json: bool | None = None,
                   extra: dict | None = None) -> Response:
    from .epcis_problem import is_epcis
    if is_epcis(request.url.path):   # the EPCIS binding's clients read RFC 7807 problems
        return _epcis_problem(request, status, message, reason, field, headers, extra)
    if as_json if as_json is not None else wants_json(request):
        return json_error(status, message, reason=reason, field=field, headers=headers, extra=extra)
    return html_error(request, status, message, headers)


def _epcis_problem(request, status, message, reason, field, headers, extra) -> Response:
    from .epcis_problem import problem
    path = request.url.path
    if status == 413 and path.startswith("/epcis/capture"):
        from .epcis import capture_limits
        headers = {**capture_limits(request.app.state.settings), **(headers or {})}
    return problem(status, message, path=path, reason=reason or _reason_of(status), field=field,
                   headers=headers, extra=extra)


def refusal_response(request: Request, refusal: Refusal, *, as_json: bool | None = None,
                     headers: dict | None = None) -> Response:
    """A Refusal of the application layer as its HTTP status and sentence."""
    status = http_status(refusal)
    if refusal.reason == "unauthenticated":
        from .auth import challenge
        headers = {**challenge(refusal), **(headers or {})}
    if refusal.reason == "unavailable":   # a failover takes seconds: come back in one
        headers = {"retry-after": "1", **(headers or {})}
    extra = {k: v for k, v in refusal.facts.items() if k in ("fault", "position", "name")} or None
    return error_response(request, status, refusal.detail, reason=refusal.reason,
                          field=refusal.field, headers=headers, as_json=as_json, extra=extra)


def _reason_of(status: int) -> str:
    return {400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
            404: "not_found", 405: "method_not_allowed", 413: "too_large", 414: "uri_too_long",
            415: "unsupported_media_type", 429: "rate_limited", 500: "internal"}.get(status, "error")
