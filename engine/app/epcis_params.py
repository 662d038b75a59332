"""The query parameters of EPCIS 2.0's SimpleEventQuery (GS1's REST binding, components/
parameters of epcis-rest-openapi.json), read into the store's EpcisQuery: one table
(PARAMETERS, PREFIXED) that the HTTP binding, its OpenAPI document, named queries and the
gRPC QueryEpcisEvents all read, so each says the same about what is served.

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
>>> fields({"EQ_bizTransaction_urn:epcglobal:cbv:btt:po": "urn:epcglobal:cbv:bt:0614141000005:PO-7"})["refs"]
(('transaction', (('po', 'urn:epcglobal:cbv:bt:0614141000005:PO-7'),)),)
>>> fields({"orderBy": "eventTime"})["descending"]   # the binding's default direction: DESC
True
>>> fields({"perPage": "0"})
Traceback (most recent call last):
...
tracecode.app.refusal.Refusal: perPage must be a whole number from 1 to 1,000, not '0'
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ..epcis.facets import (MAX_CHARS as FACET_CHARS, SENSOR_BARE, SENSOR_READINGS, SENSOR_TIMES, comparable,
                            gln_of_parent, kept, number_text, sensor_text)
from .refusal import Refusal

EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
ACTIONS = ("ADD", "OBSERVE", "DELETE")
ORDER_FIELDS = ("eventTime", "recordTime")
DEFAULT_PER_PAGE = 30           # the binding's default
MAX_PER_PAGE = 1_000            # one page's events held and encoded at once
MAX_VALUES = 100                # values of one list parameter
MAX_VALUE_CHARS = 1_024         # of one value (a Digital Link URI is well under it)
MAX_TOKEN_CHARS = 512
MAX_COUNT = 1_000_000_000       # eventCountLimit
MAX_EVENT_COUNT = 10_000        # maxEventCount: a query is counted to one more than it before answering
QUANTITY_OPS = ("EQ", "GT", "GE", "LT", "LE")
QUANTITY_WORDS = {"EQ": "equal to", "GT": "greater than", "GE": "at least", "LT": "less than", "LE": "at most"}
UOM = re.compile(r"[A-Z0-9]{2,3}")   # a UN/CEFACT unit code, as GS1's JSON schema has uom
INNER_OPS = ("EQ", "EXISTS", *QUANTITY_OPS[1:])   # the EPCIS 2.0 INNER_ parameters' operators


@dataclass(frozen=True)
class Param:
    """One query parameter: the EpcisQuery field it sets (or "" for those read apart), the
    kind of its value, and what it means (the OpenAPI document's description)."""
    field: str
    kind: str       # time, list, types, actions, epcs, ids, exists, order, direction, count, max, page,
                    # token, quantity, within, facet (and the prefixed: refs, field)
    help: str


_TIME = "an RFC 3339 date-time with its offset (2024-06-30T08:15:00+08:00)"
PARAMETERS = {
    "eventType": Param("event_types", "types", "event types, |-separated: " + ", ".join(EVENT_TYPES)),
    "GE_eventTime": Param("ge_event_time", "time", "eventTime at or after " + _TIME),
    "LT_eventTime": Param("lt_event_time", "time", "eventTime before " + _TIME),
    "GE_recordTime": Param("ge_record_time", "time", "captured (recordTime) at or after " + _TIME),
    "LT_recordTime": Param("lt_record_time", "time", "captured (recordTime) before " + _TIME),
    "EQ_action": Param("actions", "actions", "ADD, OBSERVE or DELETE, |-separated"),
    "EQ_bizStep": Param("biz_steps", "list", "CBV bizSteps (shipping, or its URI), |-separated"),
    "EQ_disposition": Param("dispositions", "list", "CBV dispositions (in_transit, or its URI), |-separated"),
    "EQ_readPoint": Param("read_points", "list", "readPoint URIs (urn:epc:id:sgln:...), |-separated"),
    "EQ_bizLocation": Param("biz_locations", "list", "bizLocation URIs, |-separated"),
    "EQ_eventID": Param("event_ids", "ids", "eventIDs (as captured, or the GS1 event hash), |-separated"),
    "EXISTS_errorDeclaration": Param("declared", "exists", "error declarations only (the events declared "
                                                           "erroneous, as declared); no value"),
    "GE_errorDeclarationTime": Param("ge_declaration_time", "time", "error declarations whose declarationTime "
                                                                   "is at or after " + _TIME),
    "LT_errorDeclarationTime": Param("lt_declaration_time", "time", "error declarations whose declarationTime "
                                                                   "is before " + _TIME),
    "EQ_errorReason": Param("error_reasons", "list", "error declarations of these reasons (incorrect_data, or "
                                                     "its URI), |-separated"),
    "EQ_correctiveEventID": Param("corrective_ids", "list", "error declarations naming one of these "
                                                           "correctiveEventIDs, |-separated"),
    **{f"{op}_quantity": Param("quantity", "quantity", f"events with a quantityElement whose quantity is "
                                                       f"{word} the number given")
       for op, word in QUANTITY_WORDS.items()},
    "WD_readPoint": Param("rp", "within", "readPoint a GLN (an SGLN with extension 0, or a Digital Link "
                                          "without 254) or one of its sub-locations (SGLN extensions); "
                                          "no location master data is stored, so other URIs are refused"),
    "WD_bizLocation": Param("bl", "within", "bizLocation a GLN or one of its sub-locations, as WD_readPoint"),
    "EQ_transformationID": Param("tid/transformationID", "facet", "TransformationEvents of these "
                                                                  "transformationIDs, |-separated"),
    "EQ_persistentDisposition_set": Param("pd/set", "facet", "events whose persistentDisposition sets one of "
                                                             "these dispositions (any CBV spelling), |-separated"),
    "EQ_persistentDisposition_unset": Param("pd/unset", "facet", "events whose persistentDisposition unsets one "
                                                                 "of these dispositions, |-separated"),
    # sensor parameters (facets.sensor_facets): an attribute in the sensorMetadata or any sensorReport
    "EXISTS_sensorElement": Param("sensor/sensorElement", "sensor_exists", "events with a sensorElementList; "
                                                                         "no value"),
    **{f"EQ_{name}": Param(f"sensor/{name}", "sensor", f"events with a sensor {name} equal to one of these"
                                                       + (" (GS1 MeasurementType bare words, or URIs)" if name == "type"
                                                          else "") + ", |-separated")
       for name in ("type", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules",
                    "microorganism", "chemicalSubstance", "stringValue", "hexBinaryValue", "uriValue")},
    "EQ_booleanValue": Param("sensor/booleanValue", "sensor", "events with a sensor report whose booleanValue "
                                                             "is this (true or false)"),
    **{f"{op}_{name}": Param(f"sensor/{name}", "sensor_time", f"events with a sensor {name} "
                                                              f"{'at or after' if op == 'GE' else 'before'} " + _TIME)
       for name in SENSOR_TIMES for op in ("GE", "LT")},
    **{f"{op}_{name}": Param(f"sensor/{name}", "sensor_value", f"{op}_{name}: a sensor report's {name} in any unit "
                                                               f"(or {op}_{name}_{{uom}} for one unit) "
                                                               f"{QUANTITY_WORDS[op]} the number given")
       for name in SENSOR_BARE for op in QUANTITY_OPS},
    "MATCH_epc": Param("epcs", "epcs", "EPC URIs (|-separated) in epcList or childEPCs"),
    "MATCH_parentID": Param("epcs", "epcs", "EPC URIs of parentID"),
    "MATCH_inputEPC": Param("epcs", "epcs", "EPC URIs in inputEPCList"),
    "MATCH_outputEPC": Param("epcs", "epcs", "EPC URIs in outputEPCList"),
    "MATCH_anyEPC": Param("epcs", "epcs", "EPC URIs in any EPC field (epcList, parentID, childEPCs, inputs, outputs)"),
    "MATCH_epcClass": Param("epcs", "epcs", "EPC class URIs (LGTIN, urn:epc:idpat:sgtin...) in quantityList "
                                            "or childQuantityList"),
    "MATCH_inputEPCClass": Param("epcs", "epcs", "EPC class URIs in inputQuantityList"),
    "MATCH_outputEPCClass": Param("epcs", "epcs", "EPC class URIs in outputQuantityList"),
    "MATCH_anyEPCClass": Param("epcs", "epcs", "EPC class URIs in any quantity list"),
    "orderBy": Param("order_by", "order", "eventTime or recordTime: the order of the answer"),
    "orderDirection": Param("descending", "direction", "ASC or DESC (the default with orderBy)"),
    "eventCountLimit": Param("", "count", "at most this many events in all (over every page)"),
    "maxEventCount": Param("", "max", f"at most this many events in all (1 to {MAX_EVENT_COUNT:,}), else a 413 "
                                      "QueryTooLargeException; not with eventCountLimit"),
    "perPage": Param("", "page", f"events per page, 1 to {MAX_PER_PAGE:,} (default {DEFAULT_PER_PAGE})"),
    "nextPageToken": Param("", "token", "the token of the previous page's Link header"),
}
# parameters named by a prefix and a CBV type: EQ_bizTransaction_po=urn:...|urn:... (the type
# as its bare word or URI; the values are ids) -> the store's REF_ROLES
PREFIXED = {
    "EQ_bizTransaction_": Param("transaction", "refs", "EQ_bizTransaction_{type}: bizTransaction ids of that type "
                                                       "(po, inv, bol..., or the type's URI), |-separated"),
    "EQ_source_": Param("source", "refs", "EQ_source_{type}: source ids of that type (owning_party, "
                                          "possessing_party, location), |-separated"),
    "EQ_destination_": Param("destination", "refs", "EQ_destination_{type}: destination ids of that type, "
                                                    "|-separated"),
    "EQ_ILMD_": Param("ilmd", "field", "EQ_ILMD_{field}: a top-level ilmd field (example:batch as captured, its "
                                      "IRI, or namespace#name) equal to one of the values, |-separated"),
    "EXISTS_ILMD_": Param("ilmd", "field", "EXISTS_ILMD_{field}: events whose ilmd has that field; no value"),
    **{f"{op}_ILMD_": Param("ilmd", "range", f"{op}_ILMD_{{field}}: a top-level ilmd field with a value {word} "
                                              "the number or RFC 3339 date-time (with its offset) given")
       for op, word in QUANTITY_WORDS.items() if op != "EQ"},
    # a sensor reading in a unit (UN/CEFACT code), found in any unit of its dimension (units.py):
    # GE_value_CEL=8 finds 290 KEL
    **{f"{op}_{name}_": Param(f"sensor/{name}", "sensor_value", "{op}_{reading}_{uom}: a sensor report's value, "
                                                                "minValue, maxValue, meanValue, sDev or percValue in "
                                                                "that unit (CEL, KGM...; readings in another unit of "
                                                                "its dimension converted) compared with the number")
       for name in SENSOR_READINGS for op in QUANTITY_OPS},
    # INNER_: a field nested at any depth inside a top-level ilmd field, a sensor level's
    # extension field or an event's extension field (facets.inner_fields)
    **{f"{op}_INNER_ILMD_": Param("ilmdi", "field" if op in ("EQ", "EXISTS") else "range",
                                  "{EQ,EXISTS,GT,GE,LT,LE}_INNER_ILMD_{field}: as the _ILMD_ ones, of a field nested "
                                  "inside a top-level ilmd field (at any depth)")
       for op in INNER_OPS},
    **{f"{op}_INNER_{level}_": Param(f"sensor/INNER_{level}_", "field" if op in ("EQ", "EXISTS") else "range",
                                     "{EQ,EXISTS,GT,GE,LT,LE}_INNER_{SENSORELEMENT,SENSORMETADATA,SENSORREPORT}_"
                                     "{field}: a field nested inside such an extension field")
       for level in ("SENSORELEMENT", "SENSORMETADATA", "SENSORREPORT") for op in INNER_OPS},
    **{f"{op}_INNER_": Param("exti", "field" if op in ("EQ", "EXISTS") else "range",
                             "{EQ,EXISTS,GT,GE,LT,LE}_INNER_{field}: a field nested inside a top-level extension "
                             "field (at any depth)")
       for op in INNER_OPS},
    # extension fields of a sensorElement, its sensorMetadata or a sensorReport
    **{f"{op}_{level}_": Param(f"sensor/{level}_", "field" if op in ("EQ", "EXISTS") else "range",
                               "{EQ,EXISTS,GT,GE,LT,LE}_{SENSORELEMENT,SENSORMETADATA,SENSORREPORT}_{field}: "
                               "an extension field of a sensorElement, its sensorMetadata or a sensorReport, as "
                               "EQ_ILMD_ / GT_ILMD_ read ilmd fields")
       for level in ("SENSORELEMENT", "SENSORMETADATA", "SENSORREPORT") for op in INNER_OPS},
    # extension fields: a name with ":" (a JSON-LD prefix or an IRI), so that no other
    # parameter's name is read as one
    "EQ_": Param("ext", "field", "EQ_{field}: a top-level extension field (example:myField, its IRI, or "
                                 "namespace#name) equal to one of the values, |-separated"),
    "EXISTS_": Param("ext", "field", "EXISTS_{field}: events with that top-level extension field; no value"),
}
# MATCH_ parameter -> the roles of the EPCs it matches (tracecode.store.port.EPC_ROLES)
EPC_ROLES = {
    "MATCH_epc": ("epc", "child"),                   # epcList or childEPCs
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "parent", "child", "input", "output"),
    "MATCH_epcClass": ("class",),
    "MATCH_inputEPCClass": ("input_class",),
    "MATCH_outputEPCClass": ("output_class",),
    "MATCH_anyEPCClass": ("class", "input_class", "output_class"),
}
PAGING = ("perPage", "nextPageToken")


