"""Special equipment (特种设备): elevators, boilers, pressure vessels, vehicle gas cylinders.

Their codes are assigned by others (the maker, the registering authority, the local
cylinder registry), so they are registered here (tracecode register), never issued:
schemes ``cn-equip-18`` (TSG 08-2017 equipment code), ``cn-equip-reg-20`` (the older
registration code) and ``cn-cylinder-16`` (a cylinder's electronic id: layout
unverified, data an operator corrects). A piece of equipment is a long-lived asset: its
lifecycle is a log of steps (manufactured, installed, registered for use, maintained,
inspected, repaired, modernised, filled, out of service, scrapped), each naming who did
it, folded into its state here; the verdict says whether it may be used, and for a
cylinder whether a filling unit may fill it.

The steps are EPCIS vocabulary: CBV 2.0 bizSteps where CBV has one (commissioning,
installing, inspecting, repairing, destroying), ours under ``urn:tracecode:bizstep:``
for the others.

>>> from tracecode import categories
>>> se = categories.get("special_equipment")
>>> [s.name for s in categories.schemes_of("special_equipment")]
['cn-cylinder-16', 'cn-equip-18', 'cn-equip-reg-20']
>>> STEPS["inspect"].biz_step, STEPS["fill"].biz_step
('inspecting', 'urn:tracecode:bizstep:filling')
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from ..errors import StepError
from .category import OUR_NAMESPACE, Category, step_texts

# States of an asset (the fold of its steps)
REGISTERED = "registered"           # its code is registered here; no step yet
MANUFACTURED = "manufactured"
INSTALLED = "installed"
IN_USE = "in_use"                   # registered for use (使用登记)
OUT_OF_SERVICE = "out_of_service"
SCRAPPED = "scrapped"

# Verdicts (what a scan of the code answers)
IN_SERVICE = "in_service"
INSPECTION_OVERDUE = "inspection_overdue"
NOT_IN_SERVICE = "out_of_service"
SCRAPPED_VERDICT = "scrapped"
NOT_REGISTERED = "not_registered"
VERDICTS = (IN_SERVICE, INSPECTION_OVERDUE, NOT_IN_SERVICE, SCRAPPED_VERDICT, NOT_REGISTERED)

# Filling records are kept at least this long (DB4114/T 185-2023); the index keeps every
# step of an asset for good, so the bound is met by never pruning (stated in the README).
FILLING_RETENTION_DAYS = 2 * 365


@dataclass(frozen=True)
class Step:
    name: str
    biz_step: str                 # CBV 2.0 bizStep or one of ours
    disposition: str | None       # CBV disposition it sets (None: unchanged)
    allowed_from: frozenset       # states it may follow
    to: str | None                # the state it sets (None: unchanged)
    needs: tuple = ()             # step fields it must carry
    cylinders_only: bool = False


_LIVE = frozenset({INSTALLED, IN_USE, OUT_OF_SERVICE})
_NOT_SCRAPPED = frozenset({REGISTERED, MANUFACTURED, INSTALLED, IN_USE, OUT_OF_SERVICE})

STEPS = {s.name: s for s in (
    Step("manufacture", "commissioning", "active", frozenset({REGISTERED}), MANUFACTURED),
    Step("install", "installing", "active", frozenset({REGISTERED, MANUFACTURED, OUT_OF_SERVICE}),
         INSTALLED),
    # registration for use (使用登记): a cylinder's names its filling unit; next_due the
    # first periodic inspection. Again after out of service: back in use.
    Step("register_use", OUR_NAMESPACE + "registering_for_use", "active",
         frozenset({REGISTERED, MANUFACTURED, INSTALLED, OUT_OF_SERVICE}), IN_USE, ("next_due",)),
    Step("maintain", OUR_NAMESPACE + "maintaining", None, _LIVE, None),
    Step("inspect", "inspecting", None, _NOT_SCRAPPED, None, ("result", "next_due")),
    Step("repair", "repairing", None, _LIVE | {MANUFACTURED}, None),
    Step("modernise", OUR_NAMESPACE + "modernising", None, _LIVE, None),
    Step("fill", OUR_NAMESPACE + "filling", None, frozenset({IN_USE}), None, (), True),
    Step("take_out_of_service", OUR_NAMESPACE + "taking_out_of_service", "inactive",
         frozenset({INSTALLED, IN_USE}), OUT_OF_SERVICE),
    # scrapping retires the code: nothing follows it
    Step("scrap", "destroying", "destroyed", _NOT_SCRAPPED, SCRAPPED),
)}
RESULTS = ("pass", "fail")



@dataclass
class Asset:
    """An asset's state, folded from its steps (oldest first)."""
    code: str
    scheme: str
    registered: dict                        # the registration record (owner, source...)
    state: str = REGISTERED
    unit: str | None = None                 # the filling unit a cylinder is registered to
    next_due: str | None = None             # next periodic inspection (ISO date)
    last_inspection: dict | None = None
    last_maintenance: dict | None = None
    last_fill: dict | None = None
    steps: list = field(default_factory=list)

    @property
    def cylinder(self) -> bool:
        return is_cylinder(self.scheme, self.code)


