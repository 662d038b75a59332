"""Links, link types and RFC 9264 linksets (tracecode.digitallink.links, linktypes, linkset)."""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings, strategies as st

from tracecode.digitallink import DigitalLinkError, Link, choose, linkset as ls, linktypes, validate
from tracecode.digitallink.links import MAX_LINKS, normalise_lang

ANCHOR = "https://trace.example.gov.cn/01/09506000134352"


# -- link types ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["pip", "gs1:pip", "https://gs1.org/voc/pip", "http://gs1.org/voc/pip",
                                  " GS1:PIP ", "https://www.gs1.org/voc/pip"])
def test_link_type_spellings(text):
    assert linktypes.normalise(text) == "gs1:pip"


@pytest.mark.parametrize("text", ["", "gs1:", "nothing", "gs1:linkset", "all", "https://example.com/voc/pip",
                                  "pipx", None])
def test_unknown_link_types_refused(text):
    with pytest.raises(DigitalLinkError, match="is not a GS1 link type"):
        linktypes.normalise(text)


def test_vocabulary():
    for name in ("gs1:pip", "gs1:certificationInfo", "gs1:recallStatus", "gs1:epcis",
                 "gs1:productSustainabilityInfo", "gs1:defaultLink", "gs1:epil", "gs1:smpc"):
        assert name in linktypes.LINK_TYPES
    for name, uri in linktypes.LINK_TYPES.items():
        assert uri == "https://gs1.org/voc/" + name[4:]
        assert linktypes.normalise(uri) == name


# -- Link and validate -------------------------------------------------------------------------

def test_dict_round_trip_and_linkset_spelling():
    link = Link("gs1:pip", "https://example.com/p", "产品信息", ("zh-CN", "zh"), "text/html", True)
    assert Link.from_dict(link.to_dict()) == link
    assert json.loads(json.dumps(link.to_dict())) == link.to_dict()
    theirs = Link.from_dict({"linkType": "pip", "href": "https://example.com/p", "hreflang": "en",
                             "type": "text/html"})
    assert theirs == Link("pip", "https://example.com/p", lang=("en",), media_type="text/html")
    assert validate([theirs])[0].link_type == "gs1:pip"
    nulls = Link.from_dict({"link_type": "pip", "href": "https://example.com/p", "title": None, "lang": None,
                            "media_type": None, "default": None})
    assert nulls == Link("pip", "https://example.com/p")


@pytest.mark.parametrize("d, message", [
    ("gs1:pip", "a link is a JSON object"),
    ({"link_type": "gs1:pip", "href": 5}, "href is text"),
    ({"link_type": "gs1:pip", "href": "https://a.b", "lang": "en,zh".split(",") + [3]}, "lang is a list"),
    ({"link_type": "gs1:pip", "href": "https://a.b", "lang": {"en": 1}}, "lang is a list"),
    ({"link_type": "gs1:pip", "href": "https://a.b", "default": "yes"}, "default is true or false"),
])
def test_from_dict_refusals(d, message):
    with pytest.raises(DigitalLinkError, match=re.escape(message)):
        Link.from_dict(d)


def test_validate_normalises():
    out = validate([{"link_type": "https://gs1.org/voc/recallStatus", "href": " https://example.com/r ",
                     "title": " Recall ", "lang": ["en", "EN", "zh-CN"], "media_type": "Text/HTML"}])
    assert out == [Link("gs1:recallStatus", "https://example.com/r", "Recall", ("en", "zh-CN"), "text/html")]
    # non-ASCII in the path is percent-encoded: Link headers are ASCII
    assert validate([Link("pip", "https://example.com/产品?q=药")])[0].href == \
        "https://example.com/%E4%BA%A7%E5%93%81?q=%E8%8D%AF"
    assert validate([]) == []