def _refuse(name: str, detail: str) -> Refusal:
    return Refusal("invalid_argument", name, detail)


def _values(name: str, raw: list) -> tuple:
    out = []
    for text in raw:
        if not isinstance(text, str):
            raise _refuse(name, f"{name} takes text, not {type(text).__name__}")
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


def _facet_values(name: str, values: tuple) -> tuple:
    """Values a facet is compared with: each one the facets keep (epcis/facets.py), or the
    query is refused; a value capture left out would otherwise find nothing, silently."""
    for v in values:
        if not kept(v):
            raise _refuse(name, f"a value of {name} is over {FACET_CHARS} characters (or holds NUL or a lone "
                                "surrogate): such values are stored with their event but not indexed, so no "
                                "query can find them by it")
    return values


def parse_time(name: str, text: str) -> datetime:
    """An RFC 3339 date-time with its offset (Z or ±hh:mm)."""
    try:
        when = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise _refuse(name, f"{name} is not a date-time (2024-06-30T08:15:00+08:00): {text!r}") from None
    if when.tzinfo is None:
        raise _refuse(name, f"{name} needs its time-zone offset (Z or +08:00): {text!r}")
    return when


def _one(name: str, raw: list) -> str:
    if len(raw) != 1:
        raise _refuse(name, f"{name} is given {len(raw)} times; give it once")
    return str(raw[0])


