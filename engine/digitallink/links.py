"""Links of a product: what a resolver redirects to, by link type and language.

>>> pip_en = Link("gs1:pip", "https://example.com/en", lang=("en",))
>>> pip_zh = Link("gs1:pip", "https://example.com/zh", lang=("zh-CN",), default=True)
>>> links = validate([pip_en, pip_zh.to_dict()])
>>> choose(links, "pip", ["zh"]).href, choose(links, "gs1:pip", "en-GB,en;q=0.8").href
('https://example.com/zh', 'https://example.com/en')
>>> choose(links, "gs1:pip", ["fr"]).href       # no French: the type's default
'https://example.com/zh'
>>> choose(links, "gs1:recallStatus", ["en"]) is None
True
>>> normalise_lang("ZH-hant-tw")          # BCP 47's case: one language is one tag
'zh-Hant-TW'
>>> validate([Link("gs1:pip", "javascript:alert(1)")])
Traceback (most recent call last):
    ...
tracecode.digitallink.uri.DigitalLinkError: link 1 (gs1:pip): href 'javascript:alert(1)' is not an http(s) URL...
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from . import linktypes
from .uri import DigitalLinkError

MAX_LINKS = 100
MAX_HREF = 2048
MAX_TITLE = 200
MAX_LANGS = 16
MAX_MEDIA_TYPE = 100
# BCP 47 in its common shape: language, then subtags of 1-8 letters or digits
_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
_FIELDS = ("link_type", "href", "title", "lang", "media_type", "default")
_LINKSET_FIELDS = ("linkType", "hreflang", "type")   # the same, as a linkset spells them
# characters that would break a Link header or an HTML attribute, or hide in a URL
_BAD_HREF = re.compile(r"[\x00-\x20\x7f\"<>\\^`{|}]")


@dataclass(frozen=True)
class Link:
    """One link: its GS1 link type ("gs1:pip"), target, title, BCP 47 languages, media type,
    and whether it is its type's default (the one given when no language matches)."""
    link_type: str
    href: str
    title: str = ""
    lang: tuple[str, ...] = ()
    media_type: str = ""
    default: bool = False

    @classmethod
    def from_dict(cls, d: dict) -> Link:
        """From tracecode's spelling (to_dict's keys) or the linkset's (linkType,
        hreflang, type); not validated (validate() does that)."""
        if not isinstance(d, dict):
            raise DigitalLinkError(f"a link is a JSON object, not {type(d).__name__}")
        unknown = next((k for k in d if k not in _FIELDS and k not in _LINKSET_FIELDS), None)
        if unknown is not None:   # a misspelt field would otherwise be dropped without a word
            raise DigitalLinkError(f"a link has no field {str(unknown)[:40]!r} (its fields: "
                                   f"{', '.join(_FIELDS)}; or {', '.join(_LINKSET_FIELDS)})")
        d = {k: v for k, v in d.items() if v is not None}   # JSON null: the field's default
        lang = d.get("lang", d.get("hreflang", ()))
        if isinstance(lang, str):
            lang = (lang,) if lang else ()
        if not isinstance(lang, (list, tuple)):
            raise DigitalLinkError("a link's lang is a list of BCP 47 language tags")
        default = d.get("default", False)
        if not isinstance(default, bool):
            raise DigitalLinkError("a link's default is true or false")
        fields = {"link_type": d.get("link_type", d.get("linkType", "")), "href": d.get("href", ""),
                  "title": d.get("title", ""), "media_type": d.get("media_type", d.get("type", ""))}
        for name, value in fields.items():
            if not isinstance(value, str):
                raise DigitalLinkError(f"a link's {name} is text, not {type(value).__name__}")
        if any(not isinstance(t, str) for t in lang):
            raise DigitalLinkError("a link's lang is a list of BCP 47 language tags (text)")
        return cls(lang=tuple(lang), default=default, **fields)

    def to_dict(self) -> dict:
        return {"link_type": self.link_type, "href": self.href, "title": self.title,
                "lang": list(self.lang), "media_type": self.media_type, "default": self.default}


def normalise_lang(tag: str) -> str:
    """A BCP 47 tag in its canonical case (RFC 5646 2.1.1): the language lower case, a
    script title case (Hant), a region upper case (CN; 419 as it is), all else lower case;
    after a singleton (x-, u-...) everything is lower case. Well-formedness is the caller's."""
    out = []
    for i, sub in enumerate(tag.split("-")):
        if i > 0 and len(out[-1]) == 1:   # the rest is an extension or private use
            return "-".join(out + [t.lower() for t in tag.split("-")[i:]])
        if i > 0 and len(sub) == 4 and sub.isalpha():
            sub = sub.title()
        elif i > 0 and len(sub) == 2 and sub.isalpha():
            sub = sub.upper()
        else:
            sub = sub.lower()
        out.append(sub)
    return "-".join(out)