@pytest.mark.parametrize("tag, canonical", [
    ("ZH-cn", "zh-CN"), ("zh-CN", "zh-CN"), ("EN", "en"), ("zh-hant-tw", "zh-Hant-TW"),
    ("ZH-HANS", "zh-Hans"), ("es-419", "es-419"), ("sr-latn-RS", "sr-Latn-RS"),
    ("de-CH-X-PhoneBk", "de-CH-x-phonebk"), ("en-a-BBB-ccc", "en-a-bbb-ccc"), ("yue-HK", "yue-HK"),
    ("sl-ROZAJ", "sl-rozaj"),   # a variant (5-8 characters) is lower case
])
def test_language_tags_take_their_bcp47_case(tag, canonical):
    assert normalise_lang(tag) == canonical
    assert validate([Link("pip", "https://example.com/", lang=(tag,))])[0].lang == (canonical,)


def test_one_language_in_two_cases_is_one_language():
    a = Link("pip", "https://example.com/a", lang=("ZH-cn",), default=True)
    b = Link("pip", "https://example.com/b", lang=("zh-CN",), default=True)
    with pytest.raises(DigitalLinkError, match="both the default for language zh-CN"):
        validate([a, b])
    assert validate([Link("pip", "https://example.com/a", lang=("ZH-cn", "zh-CN", "en"))])[0].lang == \
        ("zh-CN", "en")


@pytest.mark.parametrize("d, name", [
    ({"link_type": "pip", "href": "https://a.b", "extra": 1}, "extra"),
    ({"link_type": "pip", "href": "https://a.b", "Href": "https://c.d"}, "Href"),
    ({"link_type": "pip", "href": "https://a.b", "languages": ["en"]}, "languages"),
])
def test_unknown_fields_are_refused_by_name(d, name):
    with pytest.raises(DigitalLinkError, match=f"a link has no field {name!r}" + r" \(its fields: link_type"):
        Link.from_dict(d)

@pytest.mark.parametrize("link, message", [
    (Link("gs1:pip", "javascript:alert(1)"), "is not an http(s) URL with a host"),
    (Link("gs1:pip", "ftp://example.com/x"), "is not an http(s) URL with a host"),
    (Link("gs1:pip", "data:text/html,<b>x</b>"), "is not an http(s) URL with a host"),
    (Link("gs1:pip", "https:///path"), "is not an http(s) URL with a host"),
    (Link("gs1:pip", "/relative"), "is not an http(s) URL with a host"),
    (Link("gs1:pip", "https://example.com/a b"), "is not an http(s) URL with a host"),
    (Link("gs1:pip", 'https://example.com/"><script>'), "is not an http(s) URL with a host"),
    (Link("gs1:pip", "https://example.com/\r\nSet-Cookie: x"), "is not an http(s) URL with a host"),
    (Link("gs1:pip", "https://example.com:99999/"), "is not an http(s) URL with a host"),
    (Link("gs1:pip", "https://user:pw@example.com/"), "carries a user name or password"),
    (Link("gs1:pip", "https://例子.中国/"), "punycode"),
    (Link("gs1:pip", "https://example.com/" + "a" * 2048), "href is longer than 2048 characters"),
    (Link("gs1:pip", "https://example.com/", title="t" * 201), "more than 200 characters"),
    (Link("gs1:pip", "https://example.com/", title="a\nb"), "control characters"),
    (Link("gs1:pip", "https://example.com/", lang=("english",)), "'english' is not a BCP 47 language tag"),
    (Link("gs1:pip", "https://example.com/", lang=("zh_CN",)), "is not a BCP 47 language tag"),
    (Link("gs1:pip", "https://example.com/", lang=("en",) * 17), "more than 16 languages"),
    (Link("gs1:pip", "https://example.com/", media_type="html"), "'html' is not a media type"),
    (Link("gs1:nope", "https://example.com/"), "link 1: 'gs1:nope' is not a GS1 link type"),
])
def test_validate_refusals(link, message):
    with pytest.raises(DigitalLinkError, match=re.escape(message)):
        validate([link])


