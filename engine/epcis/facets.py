"""What the query parameters beyond the head's columns test, drawn once from an event at
capture (`facets_of`), so a store filters on a small JSON value and never decodes the event:

    ilmd  {field name: [value texts]}   top-level ilmd fields     EQ_ILMD_{name}, EXISTS_ILMD_{name}
    ext   {field name: [value texts]}   top-level extension fields (prefixed JSON-LD keys)
                                                                  EQ_{name}, EXISTS_{name}
    ilmdi, exti  the same of the fields nested at any depth inside top-level ilmd / extension
          fields (`inner_fields`)                                 EQ_INNER_ILMD_{name}, EQ_INNER_{name}...
    q     [quantities], qmin, qmax      every quantityElement's quantity   EQ_/GT_/GE_/LT_/LE_quantity
    err   {t: declarationTime, r: reason, c: [correctiveEventIDs]}
                                        GE_/LT_errorDeclarationTime, EQ_errorReason, EQ_correctiveEventID
    rp, bl  the GLN ("(414)" + 13 digits) of an SGLN readPoint / bizLocation   WD_readPoint, WD_bizLocation
    tid   {transformationID: [id]}                                EQ_transformationID
    pd    {set: [dispositions], unset: [...]} (bare CBV words)     EQ_persistentDisposition_set / _unset
    sensor {name: [value texts]} of every sensorElement (`sensor_facets`): the attributes of
          its metadata and reports under their own names (a deviceID in either), `type` as its
          bare word, each reading as value_{uom} in every unit of its dimension (units.py),
          extension fields as SENSORELEMENT_ / SENSORMETADATA_ / SENSORREPORT_{name} (those nested
          inside them as INNER_SENSORREPORT_{name}...), and
          sensorElement (no value) when there is one   EQ_type, GE_value_CEL, EXISTS_sensorElement...

A field is named as the event wrote it ("example:batch"), as its expanded IRI
("http://ns.example.com/epcis/batch", the prefix read from the document's or the event's
@context, or GS1's context for cbvmda, gs1...), and in the standard's namespace#name form
("http://ns.example.com/epcis#batch"). A value is its text; numbers in one canonical text
(5, 5.0 and 5e0 are "5"), booleans "true" / "false"; an object or list of objects names the
field (EXISTS_) but has no value to compare. Texts holding NUL or lone surrogates, and
those over MAX_CHARS, are left out (no store can index them all: PostgreSQL's jsonb refuses
them): such a value is stored with its event but not found by EQ_, and a query naming
one is refused (`kept`, app/epcis_params.py), never answered empty. Every value of a field
is kept (a list of any length: the document's size limit bounds it, as it does the event).

>>> f = facets_of({"ilmd": {"example:batch": "XYZ", "cbvmda:lotNumber": 7},
...                 "quantityList": [{"epcClass": "urn:x", "quantity": 2.5}]},
...                [{"example": "http://ns.example.com/epcis/"}])
>>> f["ilmd"]["http://ns.example.com/epcis#batch"], f["ilmd"]["urn:epcglobal:cbv:mda#lotNumber"], f["q"]
(['XYZ'], ['7'], [2.5])
"""
from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from .cbv import vocab

VERSION = 3   # of what facets_of draws: a store draws every event's again when it changes (3: sensor, INNER_)
MAX_CHARS = 256            # of one value text (and field name) kept for EQ_: the query side refuses longer
GS1_PREFIXES = {"epcis": "https://ref.gs1.org/epcis/", "cbv": "https://ref.gs1.org/cbv/",
                "cbvmda": "urn:epcglobal:cbv:mda:", "gs1": "https://gs1.org/voc/",
                "dcterms": "http://purl.org/dc/terms/"}   # GS1's epcis-context.jsonld
QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


def number_text(value) -> str | None:
    """The canonical text of a number (None if it is not one): 5, 5.0 and "5e0" are "5".

    >>> number_text(5.0), number_text("2.50"), number_text("abc"), number_text(True)
    ('5', '2.5', None, None)
    """
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(x):
        return None
    return str(int(x)) if x.is_integer() and abs(x) < 1e16 else repr(x)


def _clean(text: str) -> str | None:
    if len(text) > MAX_CHARS or "\x00" in text or any(0xD800 <= ord(c) < 0xE000 for c in text):
        return None
    return text