def is_cylinder(scheme: str, code: str) -> bool:
    """Gas cylinders: the cylinder id scheme, or an equipment code of variety 23xx (气瓶)."""
    return scheme == "cn-cylinder-16" or (scheme == "cn-equip-18" and code[:2] == "23")


def _iso(value, name: str) -> str:
    try:
        return _dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise StepError(f"{name} must be a date (YYYY-MM-DD), got {str(value)[:40]!r}",
                        field=name) from None


def check_step(step: dict) -> dict:
    """A step's fields checked and normalised: name, by (who did it), date, and what the
    step needs (inspect: result pass|fail and next_due; register_use: next_due)."""
    name = step.get("step")
    if name not in STEPS:
        raise StepError(f"step must be one of: {', '.join(STEPS)}", field="step")
    spec = STEPS[name]
    by = step.get("by")
    if not isinstance(by, str) or not by.strip() or len(by) > 200:
        raise StepError(f"{name}: every step names who did it (by: 1 to 200 characters)",
                        field="by")
    out = {"step": name, "by": by.strip(), "time": step.get("time")}
    out.update(step_texts(step, ("unit", "place", "note", "certificate"), name))
    for key in spec.needs:
        if step.get(key) in (None, ""):
            raise StepError(f"{name} needs {key}", field=key)
    if step.get("next_due") not in (None, ""):
        out["next_due"] = _iso(step["next_due"], "next_due")
    if name == "inspect":
        if step["result"] not in RESULTS:
            raise StepError(f"inspect: result must be pass or fail, got {str(step['result'])[:20]!r}",
                            field="result")
        out["result"] = step["result"]
    return out


def fold(asset: Asset, rec: dict) -> None:
    """One recorded step applied to the asset's state."""
    spec = STEPS[rec["step"]]
    if spec.to is not None:
        asset.state = spec.to
    if rec.get("next_due"):
        asset.next_due = rec["next_due"]
    if rec["step"] == "register_use" and rec.get("unit"):
        asset.unit = rec["unit"]
    elif rec["step"] == "inspect":
        asset.last_inspection = rec
    elif rec["step"] in ("maintain", "repair", "modernise"):
        asset.last_maintenance = rec
    elif rec["step"] == "fill":
        asset.last_fill = rec
    asset.steps.append(rec)


def refusal(asset: Asset, rec: dict, today: _dt.date) -> str | None:
    """Why this step may not follow the asset's state (None: it may). Filling is refused for a
    cylinder that is scrapped, not in use, overdue for inspection, failed its last one or is
    registered to another filling unit."""
    spec = STEPS[rec["step"]]
    if asset.state == SCRAPPED:
        return f"{asset.code} is scrapped (its code is retired): no {rec['step']}"
    if spec.cylinders_only and not asset.cylinder:
        return f"{asset.code} is not a gas cylinder: only cylinders are filled"
    if rec["step"] == "fill":
        return fill_refusal(asset, rec.get("unit") or rec["by"], today)
    if asset.state not in spec.allowed_from:
        allowed = ", ".join(sorted(spec.allowed_from))
        return f"cannot {rec['step']} {asset.code}: it is {asset.state} (needs {allowed})"
    if rec["step"] == "register_use" and asset.cylinder and not rec.get("unit"):
        return f"{asset.code} is a gas cylinder: its registration for use names its filling unit (unit)"
    return None