def test_validate_list_rules():
    a = Link("gs1:pip", "https://example.com/a", lang=("en",), default=True)
    with pytest.raises(DigitalLinkError, match="links 1 and 2 are both the default for language en"):
        validate([a, Link("pip", "https://example.com/b", lang=("EN", "fr"), default=True)])
    with pytest.raises(DigitalLinkError, match="both the default for no language"):
        validate([Link("pip", "https://a.example/", default=True), Link("pip", "https://b.example/", default=True)])
    # one default per type and language: other languages and other types may have theirs
    validate([a, Link("pip", "https://example.com/z", lang=("zh",), default=True),
              Link("gs1:epil", "https://example.com/e", lang=("en",), default=True),
              Link("pip", "https://example.com/n", default=True)])
    with pytest.raises(DigitalLinkError, match="link 2 \\(gs1:pip\\) repeats link 1"):
        validate([a, Link("pip", "https://example.com/a", lang=("en",))])
    with pytest.raises(DigitalLinkError, match=f"at most {MAX_LINKS} per key"):
        validate([Link("pip", f"https://example.com/{i}") for i in range(MAX_LINKS + 1)])
    for bad in ("pip", {"link_type": "pip"}, 5, b"x"):
        with pytest.raises(DigitalLinkError, match="links are a list"):
            validate(bad)


# -- choose: the resolver's rule ---------------------------------------------------------------

LINKS = validate([
    Link("gs1:pip", "https://example.com/en", lang=("en",)),
    Link("gs1:pip", "https://example.com/zh", lang=("zh-CN",), default=True),
    Link("gs1:pip", "https://example.com/de-at", lang=("de-AT",)),
    Link("gs1:epil", "https://example.com/epil-fr", lang=("fr",)),
    Link("gs1:epil", "https://example.com/epil", ),
    Link("gs1:certificationInfo", "https://example.com/cert-ja", lang=("ja",)),
    Link("gs1:recallStatus", "https://example.com/r1", lang=("en",)),
    Link("gs1:recallStatus", "https://example.com/r2", lang=("fr",)),
])


@pytest.mark.parametrize("link_type, langs, href", [
    ("gs1:pip", ["en"], "https://example.com/en"),
    ("pip", ["zh-CN"], "https://example.com/zh"),
    ("pip", ["zh"], "https://example.com/zh"),                  # same primary language
    ("pip", ["de-DE", "en"], "https://example.com/de-at"),      # German before English, as asked
    ("pip", ["fr", "ja"], "https://example.com/zh"),            # nothing in either: the default
    ("pip", [], "https://example.com/zh"),
    ("pip", "fr;q=1, en;q=0.5", "https://example.com/en"),      # Accept-Language, by q
    ("pip", "en;q=0, zh-TW;q=0.9", "https://example.com/zh"),   # q=0: not acceptable
    ("pip", "*", "https://example.com/zh"),
    ("pip", "en;q=bad", "https://example.com/zh"),              # an unreadable q is 0
    ("gs1:epil", ["fr"], "https://example.com/epil-fr"),
    ("gs1:epil", ["en"], "https://example.com/epil"),           # no default: the language-neutral link
    ("gs1:certificationInfo", ["en"], "https://example.com/cert-ja"),   # the type's only link
    ("gs1:recallStatus", ["fr"], "https://example.com/r2"),
    ("gs1:recallStatus", ["de"], None),                         # two, none neutral or default
    ("gs1:epcis", ["en"], None),
])
def test_choose(link_type, langs, href):
    got = choose(LINKS, link_type, langs)
    assert (got.href if got else None) == href


def test_choose_unknown_type():
    with pytest.raises(DigitalLinkError):
        choose(LINKS, "gs1:bogus", ["en"])


# -- RFC 9264 linksets ---------------------------------------------------------------------------

_RELATION_NAME = re.compile(r"^[a-z][a-z0-9.-]*$")    # RFC 8288 3.3 registered relation types