def _one(n: int, link) -> Link:
    link = link if isinstance(link, Link) else Link.from_dict(link)
    try:
        link_type = linktypes.normalise(link.link_type)
    except DigitalLinkError as exc:
        raise DigitalLinkError(f"link {n}: {exc}") from None
    where = f"link {n} ({link_type})"
    href = link.href.strip()
    shown = href if len(href) <= 80 else href[:80] + "..."
    if len(href) > MAX_HREF:
        raise DigitalLinkError(f"{where}: href is longer than {MAX_HREF} characters")
    try:
        parts = urlsplit(href) if not _BAD_HREF.search(href) else None
        parts and parts.port   # noqa: B018 - a bad port raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise DigitalLinkError(f"{where}: href {shown!r} is not an http(s) URL with a host")
    if not parts.hostname.isascii():
        raise DigitalLinkError(f"{where}: href {shown!r}: write the host in its ASCII (punycode) form")
    if parts.username is not None or parts.password is not None:
        raise DigitalLinkError(f"{where}: href {shown!r} carries a user name or password")
    # non-ASCII in the path or query percent-encoded (UTF-8): Link headers are ASCII
    href = quote(href, safe="!#$%&'()*+,-./:;=?@[]~_")
    title = link.title.strip()
    if len(title) > MAX_TITLE or any(ord(ch) < 32 for ch in title):
        raise DigitalLinkError(f"{where}: the title has more than {MAX_TITLE} characters or control characters")
    if len(link.lang) > MAX_LANGS:
        raise DigitalLinkError(f"{where}: more than {MAX_LANGS} languages")
    langs = []
    for tag in link.lang:
        if not _LANG.match(tag):
            raise DigitalLinkError(f"{where}: {tag[:40]!r} is not a BCP 47 language tag (such as zh, zh-CN, en)")
        tag = normalise_lang(tag)
        if tag not in langs:
            langs.append(tag)
    media = link.media_type.strip()
    if media and (len(media) > MAX_MEDIA_TYPE or not _MEDIA_TYPE.match(media)):
        raise DigitalLinkError(f"{where}: {media[:40]!r} is not a media type (such as text/html)")
    return Link(link_type, href, title, tuple(langs), media.lower(), bool(link.default))


def validate(links) -> list[Link]:
    """Links (Link or dicts) checked and normalised: a known link type, an http(s) href,
    bounded sizes, BCP 47 languages, and at most one default per type and language."""
    if isinstance(links, (str, bytes, dict)) or not hasattr(links, "__iter__"):
        raise DigitalLinkError("links are a list of link objects")
    links = list(links)
    if len(links) > MAX_LINKS:
        raise DigitalLinkError(f"{len(links)} links: at most {MAX_LINKS} per key")
    out = [_one(n, link) for n, link in enumerate(links, 1)]
    seen: dict = {}
    defaults: dict = {}
    for n, link in enumerate(out, 1):
        langs = tuple(sorted(link.lang))
        same = (link.link_type, link.href, langs)
        if same in seen:
            raise DigitalLinkError(f"link {n} ({link.link_type}) repeats link {seen[same]}")
        seen[same] = n
        if link.default:
            for lang in langs or ("",):
                other = defaults.setdefault((link.link_type, lang), n)
                if other != n:
                    which = f"language {lang}" if lang else "no language"
                    raise DigitalLinkError(f"link {n} ({link.link_type}): links {other} and {n} are both the "
                                           f"default for {which}; a type has one default per language")
    return out


def _preferences(langs) -> list[str]:
    """Language tags in preference order, from a list or an Accept-Language value."""
    if langs is None:
        return []
    if isinstance(langs, str):
        ranked = []
        for i, item in enumerate(langs.split(",")[:32]):
            tag, _, params = item.strip().partition(";")
            q = 1.0
            for p in params.split(";"):
                name, _, value = p.strip().partition("=")
                if name.strip().lower() == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
            tag = tag.strip()
            if tag and tag != "*" and q > 0:
                ranked.append((-q, i, tag))
        return [t for _, _, t in sorted(ranked)]
    return [t for t in langs if isinstance(t, str) and t]


def choose(links, link_type: str, langs=()) -> Link | None:
    """The resolver's rule: the link of that type in the best language (``langs``: tags in
    preference order, or an Accept-Language value; an exact tag before a shared primary
    language), else that type's default (one without a language first), else the type's
    link without a language, else its only link, else None."""
    link_type = linktypes.normalise(link_type)
    of_type = [link for link in links if link.link_type == link_type]
    if not of_type:
        return None
    for want in _preferences(langs):
        want = want.lower()
        base = want.split("-")[0]
        exact = next((link for link in of_type if want in (t.lower() for t in link.lang)), None)
        if exact is not None:
            return exact
        near = next((link for link in of_type if base in (t.lower().split("-")[0] for t in link.lang)), None)
        if near is not None:
            return near
    defaults = [link for link in of_type if link.default]
    if defaults:
        return next((link for link in defaults if not link.lang), defaults[0])
    neutral = next((link for link in of_type if not link.lang), None)
    if neutral is not None:
        return neutral
    return of_type[0] if len(of_type) == 1 else None