# GT_/GE_/LT_/LE_ILMD_: the value texts that compare as numbers or as date-times. One pattern
# for both stores (PostgreSQL's ~ reads it too), so a text is comparable in each or in neither.
NUMBER_PATTERN = r"^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]{1,3})?$"
TIME_PATTERN = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
                r"(:[0-5][0-9]([.][0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
_NUMBER, _TIME = re.compile(NUMBER_PATTERN), re.compile(TIME_PATTERN)


def comparable(text, kind: str):
    """A value text as a number (kind "n": a Decimal) or a date-time with its offset ("t":
    seconds since the epoch); None when it is not one.

    >>> comparable("2.50", "n"), comparable("2024-01-01T00:00:00Z", "t"), comparable("2024-02-30T00:00Z", "t")
    (Decimal('2.50'), 1704067200.0, None)
    """
    if not isinstance(text, str):
        return None
    if kind == "n":
        return Decimal(text) if _NUMBER.match(text) else None
    if not _TIME.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def kept(text: str) -> bool:
    """Whether a value text (or field name) is one the facets keep, so EQ_ can find it.

    >>> kept("XYZ"), kept("x" * (MAX_CHARS + 1)), kept("a\\x00b")
    (True, False, False)
    """
    return isinstance(text, str) and _clean(text) is not None


def value_texts(value) -> list[str]:
    """The texts a field's value is compared as (a list: each item)."""
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        if isinstance(v, bool):
            t = "true" if v else "false"
        elif isinstance(v, (int, float)):
            t = number_text(v)
        elif isinstance(v, str):
            t = _clean(v)
        else:
            t = None   # an object: named, not compared
        if t is not None:
            out.append(t)
    return list(dict.fromkeys(out))   # each once, in order (a set's work: long lists stay linear)


def prefixes(*contexts) -> dict:
    """{prefix: IRI} of JSON-LD contexts (a URL, a dict or a list of them), GS1's first."""
    out = dict(GS1_PREFIXES)
    stack = list(contexts)
    while stack:
        c = stack.pop(0)
        if isinstance(c, list):
            stack[:0] = c
        elif isinstance(c, dict):
            out.update({k: v for k, v in c.items() if isinstance(k, str) and isinstance(v, str)
                        and not k.startswith("@") and ":" not in k})
    return out


def vocabs(*contexts) -> list[str]:
    """The @vocab IRIs of JSON-LD contexts (a bare key not defined as a term expands under one).

    >>> vocabs(["https://ref.gs1.org/x.jsonld", {"@vocab": "https://ns.example.com/"}])
    ['https://ns.example.com/']
    """
    out, stack = [], list(contexts)
    while stack:
        c = stack.pop(0)
        if isinstance(c, list):
            stack[:0] = c
        elif isinstance(c, dict) and isinstance(c.get("@vocab"), str):
            out.append(c["@vocab"])
    return out


def names_of(key: str, known: dict) -> list[str]:
    """A field's names: as written, its expanded IRI, and namespace#name.

    >>> names_of("example:batch", {"example": "http://ns.example.com/epcis/"})
    ['example:batch', 'http://ns.example.com/epcis/batch', 'http://ns.example.com/epcis#batch']
    """
    out = [key]
    prefix, colon, local = key.partition(":")
    iri = known.get(prefix) if colon and not local.startswith("//") else None
    if iri:
        out.append(iri + local)
        ns = iri.rstrip("/#:")
        if ns:
            out.append(f"{ns}#{local}")
    return [n for n in dict.fromkeys(out) if _clean(n) is not None]


def iris_of(key: str, known: dict) -> set[str]:
    """Every name a key may stand for once its context is applied: names_of's, and the IRI
    a bare term is defined as ({"alert": "https://ns.example.com/epcis/alert"}).

    >>> sorted(iris_of("x", {"x": "https://ns.example.com/epcis/alert"}))
    ['https://ns.example.com/epcis#alert', 'https://ns.example.com/epcis/alert', 'x']
    """
    out = set(names_of(key, known)) if isinstance(key, str) else set()
    term = known.get(key) if isinstance(key, str) and ":" not in key else None
    if isinstance(term, str):
        out.add(term)
        ns, sep, local = term.rstrip("/#").rpartition("/")
        if sep and local:
            out.add(f"{ns}#{local}")
    return out


def _fields(obj: dict, known: dict, only_prefixed: bool) -> dict:
    out: dict = {}
    for key, value in obj.items():
        if not isinstance(key, str) or key.startswith("@") or (only_prefixed and ":" not in key):
            continue
        texts = value_texts(value)
        _merge(out, {name: texts for name in names_of(key, known)})
    return out