def fill_refusal(asset: Asset, unit: str, today: _dt.date) -> str | None:
    """Why ``unit`` may not fill this cylinder today (None: it may)."""
    if asset.state == SCRAPPED:
        return f"{asset.code} is scrapped: a scrapped cylinder is never filled"
    if asset.state != IN_USE:
        return f"{asset.code} is {asset.state.replace('_', ' ')}, not registered for use"
    if asset.unit and unit != asset.unit:
        return f"{asset.code} is registered to filling unit {asset.unit}, not {unit}"
    overdue = _overdue(asset, today)
    if overdue:
        return overdue
    if asset.last_inspection and asset.last_inspection["result"] == "fail":
        return (f"{asset.code} failed its inspection of {_day(asset.last_inspection)} by "
                f"{asset.last_inspection['by']}")
    return None


def _overdue(asset: Asset, today: _dt.date) -> str | None:
    if asset.next_due and _dt.date.fromisoformat(asset.next_due) < today:
        return f"inspection overdue since {asset.next_due}"
    return None


def _day(rec) -> str:
    return _dt.datetime.fromtimestamp(rec["time"], _dt.timezone.utc).date().isoformat() \
        if rec.get("time") is not None else "?"


def verdict(asset: Asset | None, today: _dt.date, unit: str | None = None) -> dict:
    """What a scan answers: verdict (VERDICTS), reasons, the state, the next inspection due,
    the last inspection and maintenance and who did them; with ``unit`` (a filling
    station's scan) whether that unit may fill it now and why not."""
    if asset is None:
        return {"verdict": NOT_REGISTERED, "reasons": ["no such code is registered"],
                "may_fill": False if unit else None}
    if asset.state == SCRAPPED:
        v, why = SCRAPPED_VERDICT, [f"scrapped on {_day(asset.steps[-1])} by {asset.steps[-1]['by']}"]
    elif asset.state == OUT_OF_SERVICE:
        v, why = NOT_IN_SERVICE, ["taken out of service"]
    elif asset.state != IN_USE:
        v, why = NOT_REGISTERED, [f"{asset.state.replace('_', ' ')}: not registered for use"]
    elif _overdue(asset, today):
        v, why = INSPECTION_OVERDUE, [_overdue(asset, today)]
    elif asset.last_inspection and asset.last_inspection["result"] == "fail":
        v, why = NOT_IN_SERVICE, [f"failed its inspection of {_day(asset.last_inspection)}"]
    else:
        v, why = IN_SERVICE, []
    out = {"verdict": v, "reasons": why, "state": asset.state, "next_due": asset.next_due,
           "unit": asset.unit, "cylinder": asset.cylinder,
           "last_inspection": _public_step(asset.last_inspection),
           "last_maintenance": _public_step(asset.last_maintenance),
           "last_fill": _public_step(asset.last_fill), "steps": len(asset.steps)}
    if unit is not None:
        why_not = fill_refusal(asset, unit, today) if asset.cylinder else \
            f"{asset.code} is not a gas cylinder"
        out["may_fill"], out["fill_refusal"] = why_not is None, why_not
    return out


def _public_step(rec):
    if rec is None:
        return None
    return {k: rec[k] for k in ("step", "by", "date", "result", "next_due", "unit") if k in rec}


def epcis_event(code_uri: str, rec: dict) -> dict:
    """A recorded step as an EPCIS 2.0 ObjectEvent (JSON-LD): its bizStep, disposition, who
    (our extension ``tc:by``) and what an inspection found."""
    spec = STEPS[rec["step"]]
    ev = {"type": "ObjectEvent", "action": "OBSERVE", "epcList": [code_uri],
          "eventTime": _dt.datetime.fromtimestamp(rec["time"], _dt.timezone.utc).isoformat(),
          "eventTimeZoneOffset": "+00:00", "bizStep": spec.biz_step, "tc:by": rec["by"]}
    if spec.disposition:
        ev["disposition"] = spec.disposition
    for key in ("result", "next_due", "unit"):
        if key in rec:
            ev[f"tc:{key}"] = rec[key]
    return ev


