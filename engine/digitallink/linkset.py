"""RFC 9264 linksets (application/linkset+json) of a product's links.

>>> from .links import Link
>>> doc = linkset("https://trace.example.gov.cn/01/09506000134352",
...               [Link("gs1:pip", "https://example.com/p", "Product", ("en",), "text/html", True)])
>>> doc["linkset"][0]["anchor"]
'https://trace.example.gov.cn/01/09506000134352'
>>> doc["linkset"][0]["https://gs1.org/voc/pip"]
[{'href': 'https://example.com/p', 'title': 'Product', 'hreflang': ['en'], 'type': 'text/html'}]
>>> doc["linkset"][0]["https://gs1.org/voc/defaultLink"][0]["href"]
'https://example.com/p'
"""
from __future__ import annotations

from . import linktypes

MEDIA_TYPE = "application/linkset+json"


def _target(link) -> dict:
    """An RFC 9264 target object: href, and the target attributes that are set (hreflang
    is an array, section 4.2.4.1; title and type are strings)."""
    t = {"href": link.href}
    if link.title:
        t["title"] = link.title
    if link.lang:
        t["hreflang"] = list(link.lang)
    if link.media_type:
        t["type"] = link.media_type
    return t


def linkset(anchor: str, links) -> dict:
    """{"linkset": [{"anchor": anchor, "<relation type URI>": [target, ...], ...}]}: the link
    relations as GS1 vocabulary URIs (RFC 9264 4.2.2 wants extension relation types as
    URIs), in first-seen order. A default link is listed under its own type and also under
    gs1:defaultLink when it is of the gs1:pip type or there is no explicit defaultLink."""
    context: dict = {"anchor": anchor}
    for link in links:
        context.setdefault(linktypes.uri(link.link_type), []).append(_target(link))
    default_uri = linktypes.LINK_TYPES[linktypes.DEFAULT_LINK]
    if default_uri not in context:
        chosen = next((lk for lk in links if lk.default and lk.link_type == "gs1:pip"), None) \
            or next((lk for lk in links if lk.default), None)
        if chosen is not None:
            context[default_uri] = [_target(chosen)]
    return {"linkset": [context]}
