"""The Core Business Vocabulary onto tracecode's lifecycle: which lifecycle events
(engine/index/lifecycle.py ACTIONS, README "Lifecycle events") an EPCIS event means, and
which EPCs it names in which role (for the store's indexes).

An EPCIS event whose bizStep and disposition the lifecycle knows changes state as the
lifecycle event would (so every lifecycle check applies); any other is stored and
queryable only (lifecycle_of gives []). The lifecycle event's id derives from the EPCIS
event's id (eventID, else the GS1 event hash), so capturing it again is idempotent.

>>> ev = {"type": "AggregationEvent", "action": "ADD", "bizStep": "packing",
...       "parentID": "urn:epc:id:sscc:0614141.1234567890",
...       "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017"],
...       "eventID": "urn:uuid:5c1f5a04-ac3e-4b63-b3f5-1f2b1e9c0a01",
...       "eventTime": "2026-11-30T09:15:00+08:00", "eventTimeZoneOffset": "+08:00"}
>>> [(e["action"], e["codes"], e["parent"]) for e in lifecycle_of(ev)]
[('pack', ['(01)10614141073464(21)2017'], '(00)106141412345678908')]
>>> epcs_of(ev)["parentID"], epcs_of(ev)["childEPCs"]
(['urn:epc:id:sscc:0614141.1234567890'], ['urn:epc:id:sgtin:0614141.107346.2017'])
"""
from __future__ import annotations

import hashlib

from ..index.lifecycle import ACTIONS
from ..limits import PLACE_BYTES
from .epc import list_codes, to_code
from .parties import lifecycle_fields
from .errors import EpcisError, pointer as _ptr
from .eventid import event_id
from . import transform

_PREFIXES = ("https://ref.gs1.org/cbv/BizStep-", "https://ref.gs1.org/cbv/Disp-",
             "urn:epcglobal:cbv:bizstep:", "urn:epcglobal:cbv:disp:", "https://gs1.org/voc/BizStep-",
             "https://gs1.org/voc/Disp-",
             # bizTransaction and source/destination types (BTT-po, SDT-owning_party)
             "https://ref.gs1.org/cbv/BTT-", "https://ref.gs1.org/cbv/SDT-", "urn:epcglobal:cbv:btt:",
             "urn:epcglobal:cbv:sdt:", "https://gs1.org/voc/BTT-", "https://gs1.org/voc/SDT-",
             "https://ref.gs1.org/cbv/ER-", "urn:epcglobal:cbv:er:")   # error reasons (ER-incorrect_data)
MAX_ID = 128                     # lifecycle event ids (engine/limits.py EVENT_ID_CHARS)
ROLES = ("epcList", "parentID", "childEPCs", "inputEPCList", "outputEPCList",
         "quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")

# bizStep -> lifecycle action for ObjectEvents (the ACTIONS table read backwards), and the
# EPCIS actions each accepts: commissioning creates (ADD), the others observe or remove
_BY_STEP = {a.biz_step: a for a in ACTIONS.values() if a.epcis_type == "ObjectEvent" and a.name != "recall"}
_EPCIS_ACTIONS = {"commission": {"ADD"}, "decommission": {"DELETE", "OBSERVE"},
                  "destroy": {"DELETE", "OBSERVE"}}


def vocab(value) -> str | None:
    """A CBV bizStep or disposition as its bare word, whichever spelling was sent
    (shipping, https://ref.gs1.org/cbv/BizStep-shipping, urn:epcglobal:cbv:bizstep:shipping).

    >>> vocab("urn:epcglobal:cbv:disp:in_transit"), vocab("https://example.com/my-step")
    ('in_transit', 'https://example.com/my-step')
    """
    if not isinstance(value, str):
        return None
    for p in _PREFIXES:
        if value.startswith(p):
            return value[len(p):]
    return value


def epcs_of(event: dict) -> dict:
    """The EPCs an event names, by role: epcList, parentID, childEPCs, inputEPCList,
    outputEPCList (lists of EPC URIs as sent) and the epcClass of each quantity list
    (quantityList, childQuantityList, inputQuantityList, outputQuantityList). Roles the
    event lacks are empty lists; values that are not text are left out (validation says so)."""
    out = {role: [] for role in ROLES}
    if not isinstance(event, dict):
        return out
    for role in ROLES:
        value = event.get(role)
        if role == "parentID":
            value = [value] if value is not None else []
        if not isinstance(value, list):
            continue
        if role.endswith("QuantityList") or role == "quantityList":
            out[role] = [q["epcClass"] for q in value if isinstance(q, dict) and isinstance(q.get("epcClass"), str)]
        else:
            out[role] = [v for v in value if isinstance(v, str)]
    return out


# the store's REF_ROLES: the list an event names them in, and the field of an entry's id
REF_LISTS = {"transaction": ("bizTransactionList", "bizTransaction"), "source": ("sourceList", "source"),
             "destination": ("destinationList", "destination")}


