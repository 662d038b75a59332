"""Hazardous goods (危险物品): civil explosives (detonators), fireworks.

Their codes are assigned by the factory (the detonator shell code is printed by the maker,
GA 441-2003), so they are registered here (tracecode register), never issued: schemes
``cn-detonator-13`` (GA 441-2003, sequential serials: the guessing bound does not apply),
``cn-edetonator-21`` (GA 1531-2018) and ``cn-fireworks-22`` (AQ 4102-2008), the last two
layouts unverified (data an operator corrects). A detonator's shell code may not repeat
within 10 years (its year is one digit): registration refuses a code registered less than
``REUSE_YEARS`` before and starts a new life for one registered longer ago
(tracecode.index.register).

Flow registration (流向登记) is a log of steps, each naming who did it and the licence
under which it happened; a step whose licence is missing, not on record, outside its
validity or of the wrong kind is refused. Quantities balance: what leaves a store equals
what arrives (the next store in or use), used plus returned equals what was taken; a
mismatch is recorded and kept as an alert on the step and the item (``checks``). A code
used twice is refused.

Nothing about these codes is public: the public window answers only that the code is a
controlled item; regulators (police, safety supervision) see the details.

>>> from tracecode import categories
>>> [s.name for s in categories.schemes_of("hazardous")]
['cn-detonator-13', 'cn-edetonator-21', 'cn-fireworks-22']
>>> STEPS["use"].biz_step, sorted(STEPS["transport"].kinds)
('urn:tracecode:bizstep:blasting', ['transport'])
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from ..errors import StepError
from .category import OUR_NAMESPACE, Category, step_texts

# A registered code of these schemes may be registered again only this long after its
# last registration (GA 441-2003: "no code may repeat within 10 years")
REUSE_YEARS = {"cn-detonator-13": 10, "cn-edetonator-21": 10}

# Licence kinds (许可证): what a step needs one of
LICENCE_KINDS = ("production", "sale", "storage", "transport", "blasting", "destruction")

# States (the fold of the steps)
REGISTERED = "registered"
PRODUCED = "produced"
IN_STORE = "in_store"
OUT_OF_STORE = "out_of_store"       # taken out, not yet arrived, used or stored again
IN_TRANSIT = "in_transit"
USED = "used"
DESTROYED = "destroyed"

# Verdicts: the public's one, and a regulator's
CONTROLLED = "controlled_item"
NOT_REGISTERED = "not_registered"
VERDICTS = (CONTROLLED, NOT_REGISTERED, PRODUCED, IN_STORE, OUT_OF_STORE, IN_TRANSIT, USED,
            DESTROYED, REGISTERED)


@dataclass(frozen=True)
class Step:
    name: str
    biz_step: str
    disposition: str | None
    allowed_from: frozenset
    to: str
    kinds: frozenset            # licence kinds the step may happen under
    needs: tuple = ()


_HELD = frozenset({PRODUCED, IN_STORE, OUT_OF_STORE, IN_TRANSIT, USED})
STEPS = {s.name: s for s in (
    Step("produce", "commissioning", "active", frozenset({REGISTERED}), PRODUCED,
         frozenset({"production"})),
    # warehouse in: from the factory, from a transport, or what a blast returned
    Step("store_in", "receiving", "in_progress", frozenset({PRODUCED, OUT_OF_STORE, IN_TRANSIT, USED}),
         IN_STORE, frozenset({"storage", "production", "sale"}), ("warehouse",)),
    Step("store_out", "shipping", "in_transit", frozenset({IN_STORE}), OUT_OF_STORE,
         frozenset({"storage", "production", "sale"}), ("warehouse",)),
    Step("transport", OUR_NAMESPACE + "transporting", "in_transit", frozenset({OUT_OF_STORE, IN_TRANSIT}),
         IN_TRANSIT, frozenset({"transport"}), ("vehicle", "driver")),
    Step("use", OUR_NAMESPACE + "blasting", "destroyed", frozenset({OUT_OF_STORE, IN_TRANSIT}), USED,
         frozenset({"blasting"}), ("site", "responsible", "used")),
    Step("destroy", "destroying", "destroyed", _HELD | {REGISTERED}, DESTROYED,
         frozenset({"destruction", "production", "blasting"})),
)}
_TEXT = ("warehouse", "vehicle", "driver", "site", "responsible", "place", "note",
         "event")   # the id of the EPCIS event that recorded the step (app.asset_capture)



@dataclass
class Item:
    """A controlled item's state folded from its steps (oldest first) since its last
    registration (a code registered again after REUSE_YEARS starts a new life)."""
    code: str
    scheme: str
    registered: dict
    state: str = REGISTERED
    taken: int | None = None          # what the last store out took (the balance's base)
    returned: int = 0                 # what its use returned
    used: int = 0
    place: str | None = None          # the last warehouse, vehicle or site
    alerts: list = field(default_factory=list)
    steps: list = field(default_factory=list)


def _count(value, name: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() \
            or not str(value).isascii() or not low <= int(value) <= 10_000_000:
        raise StepError(f"{name} must be a whole number from {low} to 10,000,000", field=name)
    return int(value)


def check_step(step: dict) -> dict:
    """A step's fields checked: name, by, licence (every step names one), what the step
    needs (warehouse, vehicle and driver, site, responsible and used), quantities."""
    name = step.get("step")
    if name not in STEPS:
        raise StepError(f"step must be one of: {', '.join(STEPS)}", field="step")
    spec = STEPS[name]
    out = {"step": name, "time": step.get("time")}
    for key in ("by", "licence"):
        value = step.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise StepError(f"{name}: every step names {key} (1 to 200 characters)",
                            reason="no_licence" if key == "licence" else "invalid_step", field=key)
        out[key] = value.strip()
    out.update(step_texts(step, _TEXT, name))
    for key in spec.needs:
        if step.get(key) in (None, ""):
            raise StepError(f"{name} needs {key}", field=key)
    if name in ("store_in", "store_out", "transport"):
        out["quantity"] = _count(step.get("quantity", 1), "quantity", 1)
    if name == "use":
        out["used"] = _count(step["used"], "used")
        out["returned"] = _count(step.get("returned", 0), "returned")
    return out


def licence_refusal(rec: dict, licences, day: _dt.date) -> str | None:
    """Why the step's licence does not allow it on ``day`` (None: it does)."""
    lic = licences.get(rec["licence"]) if licences is not None else None
    if lic is None:
        return f"licence {rec['licence']} is not on record (tracecode licence add)"
    if not lic["valid_from"] <= day.isoformat() <= lic["valid_to"]:
        return (f"licence {rec['licence']} is valid {lic['valid_from']} to {lic['valid_to']}, "
                f"not on {day.isoformat()}")
    kinds = STEPS[rec["step"]].kinds
    if not kinds & set(lic["kinds"]):
        return (f"licence {rec['licence']} ({', '.join(lic['kinds'])}) does not allow "
                f"{rec['step']}: it needs {' or '.join(sorted(kinds))}")
    return None