def param_of(name: str) -> tuple[Param, str] | None:
    """(the parameter, the type a prefixed one names, else "") of a name; None if not read here."""
    if name in PARAMETERS:
        return PARAMETERS[name], ""
    for prefix, param in PREFIXED.items():   # the longer prefixes first (EQ_ILMD_ before EQ_)
        if name.startswith(prefix) and len(name) > len(prefix):
            rest = name[len(prefix):]
            if param.field == "ext" and (":" not in rest or rest.startswith("ILMD_")):
                return None
            if param.field.endswith("_") and ":" not in rest and "INNER_" not in prefix:
                return None   # a sensor level's own field is an extension's: a prefixed name
            return param, rest
    return None


def _group_name(param: Param, typed: str) -> tuple[str, str]:
    """(facet group, field name) of a prefixed field parameter: ("ilmd", name), ("ext", name)
    or, for a sensor level's, ("sensor", "SENSORREPORT_" + name)."""
    group, _, level = param.field.partition("/")
    return group, level + typed


def names() -> list[str]:
    """Every parameter read here, as an error names them."""
    return [*PARAMETERS, *(p + "{type}" for p in PREFIXED)]


def fields(params) -> dict:
    """The query named by `params` (a Starlette QueryParams, or any mapping of str or lists):
    {EpcisQuery field: value} for the filters given (times as seconds since the epoch),
    plus per_page, page_token and count_limit (None: no limit)."""
    from ..epcis.cbv import vocab
    multi = _multi(params)
    out: dict = {"per_page": DEFAULT_PER_PAGE, "page_token": None, "count_limit": None, "max_count": None}
    unknown = sorted(n for n in multi if param_of(n) is None)
    if unknown:
        raise _refuse(unknown[0], f"this server does not filter on {unknown[0][:80]!r} (it reads: "
                                  f"{', '.join(names())})")
    matching = [n for n in multi if n in EPC_ROLES]
    if len(matching) > 1:
        raise _refuse(matching[1], f"one MATCH_ parameter per query here ({matching[0]} and {matching[1]} "
                                   "are given): query each and intersect")
    if "maxEventCount" in multi and "eventCountLimit" in multi:
        raise _refuse("maxEventCount", "maxEventCount and eventCountLimit are mutually exclusive: give one")
    refs: dict = {}
    for name, raw in multi.items():
        param, typed = param_of(name)
        kind = param.kind
        if kind == "page":
            text = _one(name, raw)
            if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PER_PAGE:
                raise _refuse(name, f"perPage must be a whole number from 1 to {MAX_PER_PAGE:,}, not {text!r}")
            out["per_page"] = int(text)
        elif kind == "token":
            text = _one(name, raw)
            if not text or len(text) > MAX_TOKEN_CHARS:
                raise _refuse(name, "nextPageToken is empty or too long: give the token of the last "
                                    "page's Link header")
            out["page_token"] = text
        elif kind == "count":
            text = _one(name, raw).strip()
            if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_COUNT:
                raise _refuse(name, f"eventCountLimit must be a whole number from 1 on, not {text[:40]!r}")
            out["count_limit"] = int(text)
        elif kind == "max":
            text = _one(name, raw).strip()
            if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_EVENT_COUNT:
                raise _refuse(name, f"maxEventCount must be a whole number from 1 to {MAX_EVENT_COUNT:,} here, "
                                    f"not {text[:40]!r}")
            out["max_count"] = int(text)
        elif kind == "quantity":
            text = _one(name, raw).strip()
            value = number_text(text)
            if value is None:
                raise _refuse(name, f"{name} takes a number, not {text[:40]!r}")
            out.setdefault("quantity", []).append((name[:2], float(value)))
        elif kind == "within":
            glns = []
            for v in _values(name, raw):
                g = gln_of_parent(v)
                if g is None:
                    raise _refuse(name, f"{name}: {v[:80]!r} has no descendants this server knows: no location "
                                        "master data is stored, so WD_ reads only a GLN (an SGLN with extension "
                                        "0, or a Digital Link without 254) and its sub-locations; use "
                                        f"EQ_{name[3:]} for this location itself")
                glns.append(g)
            out.setdefault("within", []).append((param.field, tuple(dict.fromkeys(glns))))
        elif kind in ("sensor", "sensor_exists"):
            _, _, key = param.field.partition("/")
            if kind == "sensor_exists":
                if _one(name, raw).strip() not in ("", "true"):
                    raise _refuse(name, f"{name} takes no value (or true)")
                values: tuple = ()
            else:
                values = _facet_values(name, _values(name, raw))
                if key == "booleanValue" and not set(values) <= {"true", "false"}:
                    raise _refuse(name, f"{name} is true or false, not {values[0][:40]!r}")
                values = tuple(dict.fromkeys(sensor_text(key, v) for v in values))
            out.setdefault("fields", []).append(("sensor", key, values))
        elif kind == "sensor_time":
            _, _, key = param.field.partition("/")
            out.setdefault("ranges", []).append(("sensor", key, name[:2], "t",
                                                 parse_time(name, _one(name, raw)).timestamp()))
        elif kind == "sensor_value":
            _, _, key = param.field.partition("/")
            if typed:
                if not UOM.fullmatch(typed):
                    raise _refuse(name, f"{name}: {typed[:40]!r} is not a unit code (2 or 3 capitals or digits, "
                                        "UN/CEFACT Recommendation 20: CEL, KGM...)")
                key = f"{key}_{typed}"
            text = _one(name, raw).strip()
            value = comparable(text, "n")
            if value is None:
                raise _refuse(name, f"{name} takes a number, not {text[:40]!r}")
            if name[:2] == "EQ":
                out.setdefault("fields", []).append(("sensor", key, (number_text(text),)))
            else:
                out.setdefault("ranges", []).append(("sensor", key, name[:2], "n", str(value)))
        elif kind == "field":
            group, typed = _group_name(param, typed)
            if not kept(typed):
                raise _refuse(name, f"{name} names a field over {FACET_CHARS} characters (or holding NUL): "
                                    "such names are not indexed, so no query can find them")
            if name.startswith("EXISTS_"):
                if _one(name, raw).strip() not in ("", "true"):
                    raise _refuse(name, f"{name} takes no value (or true)")
                texts: tuple = ()
            else:   # a number is also compared as its canonical text (5.0 finds 5)
                texts = tuple(dict.fromkeys(t for v in _facet_values(name, _values(name, raw))
                                            for t in (v, number_text(v)) if t))
            out.setdefault("fields", []).append((group, typed, texts))
        elif kind == "range":
            group, typed = _group_name(param, typed)
            if not kept(typed):
                raise _refuse(name, f"{name} names a field over {FACET_CHARS} characters (or holding NUL): "
                                    "such names are not indexed, so no query can find them")
            text = _one(name, raw).strip()
            value = comparable(text, "n")
            as_ = "n"
            if value is None:
                value, as_ = comparable(text, "t"), "t"
            if value is None:
                raise _refuse(name, f"{name} compares numbers or RFC 3339 date-times with their offset "
                                    f"(2024-06-30T08:15:00+08:00), not {text[:40]!r}")
            out.setdefault("ranges", []).append((group, typed, name[:2], as_,
                                                 str(value) if as_ == "n" else value))
        elif kind == "facet":   # a facet group and name (epcis/facets.py): one of the values
            group, _, key = param.field.partition("/")
            values = _facet_values(name, _values(name, raw))
            if group == "pd":
                values = tuple(dict.fromkeys(vocab(v) for v in values))
            out.setdefault("fields", []).append((group, key, values))
        elif kind == "order":
            text = _one(name, raw).strip()
            if text not in ORDER_FIELDS:
                raise _refuse(name, f"orderBy is {' or '.join(ORDER_FIELDS)} here, not {text[:80]!r}")
            out["order_by"] = text
        elif kind == "direction":
            text = _one(name, raw).strip().upper()
            if text not in ("ASC", "DESC"):
                raise _refuse(name, f"orderDirection is ASC or DESC, not {text[:40]!r}")
            out["descending"] = text == "DESC"
        elif kind == "time":
            out[param.field] = parse_time(name, _one(name, raw)).timestamp()
        elif kind == "exists":
            if _one(name, raw).strip() not in ("", "true"):
                raise _refuse(name, f"{name} takes no value (or true)")
            out[param.field] = True
        elif kind == "refs":
            kind_word = vocab(typed)
            refs.setdefault(param.field, []).extend((kind_word, v) for v in _values(name, raw))
        else:
            values = _values(name, raw)
            if kind == "types":
                bad = [v for v in values if v not in EVENT_TYPES and ":" not in v]
                if bad:
                    raise _refuse(name, f"{bad[0][:80]!r} is not an event type ({', '.join(EVENT_TYPES)}, "
                                        f"or an extension's URI)")
            elif kind == "actions":
                bad = [v for v in values if v not in ACTIONS]
                if bad:
                    raise _refuse(name, f"{bad[0][:40]!r} is not an action ({', '.join(ACTIONS)})")
            elif kind == "epcs":
                out["epc_roles"] = EPC_ROLES[name]
            elif param.field in ("biz_steps", "dispositions", "error_reasons"):   # any CBV spelling: its bare word
                values = tuple(dict.fromkeys(vocab(v) for v in values))
            if param.field in ("error_reasons", "corrective_ids"):   # read from the facets
                _facet_values(name, values)
            out[param.field] = values
    if "descending" in out and "order_by" not in out:
        raise _refuse("orderDirection", "orderDirection needs orderBy (eventTime or recordTime)")
    if "order_by" in out and "descending" not in out:
        out["descending"] = True     # the standard's default direction
    if refs:
        out["refs"] = tuple((role, tuple(dict.fromkeys(pairs))) for role, pairs in refs.items())
    for name in ("quantity", "within", "fields", "ranges"):
        if name in out:
            out[name] = tuple(out[name])
    for low, high in (("GE_eventTime", "LT_eventTime"), ("GE_recordTime", "LT_recordTime"),
                      ("GE_errorDeclarationTime", "LT_errorDeclarationTime")):
        if low in multi and high in multi and out[PARAMETERS[low].field] >= out[PARAMETERS[high].field]:
            raise _refuse(high, f"the time range is empty: {low} must be before {high}")
    return out


