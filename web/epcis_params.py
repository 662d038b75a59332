"""The query parameters of the EPCIS 2.0 REST binding's `GET /events` (GS1's
epcis-rest-openapi.json, components/parameters), read into one mapping of typed values.

Lists are pipe-delimited (`style: pipeDelimited, explode: false`), a parameter given twice
adds to its list; times are RFC 3339 date-times with an offset (an event time without one
means nothing to compare with); a parameter the binding defines but this server does not
filter on is refused by name, never ignored (an ignored filter answers with too much).

>>> q = fields({"eventType": "ObjectEvent|AggregationEvent", "GE_eventTime": "2024-01-01T08:00:00+08:00"})
>>> q["event_types"], q["ge_event_time"]
(('ObjectEvent', 'AggregationEvent'), 1704067200.0)
>>> fields({"MATCH_parentID": "urn:epc:id:sscc:0614141.1234567890"})["epc_roles"]
('parent',)
>>> fields({"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-shipping|urn:epcglobal:cbv:bizstep:receiving"})["biz_steps"]
('shipping', 'receiving')
>>> fields({"perPage": "0"})
Traceback (most recent call last):
...
tracecode.app.refusal.Refusal: perPage must be a whole number from 1 to 1,000, not '0'
"""
from __future__ import annotations

from datetime import datetime

from ..app.refusal import Refusal

EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
DEFAULT_PER_PAGE = 30           # the binding's default
MAX_PER_PAGE = 1_000            # one page's events held and encoded at once
MAX_VALUES = 100                # values of one list parameter
MAX_VALUE_CHARS = 1_024         # of one value (a Digital Link URI is well under it)
MAX_TOKEN_CHARS = 512

# GS1 name -> (the field of the store's EpcisQuery, the kind of value)
PARAMETERS = {
    "eventType": ("event_types", "types"),
    "GE_eventTime": ("ge_event_time", "time"),
    "LT_eventTime": ("lt_event_time", "time"),
    "GE_recordTime": ("ge_record_time", "time"),
    "LT_recordTime": ("lt_record_time", "time"),
    "EQ_bizStep": ("biz_steps", "list"),
    "EQ_disposition": ("dispositions", "list"),
    "EQ_readPoint": ("read_points", "list"),
    "EQ_bizLocation": ("biz_locations", "list"),
    "MATCH_epc": ("epcs", "epcs"),
    "MATCH_parentID": ("epcs", "epcs"),
    "MATCH_inputEPC": ("epcs", "epcs"),
    "MATCH_outputEPC": ("epcs", "epcs"),
    "MATCH_anyEPC": ("epcs", "epcs"),
    "MATCH_epcClass": ("epcs", "epcs"),
}
# MATCH_ parameter -> the roles of the EPCs it matches (tracecode.store.port.EPC_ROLES)
EPC_ROLES = {
    "MATCH_epc": ("epc", "child"),                   # epcList or childEPCs
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "parent", "child", "input", "output"),
    "MATCH_epcClass": ("class",),
}
PAGING = ("perPage", "nextPageToken")


def _refuse(name: str, detail: str) -> Refusal:
    return Refusal("invalid_argument", name, detail)


def _values(name: str, raw: list) -> tuple:
    out = []
    for text in raw:
        for value in text.split("|"):
            value = value.strip()
            if not value:
                raise _refuse(name, f"{name} has an empty value (values are separated by |)")
            if len(value) > MAX_VALUE_CHARS:
                raise _refuse(name, f"a value of {name} is over {MAX_VALUE_CHARS:,} characters")
            if value not in out:
                out.append(value)
    if len(out) > MAX_VALUES:
        raise _refuse(name, f"{name} has {len(out):,} values; at most {MAX_VALUES}")
    return tuple(out)