# The page section's words (the category's own: web's catalogs know the others)
WORDS = {
    "zh": {"title": "特种设备", IN_SERVICE: "在用（检验有效）", INSPECTION_OVERDUE: "超期未检",
           NOT_IN_SERVICE: "停用", SCRAPPED_VERDICT: "已报废（代码注销）", NOT_REGISTERED: "未登记使用",
           "next_due": "下次检验日期", "last_inspection": "最近检验", "last_maintenance": "最近维保",
           "last_fill": "最近充装", "unit": "充装单位", "owner": "代码登记方", "may_fill": "可否充装",
           "yes": "可以充装", "no": "不得充装", "pass": "合格", "fail": "不合格", "variety": "设备品种",
           "year": "制造年份", "unknown_code": "此代码未登记"},
    "en": {"title": "Special equipment", IN_SERVICE: "In service (inspection valid)",
           INSPECTION_OVERDUE: "Inspection overdue", NOT_IN_SERVICE: "Out of service",
           SCRAPPED_VERDICT: "Scrapped (code retired)", NOT_REGISTERED: "Not registered for use",
           "next_due": "Next inspection due", "last_inspection": "Last inspection",
           "last_maintenance": "Last maintenance", "last_fill": "Last filling",
           "unit": "Filling unit", "owner": "Registered by", "may_fill": "May it be filled",
           "yes": "yes", "no": "no", "pass": "pass", "fail": "fail", "variety": "Equipment variety",
           "year": "Year of manufacture", "unknown_code": "this code is not registered"},
}
TONES = {IN_SERVICE: "ok", INSPECTION_OVERDUE: "bad", NOT_IN_SERVICE: "bad", SCRAPPED_VERDICT: "bad",
         NOT_REGISTERED: "warn"}


def _who(rec, w) -> str | None:
    if not rec:
        return None
    result = f" · {w[rec['result']]}" if rec.get("result") in RESULTS else ""
    return f"{rec.get('date', '?')} · {rec['by']}{result}"


def section(svc, code: str, lang: str, unit: str | None = None) -> dict | None:
    """The public page's section for an asset: whether it may be used (with the due date
    when overdue), its last inspection and maintenance and who did them, a cylinder's
    filling unit and last filling, and with ``unit`` whether that unit may fill it now.
    Who registered the code is shown; the steps' clients and notes are not."""
    w = WORDS.get(lang, WORDS["en"])
    v = svc.dd.assets.verdict(code, unit=unit)
    if "state" not in v:
        return {"title": w["title"], "verdict": v["verdict"], "verdict_text": w["unknown_code"],
                "tone": "bad", "rows": [], "notes": []}
    product = v.get("product") or {}
    rows = [(w["variety"], product.get("variety") or product.get("class", "") + product.get("class_end", "")),
            (w["year"], product.get("year")),
            (w["owner"], v.get("owner")),
            (w["next_due"], v.get("next_due")),
            (w["last_inspection"], _who(v["last_inspection"], w)),
            (w["last_maintenance"], _who(v["last_maintenance"], w))]
    if v["cylinder"]:
        rows += [(w["unit"], v.get("unit")), (w["last_fill"], _who(v["last_fill"], w))]
    if "may_fill" in v:
        rows.append((w["may_fill"], w["yes"] if v["may_fill"] else f"{w['no']}: {v['fill_refusal']}"))
    return {"title": w["title"], "verdict": v["verdict"], "verdict_text": w[v["verdict"]],
            "tone": TONES[v["verdict"]], "rows": [(k, x) for k, x in rows if x],
            "notes": v["reasons"]}


CATEGORY = Category(
    name="special_equipment",
    title="Special equipment (特种设备)",
    lifecycle=tuple(dict.fromkeys(s.biz_step for s in STEPS.values())),
    public=("verdict", "status", "product"),
    section=section,
)
