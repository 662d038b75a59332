"""GS1's event hash (CBV 2.0 section 8.9) of the events bulk captures are made of, without
the reference implementation's walk: 3 to 30 ms an event there (a JSON-LD expansion of the
document, a regex chain for each EPC), some microseconds here.

Covered: ObjectEvents and AggregationEvents whose fields are among eventTime,
eventTimeZoneOffset, action, bizStep, disposition, readPoint {id}, bizLocation {id},
epcList, childEPCs, parentID (eventID, recordTime and type take no part in the hash), all
text, in a document whose @context is GS1's and plain prefixes. For anything else (other
event types, quantities, sensors, business transactions, sources, ilmd, extensions, an
errorDeclaration, a context that redefines a term) `prehash` gives None and eventid.py asks
epcis-event-hash-generator, as before.

The pre-hash string is built as the reference implementation builds it (its PROP_ORDER
order, values of one field sorted, joined by nothing): "eventType=" and the type, then
"eventTime=" the time in UTC to the millisecond, then each field as name=value, a list as
its name then "epc=" value for each. Single values are canonised by the reference's own
functions (memoised: a document's events share their readPoint, bizStep, times), so only
two things are ours, both checked against it by tests/test_epcis_fast_hash.py on GS1's
examples and by hypothesis:
- EPC lists sharing a prefix (epc.bulk_tails): an SGTIN list becomes canonical Digital
  Links https://id.gs1.org/01/{GTIN}/21/{serial}, a national code's resolver URI stays as
  it is (no Digital Link, no CBV URN in it), in one pass;
- the JSON-LD step: a bare CBV name (shipping) is replaced by the one expanded CBV URI of
  the event ending in "-shipping" or "/shipping", which only bizStep and disposition values
  can be (every other value here holds a ":"; CBV names none).
"""
from __future__ import annotations

import functools
import hashlib

from .epc import bulk_tails
from .schema import GS1_CONTEXT_URL
from .vocabulary import BIZ_STEPS, DISPOSITIONS

_IGNORED = frozenset({"type", "eventID", "recordTime"})
_SINGLE = ("eventTimeZoneOffset", "parentID")          # PROP_ORDER before the lists
_LISTS = ("epcList", "childEPCs")
_AFTER = ("action", "bizStep", "disposition")
_PLACES = ("readPoint", "bizLocation")
_FIELDS = frozenset({"eventTime", *_SINGLE, *_LISTS, *_AFTER, *_PLACES}) | _IGNORED
_TYPES = frozenset({"ObjectEvent", "AggregationEvent"})
_CBV = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")
_VOCAB = {"bizStep": ("https://ref.gs1.org/cbv/BizStep-", frozenset(BIZ_STEPS)),
          "disposition": ("https://ref.gs1.org/cbv/Disp-", frozenset(DISPOSITIONS))}
GS1_CONTEXTS = frozenset({GS1_CONTEXT_URL, "https://gs1.github.io/EPCIS/epcis-context.jsonld"})
_modules = None


def _reference():
    global _modules
    if _modules is None:
        from epcis_event_hash_generator import hash_generator
        _modules = hash_generator
    return _modules


@functools.lru_cache(maxsize=8192)
def _canonised(text: str) -> str:
    return _reference()._canonize_value(text)


@functools.lru_cache(maxsize=8192)
def _utc(text: str) -> str:
    return _reference()._fix_time_stamp_format(text)


def _prefixes(context) -> frozenset | None:
    """The prefixes a document's @context defines (what the reference replaces in keys and
    values), or None when it is not GS1's context and plain prefixes."""
    items = context if isinstance(context, list) else [context]
    out = set()
    for c in items:
        if isinstance(c, str):
            if c not in GS1_CONTEXTS:
                return None
            out.add(c)
        elif isinstance(c, dict):
            for k, v in c.items():
                if not (isinstance(k, str) and isinstance(v, (str, dict))) or k.startswith("@"):
                    return None
                out.add(k)
        else:
            return None
    return frozenset(out)


def _expanded(field: str, value: str) -> str | None:
    """What the JSON-LD expansion makes of a bizStep or disposition, when it is a CBV URI."""
    vocab, names = _VOCAB[field]
    if value in names:
        return vocab + value
    return value if value.startswith(_CBV) else None