def _merge(out: dict, more: dict) -> None:
    for name, texts in more.items():
        had = out.get(name)
        out[name] = texts[:] if had is None else list(dict.fromkeys(had + texts))


def inner_fields(obj: dict, known: dict, only_prefixed: bool) -> dict:
    """The fields nested at any depth inside obj's top-level fields (those only_prefixed
    names, for an event's extensions), for the INNER_ parameters: {name: [value texts]}, each
    name as names_of gives it.

    >>> inner_fields({"example:grade": {"example:class": "A", "example:more": [{"example:n": 2}]},
    ...               "example:flat": 1}, {}, True)
    {'example:class': ['A'], 'example:more': [], 'example:n': ['2']}
    """
    from collections import deque
    out: dict = {}
    todo = deque(v for k, v in obj.items()
                 if isinstance(k, str) and not k.startswith("@") and (not only_prefixed or ":" in k))
    while todo:   # breadth first, in document order; the document's depth limit bounds it
        v = todo.popleft()
        if isinstance(v, list):
            todo.extend(v)
        elif isinstance(v, dict):
            _merge(out, _fields(v, known, only_prefixed=False))
            todo.extend(x for k, x in v.items() if isinstance(x, (dict, list)) and isinstance(k, str)
                        and not k.startswith("@"))
    return out


def _gln(uri) -> str | None:
    if isinstance(uri, dict):
        uri = uri.get("id")
    if not isinstance(uri, str) or not ("sgln" in uri or "/414/" in uri):
        return None
    return _gln_of(uri)


@lru_cache(maxsize=4096)   # a document's events share a few read points: each parsed once
def _gln_of(uri: str) -> str | None:
    from .epc import to_code
    from .errors import EpcisError
    try:
        code = to_code(uri)
    except EpcisError:
        return None
    return code[:18] if code.startswith("(414)") and len(code) >= 18 else None


def gln_of_parent(uri: str) -> str | None:
    """The GLN a WD_ value names when it is a GLN itself (an SGLN with extension 0, or a
    Digital Link without 254): its sub-locations are its descendants. None otherwise.

    >>> gln_of_parent("urn:epc:id:sgln:0614141.07346.0"), gln_of_parent("urn:epc:id:sgln:0614141.07346.12")
    ('(414)0614141073467', None)
    """
    g = _gln(uri)
    from .epc import to_code
    return g if g is not None and to_code(uri) == g else None


def _items(value) -> list:
    return value if isinstance(value, list) else []


SENSOR_ATTRIBUTES = ("deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules", "microorganism",
                     "chemicalSubstance", "coordinateReferenceSystem", "exception", "stringValue", "booleanValue",
                     "hexBinaryValue", "uriValue")
SENSOR_TIMES = ("time", "startTime", "endTime")
SENSOR_READINGS = ("value", "minValue", "maxValue", "meanValue", "sDev", "percValue")   # in the report's uom
SENSOR_BARE = ("sDev", "percRank", "percValue")   # also compared without a uom (GE_sDev, GE_percRank...)
_GS1_VOC = ("gs1:", "https://gs1.org/voc/", "http://gs1.org/voc/")


def measurement_type(text: str) -> str:
    """A sensor report's type as the query compares it: a GS1 MeasurementType as its bare word
    (the standard's query values are bare words; XML writes gs1:Temperature), others as given.

    >>> measurement_type("gs1:Temperature"), measurement_type("https://gs1.org/voc/Mass"), measurement_type("urn:x:y")
    ('Temperature', 'Mass', 'urn:x:y')
    """
    for prefix in _GS1_VOC:
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix):]
    return text


def sensor_text(name: str, text: str) -> str:
    """A sensor attribute's value text in the one form captures and queries compare."""
    if name == "type":
        return measurement_type(text)
    if name == "hexBinaryValue":
        return text.upper()
    return text


