"""The GS1 Digital Link resolver (GS1-Conformant Resolver Standard) on the platform's domain.

A path that names a GS1 primary key (numeric, /01/..., or a legacy short name, /gtin/...,
after any custom path) is parsed by tracecode.digitallink; what the standard refuses is a
400 saying what is wrong where (a page for a browser, JSON otherwise). Then, by content
negotiation:

- ``?linkType=linkset`` (or ``all``), or ``Accept: application/linkset+json``: the RFC 9264
  linkset of the product's links (200, application/linkset+json);
- ``?linkType=gs1:pip`` (any GS1 link type): 307 to the link of that type in the best
  language (Accept-Language, or ``?lang=``), else 404 with the linkset;
- no linkType, a browser (Accept: text/html): the page of the code (it is verified and
  recorded as a public query) when the URI names one pack (a GTIN and a serial); a
  product, lot, place or shipment URI goes to its default link, or a 404 page saying
  there is no pack to verify; a client that is not a browser: 307 to the default link, or
  the linkset when there is none (linkTypeDefaultCanBeLinkset).

Links are the lot's own, then its product's of the other types (Service.links). Every answer
names the linkset and the canonical URI in a Link header. /.well-known/gs1resolver
describes the resolver.
"""
from __future__ import annotations

import json
from urllib.parse import quote

from starlette.responses import JSONResponse, RedirectResponse, Response

from ..app.refusal import Refusal
from ..digitallink import DigitalLinkError, choose, parse
from ..digitallink import linktypes, syntax
from ..digitallink.linkset import MEDIA_TYPE, linkset
from .errors import NO_STORE, error_response
from .ratelimit import charge_address

LINKSET_TYPES = frozenset({"linkset", "all"})
ALLOW = "GET, HEAD, OPTIONS"
GTIN = "01"
NOT_ONE_PACK = {
    "zh": "此链接只标识产品（或批次、地点、物流单元），不是某一件商品的追溯码，平台无法据此核验真伪。"
          "请扫描或输入包装上带序列号的追溯码。",
    "en": "This link names a product (or a lot, a place, a shipment), not one pack's trace code: there "
          "is nothing here to verify. Scan or type the code with its serial number from the pack.",
}


def names_a_key(path: str) -> bool:
    """Whether some segment of the path is a primary key (numeric or short name): only
    then is it the resolver's to answer (and refuse); other paths are plain 404s."""
    return any(syntax.ai_of(seg) in syntax.PRIMARY_KEYS for seg in path.split("/") if seg)


def _raw_target(request) -> str:
    scope = request.scope
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope["path"])
    qs = scope.get("query_string") or b""
    return f"{path}?{qs.decode('latin-1')}" if qs else path


def _is_browser(accept: str) -> bool:
    return "text/html" in accept


def _langs(request, dl) -> str:
    accept = request.headers.get("accept-language", "")
    lang = dl.params.get("lang")
    return f"{lang},{accept}" if lang else accept


def default_link(links, langs):
    """The link a resolver gives when no type is asked for: the gs1:defaultLink one in the
    best language, else among the links marked default (one per type and language) the
    best language's, gs1:pip first; else None."""
    chosen = choose(links, linktypes.DEFAULT_LINK, langs)
    if chosen is not None:
        return chosen
    defaults = [lk for lk in links if lk.default]
    if not defaults:
        return None
    types = [lk.link_type for lk in defaults]
    return choose(defaults, "gs1:pip" if "gs1:pip" in types else types[0], langs)


def _headers(anchor: str) -> dict:
    return {"link": f'<{anchor}?linkType=linkset>; rel="linkset"; type="{MEDIA_TYPE}", '
                    f'<{anchor}>; rel="owl:sameAs"',
            "vary": "Accept, Accept-Language", "cache-control": NO_STORE}


def _linkset_response(anchor: str, links, status: int = 200) -> Response:
    body = json.dumps(linkset(anchor, links), ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=_headers(anchor))


def _links(service, caller, dl) -> list:
    """The links of the URI's lot, then its product's of the types the lot has none of (a
    lot with a recall notice keeps its product's page). Only GTINs have links here."""
    if dl.primary[0] != GTIN:
        return []
    try:
        product = service.links(caller, dl.link_key())
        if dl.lot is None:
            return product
        lot = service.links(caller, dl.link_key(lot=True))
    except Refusal as refusal:
        if refusal.reason in ("invalid_argument", "unknown_scheme"):
            return []   # a key the links store cannot hold has no links
        raise
    own = {link.link_type for link in lot}
    return lot + [link for link in product if link.link_type not in own]


async def resolve(request) -> Response:
    """The route of every path the other routes do not take (see the module docstring)."""
    path = request.scope["path"]
    if not names_a_key(path):
        return error_response(request, 404, "there is no page at this address")
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"allow": ALLOW})
    charge_address(request)      # before the parse: refusing garbage costs a query too
    accept = request.headers.get("accept", "")
    browser = _is_browser(accept)
    try:
        dl = parse(_raw_target(request))
    except DigitalLinkError as exc:
        return error_response(request, 400, f"not a valid GS1 Digital Link: {exc}",
                              reason="invalid_digital_link", field="uri", as_json=not browser)
    state = request.app.state
    anchor = dl.uri(state.base_url)
    links = _links(state.service, request.state.caller, dl)
    link_type = dl.params.get("linkType", "").strip()
    if link_type in LINKSET_TYPES or (not link_type and MEDIA_TYPE in accept):
        return _linkset_response(anchor, links)
    langs = _langs(request, dl)
    if link_type:
        try:
            wanted = linktypes.normalise(link_type)
        except DigitalLinkError as exc:
            return error_response(request, 400, str(exc), reason="invalid_link_type",
                                  field="linkType", as_json=not browser)
        chosen = default_link(links, langs) if wanted == linktypes.DEFAULT_LINK \
            else choose(links, wanted, langs)
        if chosen is None:
            return _linkset_response(anchor, links, 404)
        return RedirectResponse(chosen.href, 307, headers=_headers(anchor))
    if not browser:
        chosen = default_link(links, langs)
        if chosen is None:
            return _linkset_response(anchor, links)
        return RedirectResponse(chosen.href, 307, headers=_headers(anchor))
    if dl.primary[0] != GTIN or dl.serial is None:
        # a product, a lot, a place or a shipment: nothing one pack's record could verify
        chosen = default_link(links, langs)
        if chosen is not None:
            return RedirectResponse(chosen.href, 307, headers=_headers(anchor))
        from .i18n import negotiate
        return error_response(request, 404, NOT_ONE_PACK[negotiate(request)], reason="not_found",
                              as_json=False, headers=_headers(anchor))
    from .pages import code_page
    response = await code_page(request, dl.element_string())
    response.headers["link"] = _headers(anchor)["link"]
    response.headers["vary"] = "Accept, Accept-Language, Cookie, Authorization"
    return response


def description(base_url: str, settings) -> dict:
    """/.well-known/gs1resolver: the resolver description file (its JSON schema is the
    standard's description-file-schema)."""
    return {
        "name": settings.resolver_name,
        "resolverRoot": base_url.rstrip("/"),
        "supportedPrimaryKeys": ["all"],
        "supportedLinkType": [{"namespace": linktypes.VOCABULARY, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": True,
        "supportedContextValuesEnumerated": [],
    }


def well_known(request) -> Response:
    return JSONResponse(request.app.state.resolver_description,
                        headers={"cache-control": "max-age=3600"})