def _epc_values(values, names) -> list[str] | None:
    """The canonised "epc=" texts of an EPC list, unsorted; None to leave it to the reference."""
    if not isinstance(values, list) or not all(type(v) is str for v in values):
        return None
    bulk = bulk_tails(values)
    if bulk is not None:
        prefix, code_head, tails = bulk
        if "urn:epcglobal:cbv:" in prefix or prefix.startswith(_CBV):
            return None
        if not code_head:          # a national code's URI: no Digital Link, kept as written
            return ["epc=" + v for v in values]
        if code_head.startswith("(01)"):
            head = f"epc=https://id.gs1.org/01/{code_head[4:18]}/21/"
            return [head + t for t in tails]
        return None
    out = []
    for v in values:
        if ":" not in v or v.startswith(_CBV) or v.split(":", 1)[0] in names:
            return None
        text = _canonised(v.strip())
        out.append("epc=" + text if text else "epc")
    return out


def prehash(event: dict, context) -> str | None:
    """The reference implementation's pre-hash string of the event, or None when the event is
    not of a shape computed here."""
    kind = event.get("type")
    if kind not in _TYPES or not _FIELDS.issuperset(event):
        return None
    names = _prefixes(context if context is not None else [GS1_CONTEXT_URL])
    if names is None or names & {"urn", "http", "https"} or names & set(event):
        return None
    time = event.get("eventTime")
    if not isinstance(time, str) or ":" not in time:
        return None
    singles = {}
    for field in (*_SINGLE, *_AFTER):
        v = event.get(field)
        if v is None:
            continue
        if not isinstance(v, str):
            return None
        singles[field] = v
    for field in _PLACES:
        v = event.get(field)
        if v is None:
            continue
        if not (isinstance(v, dict) and set(v) == {"id"} and isinstance(v["id"], str) and ":" in v["id"]):
            return None
        singles[field] = v["id"]
    if any(v.split(":", 1)[0] in names for v in (time, *singles.values())):
        return None
    # the JSON-LD step: bare CBV names become the one expanded URI ending in them
    cbv = {u for u in (_expanded(f, singles[f]) for f in _VOCAB if f in singles) if u}   # a set, as the reference's
    for field in _VOCAB:
        v = singles.get(field)
        if v is None:
            continue
        if ":" not in v and v not in _VOCAB[field][1]:
            return None   # a bare name the CBV lists here do not hold: the context may define it
        hits = [u for u in cbv if u.endswith("-" + v) or u.endswith("/" + v)]
        if len(hits) == 1:
            singles[field] = hits[0]
    for field in ("eventTimeZoneOffset", "parentID", *_PLACES):
        v = singles.get(field)
        if v is not None and (":" not in v or v.startswith(_CBV)):
            return None
    if singles.get("action") not in (None, "ADD", "OBSERVE", "DELETE"):
        return None
    try:
        return _build(event, kind, time, singles, names)
    except Exception:  # noqa: BLE001 - what the reference trips on (a time it cannot round): it decides
        return None


def _build(event, kind, time, singles, names) -> str | None:
    t = _utc(time.strip())
    if not t:
        return None
    parts = ["eventType=", kind, "eventTime=", t]
    for field in _SINGLE:
        if field in singles:
            text = _canonised(singles[field].strip())
            if text:
                parts += [field, "=", text]
    for field in _LISTS:
        if field in event:
            values = _epc_values(event[field], names)
            if values is None:
                return None
            values.sort()
            if values:
                parts += [field, *values]
    for field in _AFTER:
        if field in singles:
            text = _canonised(singles[field].strip())
            if text:
                parts += [field, "=", text]
    for field in _PLACES:
        if field in singles:
            text = _canonised(singles[field].strip())
            if text:
                parts += [field, "id=", text]
    return "".join(parts)


def event_hash(event: dict, context) -> str | None:
    """ni:///sha-256;...?ver=CBV2.0 of a covered event, else None."""
    pre = prehash(event, context)
    if pre is None:
        return None
    return f"ni:///sha-256;{hashlib.sha256(pre.encode('utf-8')).hexdigest()}?ver=CBV2.0"