def sensor_facets(elements, known: dict) -> dict:
    """The `sensor` facet of an event's sensorElementList (module doc); {} when it has none.

    >>> f = sensor_facets([{"sensorMetadata": {"deviceID": "urn:epc:id:giai:4000001.111"},
    ...                     "sensorReport": [{"type": "gs1:Temperature", "value": 26.0, "uom": "CEL"}]}], {})
    >>> f["type"], f["deviceID"], f["value_CEL"], f["value_KEL"], f["sensorElement"]
    (['Temperature'], ['urn:epc:id:giai:4000001.111'], ['26'], ['299.15'], [])
    """
    from .units import same_in_all
    out: dict = {}

    def add(name: str, texts: list) -> None:   # an attribute or reading: named only with a value
        if texts:
            _merge(out, {name: texts})

    def extensions(level: str, obj: dict) -> None:   # an object's field is named (EXISTS_) with no value
        _merge(out, {level + n: t for n, t in _fields(obj, known, only_prefixed=True).items()})
        _merge(out, {"INNER_" + level + n: t for n, t in inner_fields(obj, known, only_prefixed=True).items()})

    for el in _items(elements):
        if not isinstance(el, dict):
            continue
        out.setdefault("sensorElement", [])
        extensions("SENSORELEMENT_", {k: v for k, v in el.items() if k not in ("sensorMetadata", "sensorReport")})
        meta = el.get("sensorMetadata")
        reports = [r for r in _items(el.get("sensorReport")) if isinstance(r, dict)]
        for level, obj in ([("SENSORMETADATA_", meta)] if isinstance(meta, dict) else []) + \
                          [("SENSORREPORT_", r) for r in reports]:
            for name in ("type", *SENSOR_ATTRIBUTES, *SENSOR_TIMES):
                v = obj.get(name)
                if isinstance(v, (str, bool)):
                    add(name, [sensor_text(name, t) for t in value_texts(v)])
            extensions(level, obj)
        for r in reports:
            uom = r.get("uom")
            for name in (*SENSOR_READINGS, "percRank"):
                text = number_text(r.get(name))
                if text is None:
                    continue
                if name in SENSOR_BARE:
                    add(name, [text])
                if isinstance(uom, str) and _clean(uom) and name != "percRank":
                    for unit, t in same_in_all(uom, text, spread=name == "sDev").items():
                        add(f"{name}_{unit}", [t])
    return out


def facets_of(event: dict, context=None) -> dict:
    """The facets of one event (module doc); {} for an event with none."""
    if not isinstance(event, dict):
        return {}
    known = prefixes(context, event.get("@context"))
    out: dict = {}
    ilmd = event.get("ilmd")
    if isinstance(ilmd, dict):
        out["ilmd"] = _fields(ilmd, known, only_prefixed=False)
        inner = inner_fields(ilmd, known, only_prefixed=False)
        if inner:
            out["ilmdi"] = inner
    ext = _fields(event, known, only_prefixed=True)
    if ext:
        out["ext"] = ext
        inner = inner_fields(event, known, only_prefixed=True)
        if inner:
            out["exti"] = inner
    qs = []
    for role in QUANTITY_LISTS:
        for el in _items(event.get(role)):
            q = el.get("quantity") if isinstance(el, dict) else None
            if isinstance(q, (int, float)) and not isinstance(q, bool) and math.isfinite(q) and float(q) not in qs:
                qs.append(float(q))
    if qs:
        out.update(q=sorted(qs), qmin=min(qs), qmax=max(qs))
    d = event.get("errorDeclaration")
    if isinstance(d, dict):
        from .errors import EpcisError
        t = d.get("declarationTime")
        try:
            from datetime import datetime
            when = datetime.fromisoformat(t.strip()) if isinstance(t, str) else None
            t = when.timestamp() if when is not None and when.tzinfo is not None else None
        except (ValueError, EpcisError):
            t = None
        reason = vocab(d.get("reason"))
        out["err"] = {"t": t, "r": _clean(reason) if reason else None,
                      "c": value_texts([i for i in _items(d.get("correctiveEventIDs")) if isinstance(i, str)])}
    for field, short in (("readPoint", "rp"), ("bizLocation", "bl")):
        g = _gln(event.get(field))
        if g is not None:
            out[short] = g
    tid = value_texts(event["transformationID"]) if isinstance(event.get("transformationID"), str) else []
    if tid:
        out["tid"] = {"transformationID": tid}
    sensor = sensor_facets(event.get("sensorElementList"), known)
    if sensor:
        out["sensor"] = sensor
    pd = event.get("persistentDisposition")
    if isinstance(pd, dict):
        words = {k: value_texts([vocab(v) for v in _items(pd.get(k)) if isinstance(v, str)]) for k in ("set", "unset")}
        if any(words.values()):
            out["pd"] = {k: v for k, v in words.items() if v}
    return out