def refusal(item: Item, rec: dict, today: _dt.date, licences=None) -> str | None:
    """Why this step may not follow the item's state (None: it may)."""
    spec = STEPS[rec["step"]]
    if item.state == DESTROYED:
        return f"{item.code} is destroyed: no {rec['step']}"
    if rec["step"] == "use" and item.state == USED or (rec["step"] == "use" and item.used):
        return f"{item.code} was used already (at {item.place}): a code is used once"
    if item.state not in spec.allowed_from:
        return f"cannot {rec['step']} {item.code}: it is {item.state.replace('_', ' ')}"
    if rec["step"] == "store_in" and item.state == USED and not item.returned:
        return f"{item.code} was used with nothing returned: nothing goes back into store"
    return licence_refusal(rec, licences, today)


def balance(item: Item, rec: dict) -> list:
    """The quantity checks of a step against what the item's last store out took: a list
    of {"check", "ok", "expected", "got"} (an alert where ok is False)."""
    if rec["step"] == "use" and item.taken is not None:
        got = rec["used"] + rec["returned"]
        return [{"check": "used_plus_returned", "ok": got == item.taken, "expected": item.taken, "got": got}]
    if rec["step"] == "store_in" and item.state == USED:
        return [{"check": "returned_stored", "ok": rec["quantity"] == item.returned,
                 "expected": item.returned, "got": rec["quantity"]}]
    if rec["step"] in ("store_in", "transport") and item.taken is not None:
        return [{"check": "out_equals_arrived" if rec["step"] == "store_in" else "out_equals_loaded",
                 "ok": rec["quantity"] == item.taken, "expected": item.taken, "got": rec["quantity"]}]
    return []


