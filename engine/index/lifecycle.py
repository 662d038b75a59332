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

from dataclasses import dataclass
from enum import IntEnum


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


class EventError(ValueError):
    """One event that cannot be applied: the message says why, `reason` (one of the
    constants above) says it for machines, `code` names the code."""

    def __init__(self, message, *, event_id=None, code=None, reason=INVALID_EVENT):
        super().__init__(message)
        self.event_id = event_id
        self.code = code
        self.reason = reason


def check_transition(action: Action, status: Status, code: str, event_id=None) -> None:
    if status not in action.allowed_from:
        allowed = ", ".join(s.name.lower() for s in sorted(action.allowed_from))
        raise EventError(f"cannot {action.name} {code}: it is {status.name.lower()} "
                         f"({action.name} needs {allowed})", event_id=event_id, code=code,
                         reason=ILLEGAL_TRANSITION)
