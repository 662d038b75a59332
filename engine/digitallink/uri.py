"""GS1 Digital Link URIs (URI Syntax 1.x) to DigitalLink, and back to the canonical URI.

>>> dl = parse("https://example.com/shop/gtin/9506000134352/lot/ABC%2F1/?17=261231&linkType=gs1:pip")
>>> dl.primary, dl.qualifiers, dl.attributes, dl.params
(('01', '09506000134352'), (('10', 'ABC/1'),), (('17', '261231'),), {'linkType': 'gs1:pip'})
>>> dl.element_string()
'(01)09506000134352(10)ABC/1(17)261231'
>>> dl.uri("https://trace.example.gov.cn/")
'https://trace.example.gov.cn/01/09506000134352/10/ABC%2F1?17=261231'
>>> dl.link_key(), dl.link_key(lot=True)
('01/09506000134352', '01/09506000134352/10/ABC/1')
>>> parse("/01/09506000134352/21/12/10/ABC")
Traceback (most recent call last):
    ...
tracecode.digitallink.uri.DigitalLinkError: /10/ABC: qualifier 10 (BATCH/LOT) must come before 21 (SERIAL): ...
>>> try:
...     parse("/01/0950600013435")
... except DigitalLinkError as e:
...     print(e)
/01/0950600013435: GTIN 0950600013435 (13 digits, read as GTIN-13) has a wrong check digit (5; it should be 9)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_to_bytes

from ..errors import TracecodeError
from . import syntax

MAX_URI = 4096            # bytes: as the scan parser's bound; far above any real label's URI
MAX_SEGMENTS = 64
MAX_PARAMS = 32
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class DigitalLinkError(TracecodeError, ValueError):
    """A Digital Link URI the standard refuses; the message says what and where."""


@dataclass(frozen=True)
class DigitalLink:
    """A parsed GS1 Digital Link: the primary key, its qualifiers in path order, the data
    attributes (sorted by AI, so two spellings of one link compare equal) and the other
    query parameters (linkType, context, lang...: not part of the identity, not hashed)."""
    primary: tuple[str, str]
    qualifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    params: dict[str, str] = field(default_factory=dict, hash=False)

    def element_string(self) -> str:
        """The GS1 element string in its human-readable form, "(01)...(21)...": primary
        key, qualifiers, attributes (a value holding "(" makes that form ambiguous; the
        pairs themselves are in primary, qualifiers and attributes)."""
        return "".join(f"({ai}){value}" for ai, value in self._pairs())

    def _pairs(self):
        yield self.primary
        yield from self.qualifiers
        yield from self.attributes

    def _path(self, pairs) -> str:
        return "/".join(f"{ai}/{quote(value, safe='')}" for ai, value in pairs)

    def uri(self, base: str) -> str:
        """The canonical URI on ``base``: numeric AIs, qualifiers in order, attributes by
        AI, values percent-encoded, no other parameters."""
        out = f"{base.rstrip('/')}/{self._path((self.primary, *self.qualifiers))}"
        if self.attributes:
            out += "?" + "&".join(f"{ai}={quote(value, safe='')}" for ai, value in self.attributes)
        return out

    def product_level(self) -> DigitalLink:
        """The primary key alone (a GTIN keeps its consumer product variant, 22)."""
        keep = tuple(q for q in self.qualifiers if self.primary[0] == "01" and q[0] == "22")
        return DigitalLink(self.primary, keep)

    def link_key(self, lot: bool = False) -> str:
        """The key links are stored under (tracecode.app.links' form): the primary key
        ("01/09506000134352"), with lot=True and a lot "01/09506000134352/10/ABC". Values
        as they are, not percent-encoded, as `tracecode links` takes them; a consumer
        product variant (22) has its GTIN's links."""
        key = f"{self.primary[0]}/{self.primary[1]}"
        if lot and self.lot is not None:
            key += f"/10/{self.lot}"
        return key

    @property
    def lot(self) -> str | None:
        return next((v for ai, v in self.qualifiers if ai == "10"), None)

    @property
    def serial(self) -> str | None:
        return next((v for ai, v in self.qualifiers if ai == "21"), None)


def _decode(text: str, where: str) -> str:
    """Strict percent-decoding: a stray % or bytes that are not UTF-8 are refused."""
    if "%" not in text:
        return text
    if _PCT.search(text):
        raise DigitalLinkError(f"{where}: '%' must start a percent-encoding (%XX)")
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise DigitalLinkError(f"{where}: the percent-encoded bytes are not UTF-8") from None


def _name(ai: str) -> str:
    return f"{syntax.title(ai)} ({ai})"


def _alternatives(key: str) -> str:
    alts = [", ".join(a) for a in syntax.PRIMARY_KEYS[key] if a]
    if not alts:
        return f"{_name(key)} takes no qualifiers"
    return f"{_name(key)} takes {' in that order, or '.join(alts)}" + (" in that order" if len(alts) == 1 else "")


def _qualifies(key: str, ai: str | None) -> bool:
    return any(ai in alt for alt in syntax.PRIMARY_KEYS[key])


def _misplaced(key: str, ai: str, raw: str) -> str:
    """The one sentence for a key qualifier outside its place (before its key, in the query):
    the URI syntax has qualifiers as path elements after the key, the query data attributes."""
    return (f"a key qualifier must follow its key in the path (/{key}/<{syntax.title(key)}>/{ai}/{raw})")


def _check_custom_path(segs: list[str], k: int) -> None:
    """A custom path may precede the key, but not end in a qualifier of that key (/21/S/01/<GTIN>):
    read as a custom path it would be dropped, and the serial with it."""
    if k < 2:
        return
    key, ai = _ai(segs[k]), _ai(segs[k - 2])
    if ai is not None and _qualifies(key, ai):
        where = "/" + "/".join(segs[k - 2:k + 2])
        raise DigitalLinkError(f"{where}: {_name(ai)} stands before {_name(key)}: "
                               + _misplaced(key, ai, segs[k - 1]))


def _check_order(key: str, found: list[tuple[str, str, str]]) -> None:
    """The qualifiers must be an ordered subsequence of one of the key's sequences."""
    alts = syntax.PRIMARY_KEYS[key]
    seen: dict[str, str] = {}
    for ai, _, where in found:
        if ai in seen:
            raise DigitalLinkError(f"{where}: {_name(ai)} appears twice in the path")
        if not any(ai in alt for alt in alts):
            raise DigitalLinkError(f"{where}: {_name(ai)} is not a qualifier of {_name(key)}; "
                                   + _alternatives(key))
        seen[ai] = where
    order = [ai for ai, _, _ in found]
    for alt in alts:
        idx = [alt.index(ai) if ai in alt else -1 for ai in order]
        if -1 not in idx and idx == sorted(idx):
            return
    for alt in alts:   # all in one sequence: then an order fault
        if all(ai in alt for ai in order):
            for (a, _, _), (b, _, where_b) in zip(found, found[1:]):
                if alt.index(a) > alt.index(b):
                    raise DigitalLinkError(f"{where_b}: qualifier {b} ({syntax.title(b)}) must come before "
                                           f"{a} ({syntax.title(a)}): " + _alternatives(key))
    raise DigitalLinkError(f"{found[-1][2]}: qualifiers {', '.join(order)} cannot be combined: "
                           + _alternatives(key))


def _value(ai: str, raw: str, where: str) -> str:
    return _checked(ai, _decode(raw, where), where)


def _checked(ai: str, value: str, where: str) -> str:
    if not isinstance(value, str):
        raise DigitalLinkError(f"{where}: {_name(ai)} is text, not {type(value).__name__}")
    try:
        return syntax.check_value(ai, value)
    except syntax.ValueFault as exc:
        raise DigitalLinkError(f"{where}: {exc}") from None


def _split(text: str) -> tuple[str, str]:
    """(path, query) of a full URI on any domain, or of a path with its query."""
    if not isinstance(text, str):
        raise DigitalLinkError("a Digital Link URI is text")
    if len(text) > MAX_URI or len(text.encode("utf-8", "surrogatepass")) > MAX_URI:
        raise DigitalLinkError(f"the URI is longer than {MAX_URI} bytes: no GS1 Digital Link is that long")
    text = text.strip()
    m = _SCHEME.match(text)
    if m:
        rest = text[m.end():]
        cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
        text = rest[cut:]
    text = text.partition("#")[0]
    path, _, query = text.partition("?")
    return path, query


def _segments(path: str) -> list[str]:
    segs = path.split("/")
    if segs and segs[0] == "":
        segs = segs[1:]
    if segs and segs[-1] == "":
        segs = segs[:-1]          # one trailing slash is allowed
    if not segs:
        raise DigitalLinkError("the path is empty: a GS1 Digital Link names a primary key, as /01/<GTIN>")
    if len(segs) > MAX_SEGMENTS:
        raise DigitalLinkError(f"the path has more than {MAX_SEGMENTS} segments")
    for i, s in enumerate(segs):
        if s == "":
            raise DigitalLinkError(f"/{'/'.join(segs[:i])}//: empty path segment")
    return segs


def _ai(segment: str) -> str | None:
    """The AI a key or qualifier segment names; percent-encoded digits and letters are the
    same segment (RFC 3986 6.2.2.2: /%30%31/ is /01/)."""
    if "%" in segment:
        try:
            segment = _decode(segment, segment)
        except DigitalLinkError:
            return None
    return syntax.ai_of(segment)


def _find_key(segs: list[str]) -> int:
    """Index of the primary key segment. From the right, pairs of qualifier/value until a
    primary key (the standard's rule: whatever precedes the key is the custom path)."""
    i = len(segs)
    while i >= 2:
        ai = _ai(segs[i - 2])
        if ai in syntax.PRIMARY_KEYS:
            return i - 2
        if ai not in syntax.QUALIFIERS:
            break
        i -= 2
    # no key: say why, reading left to right from the first segment naming a primary key
    start = next((j for j, seg in enumerate(segs) if _ai(seg) in syntax.PRIMARY_KEYS), None)
    if start is not None:
        _explain(segs, start)
    key = segs[i - 2] if i >= 2 else segs[0]
    if key.isalpha() and key.islower():
        raise DigitalLinkError(f"/{key}: {key!r} is not a GS1 Digital Link short name "
                               f"(gtin, sscc, gln, lot, ser, ...) nor a primary key AI")
    if re.fullmatch(r"\d{2,4}", key):
        raise DigitalLinkError(f"/{key}: {key} is not a GS1 Application Identifier")
    shown = "/" + "/".join(segs[-2:])
    raise DigitalLinkError(f"{shown}: no GS1 primary key in the path (such as /01/<GTIN>, /00/<SSCC>, "
                           f"/414/<GLN>)")


def _explain(segs: list[str], start: int) -> None:
    """Raise the fault of the key/value pairs from segs[start] (a primary key) on."""
    key = _ai(segs[start])
    for j in range(start, len(segs), 2):
        name = segs[j]
        ai = _ai(name)
        if j + 1 >= len(segs) and ai is not None:
            raise DigitalLinkError(f"/{name}: {syntax.title(ai)} has no value")
        where = f"/{name}/{segs[j + 1]}" if j + 1 < len(segs) else f"/{name}"
        if j == start:
            continue
        if ai is None:
            if name.isalpha() and name.islower():
                raise DigitalLinkError(f"/{name}: {name!r} is not a GS1 Digital Link short name "
                                       f"(gtin, sscc, gln, lot, ser, ...) nor an AI")
            raise DigitalLinkError(f"/{name}: {name} is not a GS1 Application Identifier")
        if ai in syntax.QUALIFIERS:
            continue
        if ai in syntax.PRIMARY_KEYS:
            raise DigitalLinkError(f"{where}: {_name(ai)} is a second primary key after {_name(key)}; "
                                   + _alternatives(key))
        if ai in syntax.ATTRIBUTES:
            raise DigitalLinkError(f"{where}: {_name(ai)} is a data attribute, not a key or qualifier: it "
                                   f"goes in the query (?{ai}=...)")
        raise DigitalLinkError(f"{where}: {_name(ai)} is not a GS1 Digital Link key or qualifier")


def _query(query: str, primary: str, taken: set[str]) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
    attributes: dict[str, str] = {}
    params: dict[str, str] = {}
    pieces = [p for p in query.split("&") if p]
    if len(pieces) > MAX_PARAMS:
        raise DigitalLinkError(f"?{query[:40]}...: more than {MAX_PARAMS} query parameters")
    for piece in pieces:
        raw_key, eq, raw_value = piece.partition("=")
        where = f"?{piece}"
        key = _decode(raw_key, where)
        if not key:
            raise DigitalLinkError(f"{where}: a query parameter without a name")
        ai = syntax.ai_of(key)
        if ai is None and re.fullmatch(r"\d+", key):
            raise DigitalLinkError(f"{where}: {key} is not a GS1 Application Identifier")
        if ai is None:
            if key not in params:            # the first of a repeated parameter counts
                params[key] = _decode(raw_value, where)
            continue
        if ai in taken:
            raise DigitalLinkError(f"{where}: {_name(ai)} is already in the path")
        if _qualifies(primary, ai):   # a lot is an attribute only where no key of the path takes it (00 + 02)
            raise DigitalLinkError(f"{where}: {_name(ai)} qualifies {_name(primary)}: "
                                   + _misplaced(primary, ai, raw_value) + ", not stand in the query")
        if ai in attributes:
            raise DigitalLinkError(f"{where}: {_name(ai)} appears twice in the query")
        if ai not in syntax.ATTRIBUTES:
            raise DigitalLinkError(f"{where}: {_name(ai)} is not allowed as a data attribute")
        if not eq:
            raise DigitalLinkError(f"{where}: {_name(ai)} has no value")
        attributes[ai] = _value(ai, raw_value, where)
    return tuple(sorted(attributes.items())), params


def parse(path_and_query: str) -> DigitalLink:
    """A GS1 Digital Link from a full URI on any domain, or a path with its query.

    Accepts numeric AIs and legacy short names, a custom path before the primary key, one
    trailing slash, percent-encoded values, GTIN-8/12/13 (padded to 14). Refuses what the
    URI syntax refuses: DigitalLinkError saying what is wrong and where. Key qualifiers are
    path elements after their key (GS1 Digital Link URI syntax: the query holds data attributes
    only), so a qualifier of the key ending the custom path (/21/S/01/<GTIN>) or in the
    query (?10=L with 01) is refused, not dropped; a lot stays a data attribute where no
    key of the path takes it (/00/<SSCC>?02=<GTIN>&37=12&10=L).
    """
    path, query = _split(path_and_query)
    segs = _segments(path)
    k = _find_key(segs)
    _check_custom_path(segs, k)
    key = _ai(segs[k])
    where = f"/{segs[k]}/{segs[k + 1]}"
    try:
        primary = (key, _value(key, segs[k + 1], where))
    except DigitalLinkError:
        # "/01/<GTIN>/10/01/21": a value that names a key; the first key explains better
        first = next(j for j, seg in enumerate(segs) if _ai(seg) in syntax.PRIMARY_KEYS)
        if first < k:
            _explain(segs, first)
        raise
    found = []
    for j in range(k + 2, len(segs), 2):
        ai = _ai(segs[j])
        found.append((ai, segs[j + 1], f"/{segs[j]}/{segs[j + 1]}"))
    if found:
        _check_order(key, found)
    qualifiers = tuple((ai, _value(ai, raw, where)) for ai, raw, where in found)
    attributes, params = _query(query, key, {key, *(ai for ai, _ in qualifiers)})
    if attributes:
        _check_associations(primary, qualifiers, attributes)
    return DigitalLink(primary, qualifiers, attributes, params)


def _check_associations(primary, qualifiers, attributes) -> None:
    """The data attributes must fit the key (GS1's req= and ex= rules: no expiry without a
    trade item, not two net weights); the key's own exclusions too. The path's qualifiers
    were checked by the key's qualifier sequences."""
    present = [primary[0], *(ai for ai, _ in qualifiers), *(ai for ai, _ in attributes)]
    fault = syntax.association_fault(primary[0], present, requirements=False)
    if fault is not None:
        raise DigitalLinkError(f"/{primary[0]}/{primary[1]}: {fault}")
    for ai, value in attributes:
        fault = syntax.association_fault(ai, present)
        if fault is not None:
            raise DigitalLinkError(f"?{ai}={quote(value, safe='')}: {fault}")


def from_ais(ais) -> DigitalLink:
    """The Digital Link of GS1 element strings (a dict or (AI, value) pairs, as the scan
    parser's ``Scan.ais``): the first primary key, the qualifiers of its longest fitting
    sequence in the path, everything else a data attribute; checked as parse checks.

    >>> from_ais({"01": "09506000134352", "17": "261231", "21": "S1", "10": "L1"}).uri("https://t.example")
    'https://t.example/01/09506000134352/10/L1/21/S1?17=261231'
    >>> from_ais({"17": "261231"})
    Traceback (most recent call last):
        ...
    tracecode.digitallink.uri.DigitalLinkError: (17)261231: no GS1 primary key (01 GTIN, 00 SSCC, 414 GLN, ...)
    """
    pairs = list(ais.items() if isinstance(ais, dict) else ais)
    if len(pairs) > MAX_SEGMENTS:
        raise DigitalLinkError(f"more than {MAX_SEGMENTS} element strings")
    shown = "".join(f"({ai}){value}" for ai, value in pairs)[:80]
    seen = set()
    for ai, _ in pairs:
        if ai not in syntax.AI_TABLE:
            raise DigitalLinkError(f"({ai}): {ai} is not a GS1 Application Identifier")
        if ai in seen:
            raise DigitalLinkError(f"({ai}): {_name(ai)} appears twice")
        seen.add(ai)
    key = next((ai for ai, _ in pairs if ai in syntax.PRIMARY_KEYS), None)
    if key is None:
        raise DigitalLinkError(f"{shown}: no GS1 primary key (01 GTIN, 00 SSCC, 414 GLN, ...)")
    values = dict(pairs)
    alt = max(syntax.PRIMARY_KEYS[key], key=lambda a: sum(q in values for q in a))
    primary = (key, _checked(key, values[key], f"({key})"))
    qualifiers = tuple((q, _checked(q, values[q], f"({q})")) for q in alt if q in values)
    taken = {key, *alt}
    attributes = []
    for ai, value in pairs:
        if ai in taken:
            continue
        if ai not in syntax.ATTRIBUTES:
            raise DigitalLinkError(f"({ai}): {_name(ai)} cannot be in a Digital Link with {_name(key)} "
                                   f"(not one of its qualifiers, nor a data attribute)")
        attributes.append((ai, _checked(ai, value, f"({ai})")))
    attributes = tuple(sorted(attributes))
    if attributes:
        _check_associations(primary, qualifiers, attributes)
    return DigitalLink(primary, qualifiers, attributes)
