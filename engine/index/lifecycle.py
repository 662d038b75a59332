"""Lifecycle vocabulary: what can happen to a code, in GS1 EPCIS 2.0 terms.

Each action maps to a Core Business Vocabulary bizStep and disposition, and is
allowed only from some states; an event that is not gets a clear error naming
the code, its state and what would have been allowed. ``pack``/``unpack`` are
EPCIS AggregationEvents (ADD/DELETE); the others are ObjectEvents.

A code's *effective* state is the state set by the most recent event on the
code itself or on any container it is packed in: shipping a pallet ships every
case and unit on it without a record per child.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .. import limits
from ..errors import TracecodeError, ValidationError
from ..regions.location import region_code


class Status(IntEnum):
    ISSUED = 0            # reserved and rendered; no event yet (nothing stored)
    COMMISSIONED = 1
    DECOMMISSIONED = 2
    SHIPPED = 3
    RECEIVED = 4
    SOLD = 5
    DISPENSED = 6
    RECALLED = 7
    DESTROYED = 8


@dataclass(frozen=True)
class Action:
    name: str
    biz_step: str                   # EPCIS CBV bizStep
    disposition: str | None         # EPCIS CBV disposition it sets
    allowed_from: frozenset
    to: Status | None               # None: aggregation, the state is unchanged
    epcis_type: str = "ObjectEvent"
    epcis_action: str = "OBSERVE"


_LIVE = frozenset({Status.COMMISSIONED, Status.RECEIVED})
_ANY_BUT_DESTROYED = frozenset(set(Status) - {Status.DESTROYED})

ACTIONS = {a.name: a for a in (
    Action("commission", "commissioning", "active", frozenset({Status.ISSUED}),
           Status.COMMISSIONED, epcis_action="ADD"),
    Action("decommission", "decommissioning", "inactive",
           frozenset({Status.ISSUED, Status.COMMISSIONED}), Status.DECOMMISSIONED,
           epcis_action="DELETE"),
    Action("pack", "packing", "in_progress", _LIVE, None, "AggregationEvent", "ADD"),
    Action("unpack", "unpacking", "in_progress", _LIVE | {Status.RECALLED}, None,
           "AggregationEvent", "DELETE"),
    Action("ship", "shipping", "in_transit", _LIVE, Status.SHIPPED),
    Action("receive", "receiving", "in_progress", frozenset({Status.SHIPPED}), Status.RECEIVED),
    Action("sell", "retail_selling", "retail_sold", _LIVE, Status.SOLD),
    Action("dispense", "dispensing", "dispensed", _LIVE, Status.DISPENSED),
    Action("recall", "holding", "recalled", _ANY_BUT_DESTROYED - {Status.RECALLED},
           Status.RECALLED),
    Action("destroy", "destroying", "destroyed", _ANY_BUT_DESTROYED, Status.DESTROYED,
           epcis_action="DELETE"),
)}


# Why an event was refused, for machines (Index.apply's results carry it as "reason")
INVALID_EVENT = "invalid_event"             # malformed: no id, no codes, unknown action...
DUPLICATE_EVENT = "duplicate_event"         # its id was applied before
UNKNOWN_CODE = "unknown_code"               # a code never issued nor imported, an unknown batch
ILLEGAL_TRANSITION = "illegal_transition"   # not allowed from the code's current state
NOT_APPLIED = "not_applied"                 # atomic call refused because of another event
NOT_HOLDER = "not_holder"                   # a pack into an SSCC another client packed into first


class EventError(TracecodeError, ValueError):
    """One event that cannot be applied: the message says why, `reason` (one of the
    constants above) says it for machines, `code` names the code."""

    def __init__(self, message, *, event_id=None, code=None, reason=INVALID_EVENT, field=None):
        super().__init__(message)
        self.event_id = event_id
        self.code = code
        self.reason = reason
        self.field = field     # the event field at fault, when one is


def check_transition(action: Action, status: Status, code: str, event_id=None) -> None:
    if status not in action.allowed_from:
        allowed = ", ".join(s.name.lower() for s in sorted(action.allowed_from))
        raise EventError(f"cannot {action.name} {code}: it is {status.name.lower()} "
                         f"({action.name} needs {allowed})", event_id=event_id, code=code,
                         reason=ILLEGAL_TRANSITION)


_CODE_TYPES = (list, tuple, np.ndarray)


def check_event(ev, now: float) -> dict:
    """An event's fields checked against their bounds (limits.py) and normalised:
    id (text), time (seconds since the epoch; `now` if none was given), time_offset
    (the offset an RFC 3339 time gave, for EPCIS's eventTimeZoneOffset), batch (int).
    Raises EventError naming the field; what reaches storage is bounded."""
    if not isinstance(ev, dict):
        raise EventError(f"an event is an object with an id and an action, got {type(ev).__name__}")
    raw_id = ev.get("id")
    try:
        if raw_id is None or raw_id == "":
            raise ValidationError("every event needs an id (unique per sender)", field="id")
        eid = limits.ascii_key("id", raw_id, limits.EVENT_ID_CHARS)
        out = {"id": eid, "time_offset": None, "batch": None}
        if ev.get("time") is None:
            out["time"] = now
        else:
            out["time"], out["time_offset"] = limits.event_time("time", ev["time"], now=now)
        limits.text("place", ev.get("place"), limits.PLACE_BYTES)
        limits.text("reason", ev.get("reason"), limits.REASON_BYTES)
        for role in ("source", "destination"):   # where a ship or receive goes: analytics' market
            limits.text(role, ev.get(role), limits.PLACE_BYTES)
            if ev.get(f"{role}_region") not in (None, ""):
                out[f"{role}_region"] = region_code(ev[f"{role}_region"], field=f"{role}_region")
        limits.lot(ev.get("lot"), gs1=False)
        limits.text("scheme", ev.get("scheme"), limits.EVENT_ID_CHARS)
        if ev.get("codes") is not None and not isinstance(ev["codes"], _CODE_TYPES):
            raise ValidationError(f"codes must be a list of codes, got {type(ev['codes']).__name__}",
                                  field="codes")
        if not isinstance(ev.get("action"), str):
            raise ValidationError(f"action must be one of: {', '.join(ACTIONS)}", field="action")
        if ev.get("parent") is not None and not isinstance(ev["parent"], (str, bytes)):
            raise ValidationError("parent must be a code (text)", field="parent")
        product = ev.get("product")
        if product is not None and not (isinstance(product, dict) and all(
                isinstance(k, str) and isinstance(v, (str, int)) and not isinstance(v, bool)
                for k, v in product.items())):
            raise ValidationError("product must be an object of field values", field="product")
        if ev.get("batch") not in (None, "", 0):
            b = ev["batch"]
            if isinstance(b, str) and b.isascii() and b.isdigit():
                b = int(b)
            if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b < 1 << 64:
                raise ValidationError(f"batch must be a batch id (a positive integer), got "
                                      f"{str(b)[:40]!r}", field="batch")
            out["batch"] = b
    except ValidationError as exc:
        raise EventError(f"event {str(raw_id)[:limits.EVENT_ID_CHARS]!r}: {exc}",
                         event_id=raw_id if isinstance(raw_id, (str, int)) else None,
                         field=exc.field) from None
    return out


def digest(checked: dict, ev: dict, codes: list, parent) -> bytes:
    """What an event says, hashed: a resend of the same event by the same client is
    recognised (and acknowledged as the event applied before), a different event under
    a used id is not."""
    content = [checked["id"], ev.get("action"), codes, parent, checked["batch"], ev.get("lot"),
               ev.get("scheme"), ev.get("product"), ev.get("place"), ev.get("reason"),
               None if ev.get("time") is None else [checked["time"], checked["time_offset"]]]
    ends = [ev.get("source"), checked.get("source_region"), ev.get("destination"),
            checked.get("destination_region")]
    if any(v is not None for v in ends):   # only then: events without them keep their digest
        content.append(ends)
    return hashlib.blake2b(json.dumps(content, ensure_ascii=False, sort_keys=True, default=str)
                           .encode("utf-8", "surrogatepass"), digest_size=16).digest()