def fold(item: Item, rec: dict) -> None:
    """One recorded step applied to the item's state."""
    if rec["step"] == "reregister":          # a new life 10 years on (register.py)
        item.state, item.taken, item.used, item.returned, item.place = REGISTERED, None, 0, 0, None
        item.alerts, item.steps = [], []
        item.registered = dict(item.registered, owner=rec["owner"], registered=rec["time"])
        return
    item.state = STEPS[rec["step"]].to
    item.place = next((rec[k] for k in ("warehouse", "vehicle", "site", "place") if rec.get(k)), item.place)
    item.alerts += [dict(c, step=len(item.steps), date=rec.get("date")) for c in rec.get("checks", ())
                    if not c["ok"]]
    if rec["step"] == "store_out":
        item.taken = rec["quantity"]
    elif rec["step"] == "use":
        item.used, item.returned = rec["used"], rec["returned"]
    elif rec["step"] == "store_in":
        item.taken = None
    item.steps.append(rec)


def verdict(item: Item | None, today: _dt.date, unit=None) -> dict:
    """A regulator's answer: the state, where it is, what it balanced and its alerts."""
    if item is None:
        return {"verdict": NOT_REGISTERED, "reasons": ["no such code is registered"]}
    last = item.steps[-1] if item.steps else None
    return {"verdict": item.state, "reasons": [f"{a['check']}: expected {a['expected']}, got {a['got']}"
                                               for a in item.alerts],
            "state": item.state, "place": item.place, "taken": item.taken, "used": item.used,
            "returned": item.returned, "alerts": item.alerts, "steps": len(item.steps),
            "last_step": {k: last[k] for k in ("step", "by", "licence", "date") if k in last} if last else None}


def public_verdict(found: bool) -> dict:
    """All the public learns of a hazardous-goods code."""
    return {"verdict": CONTROLLED if found else NOT_REGISTERED, "reasons": []}


def epcis_event(code_uri: str, rec: dict) -> dict:
    """A recorded step as an EPCIS 2.0 ObjectEvent: bizStep, disposition, licence, quantities."""
    if rec["step"] == "reregister":
        return {"type": "ObjectEvent", "action": "ADD", "epcList": [code_uri],
                "eventTime": _dt.datetime.fromtimestamp(rec["time"], _dt.timezone.utc).isoformat(),
                "eventTimeZoneOffset": "+00:00", "bizStep": "commissioning", "tc:by": rec["owner"]}
    spec = STEPS[rec["step"]]
    ev = {"type": "ObjectEvent", "action": "ADD" if rec["step"] == "produce" else "OBSERVE",
          "epcList": [code_uri],
          "eventTime": _dt.datetime.fromtimestamp(rec["time"], _dt.timezone.utc).isoformat(),
          "eventTimeZoneOffset": "+00:00", "bizStep": spec.biz_step, "tc:by": rec["by"],
          "tc:licence": rec["licence"]}
    if spec.disposition:
        ev["disposition"] = spec.disposition
    for key in ("quantity", "used", "returned", "warehouse", "vehicle", "driver", "site", "responsible"):
        if key in rec:
            ev[f"tc:{key}"] = rec[key]
    return ev


WORDS = {"zh": {"title": "危险物品", CONTROLLED: "管控物品（详情仅向监管部门提供）",
                NOT_REGISTERED: "此代码未登记"},
         "en": {"title": "Hazardous goods", CONTROLLED: "A controlled item (details for regulators only)",
                NOT_REGISTERED: "this code is not registered"}}


def section(svc, code: str, lang: str, unit=None) -> dict:
    """The public page's section: that it is a controlled item, nothing more."""
    w = WORDS.get(lang, WORDS["en"])
    found = svc.dd.assets.registration(code) is not None
    v = public_verdict(found)["verdict"]
    return {"title": w["title"], "verdict": v, "verdict_text": w[v], "tone": "warn" if found else "bad",
            "rows": [], "notes": []}


CATEGORY = Category(
    name="hazardous",
    title="Hazardous goods (危险物品)",
    lifecycle=tuple(dict.fromkeys(s.biz_step for s in STEPS.values())),
    public=("verdict",),
    section=section,
)
