"""The pages a person sees: server-rendered HTML from the public answer (web/answer.py),
readable on a cheap phone without JavaScript, Chinese by default.

The app (web/app.py) routes to these: ``code_page`` for /c/{code} and resolved Digital
Links, ``home_page`` for / (its GET form sends ?code= or ?approval=), ``approval_page`` for
/approvals/{number}, ``error_page`` for every HTML error. Templates are compiled once, at
import; the stylesheet is served from /static (``mount_static(app)``).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tracecode import categories
from tracecode.app.caller import PUBLIC
from tracecode.app.refusal import Refusal

from . import i18n
from .answer import approval_answer, code_answer, code_kinds, regions_of

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC_DIR = HERE / "static"
STATIC_PATH = "/static"
COOKIE_AGE = 365 * 24 * 3600
MAX_QUERY_CHARS = 512            # a typed code or number; scans have their own limit after
QUERIED_COOKIE = "q"             # this browser queried the code of this path (scoped to it)
QUERIED_AGE = 24 * 3600
# link previews fetch a shared link to show a card: not a person's query (never recorded)
PREVIEW_AGENTS = ("whatsapp", "discordbot", "facebookexternalhit", "facebookcatalog", "slackbot",
                  "slack-imgproxy", "telegrambot", "twitterbot", "linkedinbot", "skypeuripreview",
                  "micromessenger/", "wechat", "mmwebsdk", "qqbot", "dingtalkbot", "feishu", "lark",
                  "googlebot", "bingbot", "baiduspider", "bytespider", "applebot", "embedly",
                  "pinterestbot", "redditbot", "vkshare", "iframely", "mastodon", "bot/", "preview")

ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                         trim_blocks=True, lstrip_blocks=True, auto_reload=False)
_CODE, _HOME, _APPROVAL, _ERROR = (ENV.get_template(f"{n}.html")
                                   for n in ("code", "home", "approval", "error"))
_STATIC_VERSION = str(int(max((p.stat().st_mtime for p in STATIC_DIR.glob("*")), default=0)))


def mount_static(app) -> None:
    """Serve web/static at /static (the page's stylesheet)."""
    app.router.routes.append(Mount(STATIC_PATH, app=StaticFiles(directory=STATIC_DIR), name="static"))


def http_status(refusal: Refusal) -> int:
    from .status import http_status as status   # the app's one table (web/status.py)
    return status(refusal)


def _caller(request):
    return getattr(request.state, "caller", None) or PUBLIC


def _service(request):
    return request.app.state.service


def _common(request, lang: str) -> dict:
    """What every template reads: the language, its words, the switch link."""
    other = i18n.text(lang, "site.switch_lang")
    # the same page in the other language (from the scope: no URL object built per request)
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    path = quote(request.scope.get("root_path", "") + request.scope["path"])
    switch_href = f"{path}?{urlencode([*params, ('lang', other)])}"
    table = regions_of(_service(request))
    chosen = table.find(request.query_params.get("place"))
    return {"lang": lang, "w": i18n.CATALOGS[lang], "t": lambda key, **kw: i18n.text(lang, key, **kw),
            "switch_href": switch_href, "static": STATIC_PATH,
            "static_version": _STATIC_VERSION, "caller": _caller(request),
            "regions": table.options(lang), "region": chosen.code if chosen else "",
            "region_options": region_options(table, lang, chosen.code if chosen else ""),
            "code_kinds": code_kinds(_service(request), lang)}


_OPTIONS: dict = {}


def region_options(table, lang: str, selected: str) -> Markup:
    """The region <select>'s options, rendered once per table and language (a few hundred:
    looping and escaping them was most of every page's render), the chosen one marked."""
    entry = _OPTIONS.get((id(table), lang))
    if entry is None or entry[0] is not table:
        html = "\n".join(f'    <option value="{escape(code)}">{escape(name)}</option>'
                         for code, name in table.options(lang))
        entry = _OPTIONS[(id(table), lang)] = (table, html)
    html = entry[1]
    if selected:
        html = html.replace(f'value="{escape(selected)}">', f'value="{escape(selected)}" selected>', 1)
    return Markup(html)


def _page(request, template, lang: str, http_status: int = 200, **context) -> HTMLResponse:
    html = template.render(**_common(request, lang), **context)
    response = HTMLResponse(html, status_code=http_status)
    response.headers["Cache-Control"] = "no-store"      # every answer records a query
    response.headers["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    response.headers["Vary"] = "Accept-Language, Cookie, Authorization"
    if i18n.known(request.query_params.get("lang")):   # the switch: remembered
        response.set_cookie(i18n.COOKIE, lang, max_age=COOKIE_AGE, samesite="lax")
    return response


def is_preview(request) -> bool:
    """A link-preview fetcher or a crawler (by its User-Agent), or a HEAD: answered, never
    recorded as a query. WeChat's in-app browser says "MicroMessenger" too: its preview
    fetch is told apart by having no Accept-Language (a person's browser sends one)."""
    if request.method == "HEAD":
        return True
    agent = (request.headers.get("user-agent") or "").lower()
    if not agent:
        return False
    if "micromessenger" in agent:
        return "accept-language" not in request.headers
    return any(name in agent for name in PREVIEW_AGENTS if name != "micromessenger/")


def _queried_path(request) -> str:
    """The page's path as a browser sends it (it leaves "(" and ")" of an element string
    as they are), never a ";" or "," that would end the cookie's attribute."""
    return quote(request.scope.get("root_path", "") + request.scope["path"], safe="/()!$&'*+=:@~")


async def code_page(request, scan) -> HTMLResponse:
    """The page of one code: the verdict banner, what the label and the registry say, the
    warnings. The query is recorded (place: ?place=, a region of the fixed table, else
    "public") unless it is a HEAD, a link preview, or this browser's reload of a code it
    queried (a cookie scoped to the page's path, a day); the product's limit is charged
    before anything is recorded."""
    lang = i18n.negotiate(request)
    from .ratelimit import charge_product   # the per-product limit, counted once the answer names it
    repeat = is_preview(request) or request.cookies.get(QUERIED_COOKIE) == "1"
    try:
        # on the event loop, as the JSON API's: an answer is ~0.1-0.2 ms of CPU over memory-
        # mapped reads, less than a hop to a thread and back (and the GIL handed over twice)
        answer = code_answer(_service(request), _caller(request), scan,
                             place=request.query_params.get("place"), lang=lang,
                             repeat=repeat, charge=lambda a: charge_product(request, a))
    except Refusal as refusal:
        return refusal_page(request, refusal, lang)
    words = i18n.CATALOGS[lang]
    unit = request.query_params.get("unit")   # a filling station asks: may I fill it?
    if unit and answer.get("section") is not None and len(unit) <= 200:
        cat = categories.get(answer["category"])
        answer["section"] = cat.section(_service(request), answer["code"], lang, unit=unit)
    response = _page(request, _CODE, lang, a=answer, facts=facts(answer, words),
                     batch_facts=batch_facts(answer.get("batch"), words))
    if not repeat and answer.get("found"):
        response.set_cookie(QUERIED_COOKIE, "1", max_age=QUERIED_AGE, path=_queried_path(request),
                            samesite="lax", httponly=True)
    return response


def facts(a: dict, words: dict) -> list:
    """The rows of the code's facts, (label, value, element id), those the answer has:
    built here, once, rather than by template macros (the page's render is per request)."""
    product, approval = a.get("product") or {}, a.get("approval") or {}
    first = a.get("first_scan_time")
    place = a.get("first_scan_place")
    count = a.get("scan_count")
    rows = (
        ("field.code", a.get("code"), "f-code"),
        ("field.product", (product.get("name") or a["category_title"]) if product else None, "f-product"),
        ("field.category", a["category_title"] if product.get("name") else None, None),
        ("field.dosage_form", product.get("dosage_form"), None),
        ("field.specification", product.get("specification"), None),
        ("field.company", a.get("company"), "f-company"),
        ("field.approval_number", approval.get("number"), "f-approval"),
        ("field.approval_validity", approval.get("validity"), "f-validity"),
        ("field.lot", a.get("lot"), "f-lot"),
        ("field.production_date", a.get("production_date"), "f-production"),
        ("field.expiry", a.get("expiry"), "f-expiry"),
        ("field.status", a.get("status_text"), "f-status"),
        ("field.scan_count", _times(a, words) if count else None, "f-count"),
        ("field.first_query", first[:10] + (f" · {place}" if place else "") if first else None, "f-first"),
    )
    return [(words[label], value, id_) for label, value, id_ in rows if value]


def _times(a: dict, words: dict) -> str:
    count = a["scan_count"]
    if a.get("scan_count_more"):
        return words["value.times"].format(count=words["value.more_than"].format(count=count))
    return words["value.times_one" if count == 1 else "value.times"].format(count=count)


def batch_facts(batch: dict | None, words: dict) -> list:
    """The batch record's rows for a caller who sees the product whole."""
    if not batch:
        return []
    rows = (("field.batch_id", batch["id"]), ("field.line", batch.get("line")),
            ("field.requester", batch.get("requester")), ("field.count", batch.get("count")),
            ("field.issued", batch.get("issued")))
    return [(words[label], value, None) for label, value in rows if value]


def refusal_page(request, refusal: Refusal, lang: str) -> HTMLResponse:
    """A refused query's page: why, in the reader's language (an unreadable scan by its
    fault, any other refusal by its reason), the engine's sentence under it as the
    technical detail."""
    fault = f"fault.{refusal.facts.get('fault')}"
    if refusal.reason == "unreadable_scan" and fault in i18n.ZH:
        message = i18n.text(lang, fault)
    else:
        subject = f"reason.{refusal.reason}.{refusal.field}"
        key = subject if subject in i18n.ZH else f"reason.{refusal.reason}"
        message = i18n.text(lang, key) if key in i18n.ZH else i18n.text(lang, "error.400")
    return error_page(request, http_status(refusal), message, detail=refusal.detail, words=True)


async def home_page(request) -> HTMLResponse | RedirectResponse:
    """The query box. Its GET form comes back here with ?code= or ?approval=: answered
    on the code's or the number's page, whose address a person can keep or share."""
    lang = i18n.negotiate(request)
    code = (request.query_params.get("code") or "").strip()
    number = (request.query_params.get("approval") or "").strip()
    if len(code) > MAX_QUERY_CHARS or len(number) > MAX_QUERY_CHARS:
        return error_page(request, 400, i18n.text(lang, "error.400"))
    if code:
        return await code_page(request, code)
    if number:
        return await approval_page(request, number)
    return _page(request, _HOME, lang)


async def approval_page(request, number) -> HTMLResponse:
    """The page of an approval or registration number: holder, products, validity."""
    lang = i18n.negotiate(request)
    try:
        answer = await run_in_threadpool(approval_answer, _service(request), _caller(request),
                                         number, lang=lang)
    except Refusal as refusal:
        return refusal_page(request, refusal, lang)
    return _page(request, _APPROVAL, lang, a=answer)


def error_page(request, status: int, message: str, *, detail: str | None = None,
               words: bool = False) -> HTMLResponse:
    """An HTML error page: the status, a sentence, the way back. Never a stack trace.
    `words`: the message is already in the reader's language (`detail`: a technical
    sentence under it); else it is the adapter's own sentence (English): a Chinese page
    says the status's words and keeps that sentence as the technical detail."""
    try:
        lang = i18n.negotiate(request)
    except Exception:   # noqa: BLE001 - a request too broken to read still gets its page
        lang = i18n.DEFAULT
    generic = f"error.{status}" if f"error.{status}" in i18n.ZH else \
        "error.500" if status >= 500 else "error.400"
    if not words and lang != "en" and not any("\u4e00" <= c <= "\u9fff" for c in message or ""):
        message, detail = i18n.text(lang, generic), detail or message
    return _page(request, _ERROR, lang, status, status=status, message=message, detail=detail,
                 generic=i18n.text(lang, generic))
