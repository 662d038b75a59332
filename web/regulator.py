"""The regulator's page: what `tracecode analyze` reports (scans and non-genuine verdicts by
region and by day, the top open alerts with their evidence, flows between regions), on the
HTTP server, for overseers (regulators and admins) only, with filters and a close action.

    GET  /regulator                       the page (?since=DATE&rule=&region=&category=&closed=1)
    GET  /regulator/figures/{name}.png    a figure (the report's PNG), cached per export generation
    POST /regulator/login                 token=... -> a session cookie for this path (HttpOnly,
                                          SameSite=Strict; signed, 8 h, never the token itself)
    POST /regulator/logout                the cookie cleared and the client's sessions revoked
    POST /regulator/alerts/{id}/close     note=..., csrf=... -> the alert closed (audited), back to the page

Who: the same clients and rights as GET /api/v1/alerts: `Authorization: Bearer TOKEN`, or
the token given once to the login form, which answers with a session cookie scoped to
/regulator (a browser cannot send a bearer header by itself; web/regulator_session.py).
The public gets a 401 login page, other clients a 403: never the data. A form POST carries
a token derived from the caller's own secret (HMAC of the bearer token or session value):
another site cannot forge it, and its Origin, when sent, must be this server's. No
JavaScript (the CSP allows none).
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..analytics import report
from ..analytics.rules import RULES
from ..app.alertsapp import MAX_ALERTS, close_alert
from ..app.caller import PUBLIC
from ..app.refusal import Refusal, invalid
from ..app.rights import admit
from ..errors import TracecodeError
from . import i18n
from . import regulator_session as session
from .auth import CHALLENGE, caller_of, refused_credentials

PATH = "/regulator"
COOKIE = "tc_overseer"
COOKIE_AGE = 8 * 3600            # a working day: the session's life (web/regulator_session.py)
TOP_ALERTS = 50
FIGURE_NAMES = tuple(name for name, _ in report.FIGURES)
FILTER_KEYS = ("since", "rule", "region", "category", "closed")
CSRF_CONTEXT = b"tracecode regulator form v1"
COMMAND = "tracecode analyze DIR --out REPORT"   # what refreshes the export and the alerts


def routes() -> list:
    return [Route(PATH, page, methods=["GET", "HEAD"]),
            Route(PATH + "/figures/{name}", figure, methods=["GET", "HEAD"]),
            Route(PATH + "/login", login, methods=["POST"]),
            Route(PATH + "/logout", logout, methods=["POST"]),
            Route(PATH + "/alerts/{alert_id}/close", close, methods=["POST"])]


# -- who is asking -----------------------------------------------------------------------------
def _credentials(request, method: str = "HTTP RegulatorPage"):
    """(caller, token): the bearer header's (the Guard named the caller), else the session
    cookie's (token: the session value, which keys the form token); (PUBLIC, None) without
    either. A cookie that names nobody (forged, expired, logged out, its client gone) is the
    public, and charged to the address and audited as a wrong bearer header is (RateLimited
    past the limit: 429)."""
    caller = getattr(request.state, "caller", None) or PUBLIC
    header = request.headers.get("authorization")
    if caller.authenticated and header:
        return caller, header.strip().partition(" ")[2].strip()
    value = request.cookies.get(COOKIE)
    if value:
        svc = request.app.state.service
        who = session.caller_of(svc, value, PATH)
        if who is not None:
            return who, value
        refused_credentials(request.app, None, method, getattr(request.state, "client_host", "") or "",
                            Refusal("unauthenticated", "cookie", "a regulator session cookie that is "
                                    "forged, expired or signed out"))
    return PUBLIC, None


def _csrf(token: str) -> str:
    return hmac.new(token.encode("utf-8"), CSRF_CONTEXT, hashlib.sha256).hexdigest()[:32]


def _overseer(request, method: str):
    """The caller if an overseer: the public is shown the login page (401), any other
    client is refused (403, audited by the app's refusal handler)."""
    caller, token = _credentials(request, method)
    if caller.authenticated:
        admit(caller, "alerts", method)
    return caller, token


def _same_origin(request) -> bool:
    """Whether a form POST came from this server's pages: the browser's Sec-Fetch-Site when
    sent, and its Origin when it names one (under Referrer-Policy: no-referrer Chromium
    sends "null"; curl sends none: the form token decides)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    public = "/".join(request.app.state.base_url.split("/", 3)[:3])   # scheme://host[:port]
    return origin in (own, public)


async def _form(request) -> dict:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _checked_form(request, form: dict, token: str | None) -> None:
    if not _same_origin(request):
        raise Refusal("permission_denied", "origin", "a form of another site: refused")
    sent = form.get("csrf", "")
    if token is None or not hmac.compare_digest(sent.encode(), _csrf(token).encode()):
        raise Refusal("permission_denied", "csrf", "the form is stale or not this page's: "
                      "reload the page and send it again")


# -- the filters -------------------------------------------------------------------------------
def _filters(request) -> dict:
    """since (a date), rule, region (a GB/T 2260 code of the table), category, closed:
    each checked; a bad one is a 400 naming it."""
    from .answer import regions_of
    q = request.query_params
    out: dict = {"since": None, "rule": None, "region": None, "category": None,
                 "closed": q.get("closed") in ("1", "on", "true")}
    since = (q.get("since") or "").strip()
    if since:
        try:
            out["since"] = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            raise invalid("since", "since is a date, YYYY-MM-DD") from None
    rule = (q.get("rule") or "").strip()
    if rule:
        if rule not in RULES:
            raise invalid("rule", f"rule is one of: {', '.join(RULES)}")
        out["rule"] = rule
    region = (q.get("region") or "").strip()
    if region:
        found = regions_of(request.app.state.service).find(region)
        if found is None:
            raise invalid("region", "region is a GB/T 2260 code or name of the regions table")
        out["region"] = found.code
    category = (q.get("category") or "").strip()
    if category:
        if category not in _categories(request):
            raise invalid("category", f"category is one of: {', '.join(_categories(request))}")
        out["category"] = category
    return out


def _categories(request) -> dict:
    """category -> its schemes, of the data directory's schemes (no category: generic)."""
    cats: dict = {}
    for name, scheme in request.app.state.service.dd.schemes.items():
        cats.setdefault(scheme.category or "generic", []).append(name)
    return {k: sorted(v) for k, v in sorted(cats.items())}


def _query(f: dict) -> dict:
    """The filters as query parameters (only those set)."""
    q = {"since": f["since"].strftime("%Y-%m-%d") if f["since"] else None, "rule": f["rule"],
         "region": f["region"], "category": f["category"], "closed": "1" if f["closed"] else None}
    return {k: v for k, v in q.items() if v}


def _state(request):
    from .regulator_data import PageData
    state = request.app.state
    data = getattr(state, "regulator_data", None)
    if data is None:
        data = state.regulator_data = PageData()
    return data


def _products(request):
    from .regulator_data import CategoryProducts
    state = request.app.state
    found = getattr(state, "regulator_products", None)
    if found is None:
        found = state.regulator_products = CategoryProducts()
    return found


def _entry(request, export, f: dict, schemes):
    return _state(request).entry(export, since=f["since"], region=f["region"], schemes=schemes)


# -- the handlers ------------------------------------------------------------------------------
async def page(request) -> Response:
    from .pages import ENV, _page
    from .regulator_data import ALERT_PAGES, by_key, export_of, read_alerts, totals
    caller, token = _overseer(request, "HTTP RegulatorPage")
    lang = i18n.negotiate(request)
    if not caller.authenticated:
        response = _page(request, ENV.get_template("regulator_login.html"), lang, 401,
                         **_words(lang))
        response.headers["www-authenticate"] = CHALLENGE
        return response
    f = _filters(request)
    svc = request.app.state.service
    cats = _categories(request)
    schemes = cats[f["category"]] if f["category"] else None
    export = await run_in_threadpool(export_of, svc.dd)
    ov = problem = None
    products = None
    if export.generation is not None:
        try:
            ov = (await run_in_threadpool(_entry, request, export, f, schemes)).overview
        except TracecodeError as exc:   # a damaged part: say so, still show the alerts
            problem = str(exc)
    unmatched = []   # the category's schemes whose alerts the filter cannot name here
    if schemes is not None:
        # the products issued here under the category's schemes (the index's batches), and
        # those the export saw scanned (codes registered from others' schemes too)
        products = await run_in_threadpool(_products(request).of, svc.index.store, schemes)
        if ov is not None:
            products |= {r["product"] for r in ov["by_product"]}
        else:
            unmatched = [s for s in schemes if getattr(svc.dd.schemes[s], "external", False)]
    alerts, capped = await run_in_threadpool(   # the store filters; up to 10,000 decoded: off the loop
        lambda: read_alerts(svc, caller, rule=f["rule"], open_only=not f["closed"], since=f["since"],
                            region=f["region"], products=products))
    from .answer import regions_of
    table = regions_of(svc)
    query = _query(f)
    figures = []
    if ov is not None:
        suffix = urlencode({**query, "g": export.generation})
        figures = [(name, title, f"{PATH}/figures/{name}?{suffix}") for name, title in report.FIGURES
                   if _has_data(ov, name)]
    scans, bad = totals(ov) if ov is not None else (0, 0)
    response = _page(
        request, ENV.get_template("regulator.html"), lang,
        export=export, problem=problem, ov=ov, f=f, query=query, back=urlencode(query),
        rules=list(RULES), categories=list(cats), scans=scans, bad=bad,
        counts=report.counts(alerts), top=report.ranked(alerts)[:TOP_ALERTS], n_alerts=len(alerts),
        capped=capped, max_alerts=MAX_ALERTS * ALERT_PAGES, unmatched=unmatched, figures=figures,
        regions_top=by_key(ov["by_region"], "region", 25) if ov else [],
        days=by_key(ov["by_day"], "day") if ov else [],
        flows=report.top_flows(ov["flows"], 30) if ov else [],
        label=lambda code: table.label(code, lang) or code, evidence=report.evidence_text,
        csrf=_csrf(token), closed_id=request.query_params.get("done"), who=caller.name,
        region_choices=table.options(lang), command=COMMAND, **_words(lang))
    response.headers["cache-control"] = "no-store, private"
    return response


def _words(lang: str) -> dict:
    """The page's words (rw), a sentence with its parts filled (say: the words escaped, the
    parts escaped unless markup) and a part in an element (tag)."""
    from .regulator_words import words
    rw = words(lang)
    return {"rw": rw, "say": lambda key, **parts: Markup(escape(rw[key])).format(**parts),
            "tag": lambda name, text: Markup(f"<{name}>{{}}</{name}>").format(text)}


def _has_data(ov: dict, name: str) -> bool:
    return bool(ov["flows"] if name == "flows.png" else ov["by_day"])


async def figure(request) -> Response:
    from .regulator_data import PageData, export_of
    caller, _ = _overseer(request, "HTTP RegulatorFigure")
    if not caller.authenticated:
        raise Refusal("unauthenticated", "", "the regulator's figures need an overseer's token")
    name = request.path_params["name"]
    if name not in FIGURE_NAMES:
        raise Refusal("not_found", "name", f"no figure {name!r}", resource="figure", name=name)
    f = _filters(request)
    svc = request.app.state.service
    cats = _categories(request)
    export = await run_in_threadpool(export_of, svc.dd)
    if export.generation is None:
        raise Refusal("not_found", "export", "no analytics export yet", resource="figure", name=name)
    entry = await run_in_threadpool(_entry, request, export, f,
                                    cats[f["category"]] if f["category"] else None)
    png = await run_in_threadpool(PageData.png, entry, name)
    if png is None:
        raise Refusal("not_found", "name", f"figure {name} has no data", resource="figure", name=name)
    # the address names the generation (?g=): the same bytes until the next export
    return Response(png, media_type="image/png", headers={
        "cache-control": "private, max-age=3600", "vary": "Cookie, Authorization"})


async def login(request) -> Response:
    form = await _form(request)
    token = (form.get("token") or "").strip()
    if not token or len(token) > 512:
        raise invalid("token", "give the client token of a regulator or admin")
    if not _same_origin(request):
        raise Refusal("permission_denied", "origin", "a form of another site: refused")
    # an unknown token: Refusal -> 401 page, charged to the address and audited (app.on_refusal)
    caller = caller_of(request.app.state.service, f"Bearer {token}")
    admit(caller, "alerts", "HTTP RegulatorLogin")
    response = RedirectResponse(PATH, 303)
    value = session.issue(request.app.state.service, caller.name, PATH, COOKIE_AGE)
    response.set_cookie(COOKIE, value, max_age=COOKIE_AGE, path=PATH, httponly=True,
                        samesite="strict", secure=_secure(request))
    return response


async def logout(request) -> Response:
    caller, token = _credentials(request, "HTTP RegulatorLogout")
    form = await _form(request)
    if caller.authenticated:
        _checked_form(request, form, token)
        if token == request.cookies.get(COOKIE):   # every session of the client ends here
            await run_in_threadpool(session.logout, request.app.state.service, caller.name)
    response = RedirectResponse(PATH, 303)
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict", secure=_secure(request))
    return response


async def close(request) -> Response:
    caller, token = _overseer(request, "HTTP RegulatorClose")
    if not caller.authenticated:
        raise Refusal("unauthenticated", "", "closing an alert needs an overseer's token")
    form = await _form(request)
    _checked_form(request, form, token)
    alert_id = request.path_params["alert_id"]
    close_alert(request.app.state.service, caller, alert_id, note=form.get("note", ""),
                method="HTTP RegulatorClose", peer=request.state.client_host)
    # back to the page with its filters (only the filter keys of what the form sent)
    kept = [(k, v[0]) for k, v in parse_qs(form.get("back", "")[:512]).items() if k in FILTER_KEYS]
    return RedirectResponse(f"{PATH}?{urlencode([*kept, ('done', alert_id)])}", 303)


def _secure(request) -> bool:
    return request.url.scheme == "https" or request.app.state.base_url.startswith("https://")
