"""EPCIS capture drives hazardous goods' flow steps: a stored ObjectEvent whose bizStep is a
step of tracecode.categories.hazardous and whose EPCs are registered hazardous-goods codes
records that step for each of them (through Service.asset_steps: the caller's rights, the
licence check, the quantity balance, the audit), as if sent to ``tracecode asset-steps``.

The step's fields are the event's extension fields under our namespace (``tc:by``,
``tc:licence``, ``tc:quantity``, ``tc:warehouse``...; what hazardous.epcis_event writes); the
EPCs name the codes as ``urn:tracecode:asset:SCHEME:CODE`` or as the code's page
``https://BASE/c/CODE``. The event is stored whatever the step's fate (it happened); a
refused step is an error of the job naming the event, and the job's ``asset_steps`` counts
recorded and refused. A step is recorded once per event id: capturing the same document
again records nothing twice.
"""
from __future__ import annotations

import datetime as _dt

from ..categories import hazardous as hz
from ..categories import livestock as lv

CBV_PREFIX = "https://ref.gs1.org/cbv/BizStep-"
# the categories whose steps capture records (their bizSteps apart: livestock's are all ours)
CATEGORIES = {"hazardous": hz, "livestock": lv}
STEP_OF = {s.biz_step: s.name for s in hz.STEPS.values()}
STEP_OF.update({s.biz_step: s.name for s in lv.STEPS.values()})
FIELDS = ("by", "licence", "quantity", "used", "returned", "warehouse", "vehicle", "driver", "site",
          "responsible", "place", "note", "certificate", "mark", "cause", "record", "new_tag", "replaces")


ASSET_URN = "urn:tracecode:asset:"


def asset_code(epc) -> str | None:
    """The code of our URN of a registered code (urn:tracecode:asset:SCHEME:CODE; None:
    another URI): no EPC form, kept as written, its rights the code's (app.epcis)."""
    if isinstance(epc, str) and epc.startswith(ASSET_URN) and epc.count(":") == 4:
        return epc.rsplit(":", 1)[-1] or None
    return None


def _codes(epcs) -> list:
    out = []
    for epc in epcs if isinstance(epcs, list) else ():
        if not isinstance(epc, str):
            continue
        if epc.startswith(ASSET_URN):
            out.append(epc.rsplit(":", 1)[-1])
        elif epc.startswith(("https://", "http://")) and "/c/" in epc:
            out.append(epc.rsplit("/c/", 1)[-1].split("?", 1)[0])
    return out


def step_of_event(ev: dict) -> dict | None:
    """The hazardous-goods step an EPCIS ObjectEvent records (None: it records none)."""
    if not isinstance(ev, dict) or ev.get("type") != "ObjectEvent":
        return None
    biz = ev.get("bizStep") or ""
    biz = biz[len(CBV_PREFIX):] if biz.startswith(CBV_PREFIX) else biz
    name = STEP_OF.get(biz)
    if name is None:
        return None
    step = {"step": name}
    for key in FIELDS:
        value = ev.get(f"tc:{key}", ev.get(f"urn:tracecode:ext:{key}"))
        if value is not None:
            step[key] = value
    try:
        step["time"] = _dt.datetime.fromisoformat(str(ev.get("eventTime")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    return step


def apply(svc, caller, job: dict, items) -> None:
    """Record the steps of the stored events of a capture (Capture.begin's finish)."""
    if job.get("behaviour") == "rollback" and any(it.failed for it in items):
        return                       # nothing was stored
    from .assets import MAX_STEPS_PER_CALL
    from .epcis import _error
    recorded = refused = 0
    records: dict = {}   # scheme -> whether its category records this step (asked once per scheme)
    for it in items:
        if it.failed or it.record is None:
            continue
        step = step_of_event(it.event)
        if step is None:
            continue
        entries = []
        for code in _codes(it.event.get("epcList")):
            reg = svc.dd.assets.registration(code)
            if reg is None:
                continue
            key = (reg["scheme"], step["step"])
            if key not in records:
                records[key] = _records_steps(svc, *key)
            if not records[key]:
                continue
            if any(s.get("event") == it.eid for s in svc.dd.assets.steps(code)):
                continue             # this event's step is recorded already
            entries.append(dict(step, code=code, event=it.eid))
        # one Service call (its rights, one audit line) per event, not one per EPC
        for at in range(0, len(entries), MAX_STEPS_PER_CALL):
            for res in svc.assets.steps(caller, entries[at:at + MAX_STEPS_PER_CALL], method="Capture"):
                if res.get("ok"):
                    recorded += 1
                else:
                    refused += 1
                    _error(job, it.pointer, it.eid, res.get("reason", "refused"), res.get("error", ""))
    if recorded or refused:
        job["asset_steps"] = {"recorded": recorded, "refused": refused}


def _records_steps(svc, scheme: str, step_name: str) -> bool:
    """Whether a code of this scheme records this step by capture (its category has it)."""
    from .. import categories
    sch = svc.dd.index.schemes.get(scheme)
    if sch is None:
        return False
    cat = categories.of_scheme(sch).name
    return cat in CATEGORIES and step_name in CATEGORIES[cat].STEPS