def parse_time(name: str, text: str) -> datetime:
    """An RFC 3339 date-time with its offset (Z or ±hh:mm)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _refuse(name, f"{name} is not a date-time (2024-06-30T08:15:00+08:00): {text!r}") from None
    if when.tzinfo is None:
        raise _refuse(name, f"{name} needs its time-zone offset (Z or +08:00): {text!r}")
    return when


def _one(name: str, raw: list) -> str:
    if len(raw) != 1:
        raise _refuse(name, f"{name} is given {len(raw)} times; give it once")
    return raw[0]


def fields(params) -> dict:
    """The query named by `params` (a Starlette QueryParams, or any mapping of str or lists):
    {EpcisQuery field: value} for the filters given (times as seconds since the epoch),
    plus per_page and page_token."""
    multi = _multi(params)
    out: dict = {"per_page": DEFAULT_PER_PAGE, "page_token": None}
    unknown = sorted(n for n in multi if n not in PARAMETERS and n not in PAGING)
    if unknown:
        raise _refuse(unknown[0], f"this server does not filter on {unknown[0]!r} (it reads: "
                                  f"{', '.join([*PARAMETERS, *PAGING])})")
    matching = [n for n in multi if n in EPC_ROLES]
    if len(matching) > 1:
        raise _refuse(matching[1], f"one MATCH_ parameter per query here ({matching[0]} and {matching[1]} "
                                   "are given): query each and intersect")
    for name, raw in multi.items():
        if name == "perPage":
            text = _one(name, raw)
            if not text.isdigit() or not 1 <= int(text) <= MAX_PER_PAGE:
                raise _refuse(name, f"perPage must be a whole number from 1 to {MAX_PER_PAGE:,}, not {text!r}")
            out["per_page"] = int(text)
            continue
        if name == "nextPageToken":
            text = _one(name, raw)
            if not text or len(text) > MAX_TOKEN_CHARS:
                raise _refuse(name, "nextPageToken is empty or too long: give the token of the last "
                                    "page's Link header")
            out["page_token"] = text
            continue
        field, kind = PARAMETERS[name]
        if kind == "time":
            out[field] = parse_time(name, _one(name, raw)).timestamp()
            continue
        values = _values(name, raw)
        if kind == "types":
            bad = [v for v in values if v not in EVENT_TYPES and ":" not in v]
            if bad:
                raise _refuse(name, f"{bad[0]!r} is not an event type ({', '.join(EVENT_TYPES)}, "
                                    f"or an extension's URI)")
        if kind == "epcs":
            out["epc_roles"] = EPC_ROLES[name]
        if field in ("biz_steps", "dispositions"):   # any CBV spelling: its bare word, as JSON-LD writes it
            from ..epcis.cbv import vocab
            values = tuple(dict.fromkeys(vocab(v) for v in values))
        out[field] = values
    for low, high in (("GE_eventTime", "LT_eventTime"), ("GE_recordTime", "LT_recordTime")):
        if low in multi and high in multi and out[PARAMETERS[low][0]] >= out[PARAMETERS[high][0]]:
            raise _refuse(high, f"the time range is empty: {low} must be before {high}")
    return out


def parse(params):
    """(the store's EpcisQuery, page_token, per_page) of a request's query parameters."""
    from ..store.port import EpcisQuery
    found = fields(params)
    page_token, per_page = found.pop("page_token"), found.pop("per_page")
    return EpcisQuery(**found), page_token, per_page


def _multi(params) -> dict:
    if hasattr(params, "multi_items"):
        items = params.multi_items()
    else:
        items = [(k, v) for k, vs in dict(params).items() for v in (vs if isinstance(vs, (list, tuple)) else [vs])]
    multi: dict = {}
    for name, value in items:
        multi.setdefault(name, []).append(value)
    return multi


def query_string(params, page_token: str) -> str:
    """The same query with its nextPageToken replaced: the Link rel="next" of a page."""
    from urllib.parse import urlencode
    kept = [(k, v) for k, v in _multi_items(params) if k != "nextPageToken"]
    return urlencode([*kept, ("nextPageToken", page_token)], safe="|:/")


def _multi_items(params) -> list:
    return [(k, v) for k, vs in _multi(params).items() for v in vs]
