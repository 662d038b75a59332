"""RFC 9264 linksets (application/linkset+json) of a product's links.

>>> from tracecode.digitallink.links import Link
>>> doc = linkset("https://trace.example.gov.cn/01/09506000134352",
...               [Link("gs1:pip", "https://example.com/p", "Product", ("en",), "text/html", True)])
>>> doc["linkset"][0]["anchor"]
'https://trace.example.gov.cn/01/09506000134352'
>>> doc["linkset"][0]["https://gs1.org/voc/pip"]
[{'href': 'https://example.com/p', 'title': 'Product', 'hreflang': ['en'], 'type': 'text/html'}]
>>> doc["linkset"][0]["https://gs1.org/voc/defaultLink"][0]["href"]
'https://example.com/p'
>>> print(link_header([Link("gs1:pip", "https://example.com/p", 'Say "hi"', ("en",), "text/html"),
...                    Link("gs1:epil", "https://example.com/l", "说明书")]))
<https://example.com/p>; rel="https://gs1.org/voc/pip"; type="text/html"; hreflang="en"; title="Say \\"hi\\"",
<https://example.com/l>; rel="https://gs1.org/voc/epil"; title*=UTF-8''%E8%AF%B4%E6%98%8E%E4%B9%A6
"""
from __future__ import annotations

from urllib.parse import quote

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


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def link_header(links, max_bytes: int = 8192) -> str:
    """An RFC 8288 Link header value of the links (the GS1 resolver standard's HEAD and
    redirect answers carry one). Titles that are not ASCII go as title* (RFC 8187, UTF-8);
    links past ``max_bytes`` are left out (the linkset has them all). Link relation types
    as vocabulary URIs, as RFC 8288 3.3 wants for extension types (GS1's "gs1:pip" is a
    compact form of the same)."""
    out, size = [], 0
    for link in links:
        parts = [f"<{link.href}>", f'rel="{linktypes.uri(link.link_type)}"']
        if link.media_type:
            parts.append(f'type="{link.media_type}"')
        for tag in link.lang:
            parts.append(f'hreflang="{tag}"')
        if link.title:
            if link.title.isascii():
                parts.append(f"title={_quoted(link.title)}")
            else:
                parts.append("title*=UTF-8''" + quote(link.title, safe=""))
        item = "; ".join(parts)
        if size + len(item) + 2 > max_bytes:
            break
        out.append(item)
        size += len(item) + 2
    return ", ".join(out)
