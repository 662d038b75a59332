"""What a TransformationEvent changes: its instance-level inputs are consumed and its
instance-level outputs come into being (cbv.lifecycle_of asks here).

A consumed input is destroyed in the lifecycle's terms (a later scan of it is DESTROYED:
it no longer exists as itself) with the reason "transformed into ..." naming the output
lots and counting the output items (the history and the public trail show it); an output
is commissioned (from issued, as any commissioning). Class-level inputs and outputs
(epcClass + quantity: LGTIN lots traced by weight) change no per-code state: the event is
stored with them by role (input_class, output_class), found by MATCH_inputEPCClass and
MATCH_outputEPCClass, with its quantities as captured.

>>> ev = {"type": "TransformationEvent", "eventTime": "2026-11-30T09:15:00+08:00",
...       "inputEPCList": ["urn:epc:id:sgtin:0614141.107346.2017"],
...       "outputEPCList": ["urn:epc:id:sgtin:0614141.107346.2018"]}
>>> [(e["action"], e["codes"], e.get("reason")) for e in lifecycle(("ev-1", "ev-1#1"), ev)]
[('destroy', ['(01)10614141073464(21)2017'], 'transformed into 1 item'),
 ('commission', ['(01)10614141073464(21)2018'], None)]
"""
from __future__ import annotations

from ..limits import REASON_BYTES
from .epc import list_codes, to_code
from .errors import EpcisError

CONSUMED = "destroy"        # the lifecycle action of a consumed input
MADE = "commission"         # of an output


def _classes(event: dict, role: str) -> list[str]:
    out = []
    for q in event.get(role) or ():
        if isinstance(q, dict) and isinstance(q.get("epcClass"), str):
            try:
                out.append(to_code(q["epcClass"]))
            except EpcisError:
                out.append(q["epcClass"])
    return out


def into(event: dict, at=(), outputs: list | None = None) -> str:
    """The reason a consumed input carries: what it was transformed into, its output lots by
    class and its instance outputs by count only (the reason is public: the code's trail on
    the public page shows it, and a serial of another item is not the public's; the EPCIS
    event, queryable by its inputs, names them), bounded to an event reason's bytes."""
    n = len(list_codes(event, "outputEPCList", at) if outputs is None else outputs)
    parts = _classes(event, "outputQuantityList") + ([f"{n} item{'s' if n > 1 else ''}"] if n else [])
    text = "transformed into " + (", ".join(parts) if parts else "nothing recorded")
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) > REASON_BYTES:
        text = raw[:REASON_BYTES - 4].decode("utf-8", "ignore") + " ..."
    return text


def lifecycle(ids: tuple[str, str], event: dict, at=(), base: dict | None = None) -> list[dict]:
    """The lifecycle events of a TransformationEvent: consume its instance inputs, then
    commission its instance outputs ([] when it names instances of neither: class level).
    ids: (the consumption's id, the commissioning's: cbv.lifecycle_id); base: fields both
    carry (time, place)."""
    inputs = list_codes(event, "inputEPCList", at)
    outputs = list_codes(event, "outputEPCList", at)
    out = []
    if inputs:
        out.append({**(base or {}), "id": ids[0], "action": CONSUMED, "codes": inputs,
                    "reason": into(event, at, outputs)})
    if outputs:
        out.append({**(base or {}), "id": ids[1], "action": MADE,
                    "codes": outputs})
    return out