@dataclass(frozen=True)
class Parsed:
    """A query's parameters read: the store's EpcisQuery and what the application applies."""
    query: object
    page_token: str | None
    per_page: int
    count_limit: int | None     # eventCountLimit: at most this many, over every page
    max_count: int | None       # maxEventCount: more than this many is QueryTooLargeException


def parse_query(params) -> Parsed:
    from ..store.port import EpcisQuery
    found = fields(params)
    extra = {k: found.pop(k) for k in ("page_token", "per_page", "count_limit", "max_count")}
    return Parsed(EpcisQuery(**found), **extra)


def parse(params):
    """(the store's EpcisQuery, page_token, per_page, count_limit) of query parameters."""
    p = parse_query(params)
    return p.query, p.page_token, p.per_page, p.count_limit


def definition(params) -> dict:
    """The parameters of a named query as stored: {name: [values]} (each checked by fields,
    paging left out: a named query is run page by page like any other).

    >>> definition({"EQ_bizStep": "shipping|receiving", "perPage": "5"})
    {'EQ_bizStep': ['shipping|receiving']}
    """
    multi = _multi(params)
    kept = {k: [str(v) for v in vs] for k, vs in multi.items() if k not in PAGING}
    fields(kept)
    return kept


def _multi(params) -> dict:
    if hasattr(params, "multi_items"):
        items = params.multi_items()
    else:
        items = [(k, v) for k, vs in dict(params).items() for v in (vs if isinstance(vs, (list, tuple)) else [vs])]
    multi: dict = {}
    for name, value in items:
        if not isinstance(name, str):
            raise _refuse(str(name)[:40], "query parameter names are text")
        multi.setdefault(name, []).append(value)
    return multi


def multi_items(params) -> list:
    return [(k, v) for k, vs in _multi(params).items() for v in vs]