def refs_of(event: dict) -> dict:
    """The bizTransactions, sources and destinations an event names, by the store's role:
    [[type as a bare CBV word (po, owning_party) or None, id]]; roles it lacks left out.

    >>> refs_of({"bizTransactionList": [{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "urn:x:po:1"},
    ...                                 {"bizTransaction": "urn:x:bol:2"}],
    ...          "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}]})
    {'transaction': [['po', 'urn:x:po:1'], [None, 'urn:x:bol:2']],
     'source': [['owning_party', 'urn:epc:id:pgln:0614141.00001']]}
    """
    out: dict = {}
    if not isinstance(event, dict):
        return out
    for role, (name, key) in REF_LISTS.items():
        entries = event.get(name)
        if not isinstance(entries, list):
            continue
        got = [[vocab(e.get("type")), e[key]] for e in entries
               if isinstance(e, dict) and isinstance(e.get(key), str) and e[key]]
        if got:
            out[role] = got
    return out


def lifecycle_id(eid: str, n: int = 0) -> str:
    """The lifecycle id of an EPCIS event id: itself when it fits (printable ASCII, at most
    128 characters), else "epcis:" and its sha-256; n > 0 tells several lifecycle events
    of one EPCIS event apart."""
    tail = f"#{n}" if n else ""
    if eid.isascii() and eid.isprintable() and " " not in eid and len(eid) + len(tail) <= MAX_ID:
        return eid + tail
    return "epcis:" + hashlib.sha256(eid.encode("utf-8", "surrogatepass")).hexdigest() + tail


def _action_of(event) -> str | None:
    kind, action = event.get("type"), event.get("action")
    step, disp = vocab(event.get("bizStep")), vocab(event.get("disposition"))
    if kind == "AggregationEvent":
        if action == "ADD" and step == "packing":
            return "pack"
        if action == "DELETE" and step == "unpacking":
            return "unpack"
        if action == "OBSERVE" and step in ("shipping", "receiving"):
            return ACTIONS["ship" if step == "shipping" else "receive"].name
        return None
    if kind != "ObjectEvent":
        return None
    if disp == "recalled":
        return "recall"
    a = _BY_STEP.get(step)
    if a is None:
        return None
    if action not in _EPCIS_ACTIONS.get(a.name, {"OBSERVE"}):
        return None
    return a.name


def _place(event) -> str | None:
    for key in ("bizLocation", "readPoint"):
        v = event.get(key)
        if isinstance(v, dict) and isinstance(v.get("id"), str):
            return v["id"][:256]
    return None


def lifecycle_of(event: dict, base_url: str | None = None, *, context=None, at=()) -> list[dict]:
    """The tracecode lifecycle events an EPCIS event means ([] when it means none: stored
    and queryable only). EPCs are read on any domain, so `base_url` is not needed to read
    them; it is taken for symmetry with export. `context`: the document's @context (for
    the hash of an event without eventID). `at`: the event's place in its document, as
    reference tokens, for the pointers of EpcisError (an EPC tracecode cannot read)."""
    if not isinstance(event, dict):
        return []
    if event.get("type") == "TransformationEvent":   # inputs consumed, outputs commissioned
        eid = event_id(event, context)
        base = {k: v for k, v in (("time", event.get("eventTime")), ("place", _place(event)))
                if isinstance(v, str)}
        return transform.lifecycle((lifecycle_id(eid), lifecycle_id(eid, 1)), event, at, base)
    name = _action_of(event)
    if name is None:
        return []
    out = {"id": lifecycle_id(event_id(event, context)), "action": name}
    if isinstance(event.get("eventTime"), str):
        out["time"] = event["eventTime"]
    place = _place(event)
    if place is not None:
        out["place"] = place
    out.update(lifecycle_fields(event, PLACE_BYTES))   # sourceList/destinationList: party, region
    if event.get("type") == "AggregationEvent":
        parent = event.get("parentID")
        if not isinstance(parent, str):
            raise EpcisError(f"an AggregationEvent {event.get('action')} needs a parentID",
                             pointer=_ptr(*at, "parentID") if at else "/parentID")
        parent_code = to_code(parent, pointer=_ptr(*at, "parentID") if at else "/parentID")
        children = list_codes(event, "childEPCs", at)
        if name in ("pack", "unpack"):
            out["codes"], out["parent"] = children, parent_code
        else:
            out["codes"] = [parent_code, *children]
    else:
        out["codes"] = list_codes(event, "epcList", at)
    if name == "recall":
        reason = event.get("bizStep")
        if isinstance(reason, str):
            out["reason"] = f"EPCIS {vocab(reason)}"[:512]
    if not out["codes"] and name not in ("unpack",):
        return []   # class-level only (quantityList): stored, no per-code state to change
    return [out]
