"""EPCIS 2.0 out: an EPCISDocument around events, and a code's tracecode history
(DataDir.history items) as EPCIS 2.0 events that validate against GS1's schema.

Today's lifecycle events carry less than EPCIS: what they lack is not invented. The place
(free text, not a URI) and what else tracecode knows (the event's own id, the container
it reached the code through, a recall's reason, how many codes an event listed beyond the
history's first 100) go into extension fields in tracecode's namespace (NAMESPACE, prefix
"tracecode"); the eventID is the GS1 event hash of what the event says.
"""
from __future__ import annotations

import datetime as _dt

from ..index.lifecycle import ACTIONS
from .epc import to_epc
from .errors import EpcisError
from .eventid import event_hash
from .schema import GS1_CONTEXT_URL

NAMESPACE = "https://ns.tracecode.org/epcis/"    # the prefix "tracecode:" of our extension fields
PREFIX = "tracecode"
CONTEXT = [GS1_CONTEXT_URL, {PREFIX: NAMESPACE}]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def document(events: list[dict], *, creation_date: str | None = None, context=None) -> dict:
    """An EPCISDocument (schemaVersion 2.0) holding the events.

    >>> d = document([], creation_date="2026-12-02T03:00:00.000Z")
    >>> d["type"], d["schemaVersion"], d["epcisBody"]
    ('EPCISDocument', '2.0', {'eventList': []})
    """
    return {"@context": list(context if context is not None else CONTEXT), "type": "EPCISDocument",
            "schemaVersion": "2.0", "creationDate": creation_date or _now(),
            "epcisBody": {"eventList": list(events)}}


def _offset(text) -> str:
    if isinstance(text, str) and len(text) == 6 and text[0] in "+-":
        return text
    return "+00:00"


def event_time(seconds: float, offset: str | None) -> tuple[str, str]:
    """(eventTime, eventTimeZoneOffset) of epoch seconds and an offset ("+08:00"; UTC when None).

    >>> event_time(1764465300.0, "+08:00")
    ('2025-11-30T09:15:00.000+08:00', '+08:00')
    """
    off = _offset(offset)
    sign = 1 if off[0] == "+" else -1
    tz = _dt.timezone(sign * _dt.timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))
    when = _dt.datetime.fromtimestamp(seconds, tz)
    return when.isoformat(timespec="milliseconds"), off


def gs1_codes(schemes: dict, master_key: bytes):
    """A function from a stored code to the form to_epc reads: tracecode keeps a GS1 code
    bare (GTIN-14 and serial run together), so it is parsed with its scheme and written as
    its element string "(01)...(21)..." (the identity fields of the scheme that have an AI);
    any other code is returned as it is."""
    from ..scan import ScanParser
    from ..scan.parser import ScanError

    parser = ScanParser(schemes, master_key)

    def convert(code: str) -> str:
        if code.startswith("("):
            return code
        try:
            scan = parser.parse(code)
        except (ScanError, ValueError):
            return code
        scheme = schemes.get(scan.scheme) if scan.scheme else None
        if scheme is None or not scheme.is_gs1:
            return code
        pairs = [(f.ai, scan.fields[f.name]) for f in scheme.fields
                 if f.ai and f.role in ("product", "serial") and scan.fields.get(f.name)]
        return "".join(f"({ai}){value}" for ai, value in pairs) or code
    return convert


def _epcs(codes, scheme, base_url, where: str, convert=None) -> list[str]:
    out = []
    for c in codes or ():
        try:
            out.append(to_epc(convert(str(c)) if convert else str(c), scheme, base_url))
        except EpcisError as exc:
            raise EpcisError(f"{where}: {exc.detail}") from None
    return out


def from_event(ev: dict, base_url: str | None = None, *, code: str | None = None, convert=None) -> dict | None:
    """One tracecode lifecycle event (as history lists it) as an EPCIS 2.0 event; None for
    an event without a readable time (stored before times were checked). `code`: the code
    the history is of, the EPC of an event that names none (a recall by lot or batch).
    `convert`: stored code -> the form to_epc reads (gs1_codes), for bare GS1 codes."""
    if ev.get("time") is None:
        return None
    action = ACTIONS.get(ev.get("action"))
    if action is None:
        return None
    where = f"event {str(ev.get('id'))[:60]!r}"
    scheme = ev.get("scheme")
    t, off = event_time(float(ev["time"]), ev.get("time_offset"))
    out = {"type": action.epcis_type, "eventTime": t, "eventTimeZoneOffset": off}
    codes = _epcs(ev.get("codes"), scheme, base_url, where, convert)
    if action.epcis_type == "AggregationEvent":
        parent = ev.get("parent")
        if parent is None:
            raise EpcisError(f"{where}: a {action.name} without a parent")
        out["parentID"] = _epcs([parent], None, base_url, where, convert)[0]
        out["childEPCs"] = codes
    else:
        if not codes and code is not None:
            codes = _epcs([code], scheme, base_url, where, convert)
        out["epcList"] = codes
    out["action"] = action.epcis_action
    out["bizStep"] = action.biz_step
    if action.disposition:
        out["disposition"] = action.disposition
    ext = {"id": ev.get("id"), "place": ev.get("place"), "via": ev.get("via"), "reason": ev.get("reason"),
           "lot": ev.get("lot"), "batch": ev.get("batch"), "codesTotal": ev.get("codes_total")}
    for key, value in ext.items():
        if value is not None and value != "":
            out[f"{PREFIX}:{key}"] = value
    out = {"eventID": event_hash(out, CONTEXT), **out}
    if ev.get("undone"):   # declared erroneous, its state change undone: said, the id unchanged
        out[f"{PREFIX}:undone"] = True
    return out


def from_history(items, base_url: str | None = None, *, code: str | None = None, convert=None) -> list[dict]:
    """The events among DataDir.history(code) items as EPCIS 2.0 events, in history order
    (scans are not EPCIS events and are left out; so is an event without a readable time).
    National codes need base_url (their EPC is https://BASE/c/{code}); bare GS1 codes need
    `convert` (gs1_codes) to become Digital Links."""
    out = []
    for item in items:
        if item.get("kind", "event") != "event":
            continue
        ev = from_event(item, base_url, code=code, convert=convert)
        if ev is not None:
            out.append(ev)
    return out


def history_document(datadir, code: str) -> dict:
    """A code's history in a DataDir as an EPCISDocument (what `tracecode history --epcis`
    prints): the directory's base URL for national codes, its schemes for GS1 codes."""
    convert = gs1_codes(datadir.schemes, datadir.master_key)
    items = datadir.history(code, scans=False)
    return document(from_history(items, datadir.settings.base_url, code=convert(code), convert=convert))