def check_rfc9264(doc: dict) -> None:
    """The JSON linkset structure of RFC 9264 section 4.2: one member "linkset", an array of
    link context objects; each has an "anchor" and link relation members (registered names
    or absolute URIs) whose values are arrays of target objects; a target object has an
    "href" and target attributes: "hreflang" an array of strings, "title", "type" and
    "media" strings, "title*" an array of {value, language} objects, extensions arrays."""
    assert isinstance(doc, dict) and list(doc) == ["linkset"]
    assert isinstance(doc["linkset"], list) and doc["linkset"]
    for context in doc["linkset"]:
        assert isinstance(context, dict)
        assert isinstance(context.get("anchor"), str)
        for rel, targets in context.items():
            if rel == "anchor":
                continue
            assert _RELATION_NAME.match(rel) or (urlsplit(rel).scheme and urlsplit(rel).netloc), rel
            assert isinstance(targets, list) and targets, rel
            for t in targets:
                assert isinstance(t, dict) and isinstance(t.get("href"), str)
                for name, value in t.items():
                    if name == "href":
                        continue
                    if name == "hreflang":
                        assert isinstance(value, list) and all(isinstance(x, str) for x in value) and value
                    elif name in ("title", "type", "media"):
                        assert isinstance(value, str)
                    elif name.endswith("*"):
                        assert isinstance(value, list)
                        assert all(isinstance(x, dict) and "value" in x for x in value)
                    else:
                        assert isinstance(value, list), name   # extension target attributes: arrays
    assert json.loads(json.dumps(doc)) == doc


def test_linkset_structure():
    doc = ls.linkset(ANCHOR, LINKS)
    check_rfc9264(doc)
    ctx = doc["linkset"][0]
    assert ctx["anchor"] == ANCHOR
    assert [t["href"] for t in ctx["https://gs1.org/voc/pip"]] == \
        ["https://example.com/en", "https://example.com/zh", "https://example.com/de-at"]
    assert ctx["https://gs1.org/voc/pip"][1] == {"href": "https://example.com/zh", "hreflang": ["zh-CN"]}
    # the pip default is also the defaultLink (what a resolver answers without a linkType)
    assert ctx["https://gs1.org/voc/defaultLink"] == [{"href": "https://example.com/zh", "hreflang": ["zh-CN"]}]
    assert ls.MEDIA_TYPE == "application/linkset+json"


def test_linkset_explicit_default_link_and_empty():
    links = validate([Link("gs1:defaultLink", "https://example.com/home"),
                      Link("gs1:pip", "https://example.com/p", default=True)])
    ctx = ls.linkset(ANCHOR, links)["linkset"][0]
    assert ctx["https://gs1.org/voc/defaultLink"] == [{"href": "https://example.com/home"}]
    empty = ls.linkset(ANCHOR, [])
    assert empty == {"linkset": [{"anchor": ANCHOR}]}


_links = st.builds(
    Link,
    link_type=st.sampled_from(sorted(linktypes.LINK_TYPES)),
    href=st.from_regex(r"https://[a-z]{1,10}\.example/[a-z0-9/]{0,20}", fullmatch=True),
    title=st.text(st.characters(min_codepoint=32, exclude_categories=("Cs",)), max_size=30),
    lang=st.lists(st.sampled_from(["en", "zh", "zh-CN", "fr", "de-AT"]), max_size=3, unique=True).map(tuple),
    media_type=st.sampled_from(["", "text/html", "application/pdf"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_links, max_size=12))
def test_linkset_structure_generated(links):
    unique = {(lk.link_type, lk.href, tuple(sorted(lk.lang))): lk for lk in links}   # repeats are refused
    links = validate(list(unique.values()))
    doc = ls.linkset(ANCHOR, links)
    check_rfc9264(doc)
    listed = sum(len(v) for k, v in doc["linkset"][0].items() if k != "anchor")
    assert listed == len(links)              # no default: each link once
    header = ls.link_header(links)
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert header.count("<https://") == len(links)


def test_link_header_is_bounded():
    links = validate([Link("pip", f"https://example.com/{i:03d}/" + "x" * 100) for i in range(100)])
    header = ls.link_header(links, max_bytes=2000)
    assert len(header) <= 2000 and header.count("<https://") == len(header.split(", <"))


def test_pure_logic_no_http():
    """tracecode.digitallink imports no HTTP or gRPC stack (the web adapter imports it)."""
    import subprocess
    import sys
    code = ("import sys, tracecode.digitallink, tracecode.digitallink.linkset;"
            "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx', 'grpc', 'tracecode.web', 'tracecode.v1')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
