"""Rare earth (稀土): traced by lot and weight from mining through smelting and separation
to metals, sales and export.

No national code format was found, so rare earth has no scheme of its own: lots are GS1
LGTINs ((01)GTIN(10)LOT, epcClass with a quantity), logistic units SSCCs, anything else
the generic scheme. What this module knows is the rules:

- its steps as EPCIS bizSteps under our namespace (CBV has no mining or separating):
  mining (an ObjectEvent ADD whose quantityList is the ore or concentrate produced),
  separating and smelting (TransformationEvents: input lots with quantities to output
  lots), then CBV shipping / receiving for sales and our exporting for export;
- the mass balance of a TransformationEvent: its output mass must not exceed its input
  mass by more than the tolerance (settings.toml [rare_earth] tolerance, a fraction,
  default TOLERANCE); quantities in KGM, TNE, GRM (UN/ECE rec. 20) are compared in kg,
  others are "not comparable";
- production against the directive plan: mining output counts against an enterprise's
  "mining" quota, separating and smelting output against its "smelting" quota, per
  calendar year of the eventTime (tracecode.app.quotas keeps the quotas and sums);
- VAT special invoices and customs export declarations as bizTransactions: their types
  and id rule are data (rare_earth.toml: an operator corrects them without code).

>>> ev = {"type": "TransformationEvent", "bizStep": STEPS["separating"],
...       "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.107346.C1", "quantity": 2, "uom": "TNE"}],
...       "outputQuantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.107346.O1", "quantity": 2100, "uom": "KGM"}]}
>>> c = mass_balance(ev, 0.02)
>>> c["ok"], c["input_kg"], c["output_kg"]
(False, 2000.0, 2100.0)
>>> production(ev, 0)
('smelting', 1970, 2100.0)
"""
from __future__ import annotations

import datetime as _dt
import math
import re
import tomllib
from pathlib import Path

from ..errors import TracecodeError
from .category import OUR_NAMESPACE, Category

STEPS = {name: OUR_NAMESPACE + "rare_earth_" + name for name in ("mining", "separating", "smelting", "exporting")}
SALES_STEPS = ("shipping", "receiving")         # CBV: a sale carries its VAT special invoice
QUOTA_OF_STEP = {STEPS["mining"]: "mining", STEPS["separating"]: "smelting", STEPS["smelting"]: "smelting"}
QUOTA_KINDS = ("mining", "smelting")
TOLERANCE = 0.005                                # 0.5 % more out than in, before it is flagged
KG_PER = {"KGM": 1.0, "TNE": 1000.0, "GRM": 0.001, "kg": 1.0, "t": 1000.0, "g": 0.001}
CHECKS_FIELD = "tracecode:checks"                # the checks' results in the stored event
DATA = Path(__file__).with_name("rare_earth.toml")


class RareEarthError(TracecodeError, ValueError):
    """A rare-earth setting, quota or transaction number that cannot be read."""


def _data() -> dict:
    with DATA.open("rb") as f:
        return tomllib.load(f)


TRANSACTIONS: dict = _data()["transactions"]    # kind -> {"type": URI, "id": "...{number}", "title"}


def transaction_id(kind: str, number: str) -> str:
    """The bizTransaction id of a VAT special invoice or a customs declaration number.

    >>> transaction_id("vat_special_invoice", "044001900111-12345678")
    'urn:tracecode:bt:vat_special_invoice:044001900111-12345678'
    """
    if kind not in TRANSACTIONS:
        raise RareEarthError(f"unknown transaction kind {kind!r} (known: {', '.join(TRANSACTIONS)})")
    number = str(number).strip()
    if not number or len(number) > 64 or not number.isascii() or not all(c.isalnum() or c in "-_." for c in number):
        raise RareEarthError(f"{number[:40]!r} is not a {TRANSACTIONS[kind]['title']} number "
                             "(1 to 64 letters, digits, - _ .)")
    return TRANSACTIONS[kind]["id"].format(number=number)


def tolerance(settings) -> float:
    """settings.toml [rare_earth] tolerance (a fraction, 0 to 1), or TOLERANCE."""
    table = getattr(settings, "rare_earth", None) or {}
    value = table.get("tolerance", TOLERANCE)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RareEarthError(f"[rare_earth] tolerance is a fraction from 0 to 1 (0.005 = 0.5 %), got {value!r}")
    return float(value)


def kg(entries) -> tuple[float, list]:
    """(the mass of quantity entries in kg, the uoms that are not masses)."""
    total, other = 0.0, []
    for q in entries or ():
        if not isinstance(q, dict) or isinstance(q.get("quantity"), bool) \
                or not isinstance(q.get("quantity"), (int, float)):
            continue
        factor = KG_PER.get(q.get("uom") or "")
        if factor is None:
            other.append(q.get("uom"))
        else:
            total += q["quantity"] * factor
    return total, other


QUANTITY_FIELDS = ("quantityList", "inputQuantityList", "outputQuantityList", "childQuantityList")


def quantity_problems(event: dict) -> list[tuple[str, str]]:
    """(JSON pointer below the event, message) of each negative or non-finite quantity of a
    rare-earth event: a mass produced, consumed or shipped is never below zero (-80 t of ore
    would lower the year's production against its quota), so such an event is refused.

    >>> quantity_problems({"quantityList": [{"epcClass": "x", "quantity": -80, "uom": "TNE"}]})
    [('/quantityList/0/quantity', 'quantity -80 of x is negative: a mass is 0 or more')]
    """
    out = []
    for field in QUANTITY_FIELDS:
        entries = event.get(field) if isinstance(event, dict) else None
        for k, q in enumerate(entries if isinstance(entries, list) else ()):
            value = q.get("quantity") if isinstance(q, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            where = f"/{field}/{k}/quantity"
            if not math.isfinite(value):
                out.append((where, f"quantity {value!r} of {q.get('epcClass')} is not a finite number"))
            elif value < 0:
                out.append((where, f"quantity {value!r} of {q.get('epcClass')} is negative: a mass is 0 or more"))
    return out


def is_rare_earth(event: dict) -> bool:
    return isinstance(event, dict) and event.get("bizStep") in QUOTA_OF_STEP.keys() | {STEPS["exporting"]}


def mass_balance(event: dict, tol: float) -> dict | None:
    """The mass balance check of a rare-earth TransformationEvent (None for other events):
    {"check", "ok" (None: not comparable), "input_kg", "output_kg", "tolerance", "detail"}."""
    if event.get("type") != "TransformationEvent" or not is_rare_earth(event):
        return None
    got_in, odd_in = kg(event.get("inputQuantityList"))
    got_out, odd_out = kg(event.get("outputQuantityList"))
    out = {"check": "mass_balance", "input_kg": got_in, "output_kg": got_out, "tolerance": tol}
    if odd_in or odd_out:
        return {**out, "ok": None, "detail": f"not comparable: uom {(odd_in + odd_out)[0]!r} is not a mass"}
    if got_out > got_in * (1 + tol):
        return {**out, "ok": False, "detail": f"outputs {got_out:,.3f} kg exceed inputs {got_in:,.3f} kg "
                                              f"by more than {tol:.2%}"}
    return {**out, "ok": True, "detail": "outputs within inputs and the tolerance"}


def production(event: dict, time: float) -> tuple[str, int, float] | None:
    """(quota kind, year, kg produced) of a production step (mining's quantityList, a
    separating or smelting TransformationEvent's outputs); None for other events."""
    kind = QUOTA_OF_STEP.get(event.get("bizStep")) if isinstance(event, dict) else None
    if kind is None:
        return None
    field = "quantityList" if event.get("type") == "ObjectEvent" else "outputQuantityList"
    made, _ = kg(event.get(field))
    return kind, _dt.datetime.fromtimestamp(time, _dt.timezone.utc).year, made


def enterprise(event: dict, client: str | None) -> str | None:
    """Whose production an event is: its owning_party source (the enterprise's PGLN or id),
    else the client that captured it."""
    for s in event.get("sourceList") or ():
        if isinstance(s, dict) and str(s.get("type", "")).endswith("owning_party") and isinstance(s.get("source"), str):
            return s["source"]
    return client


# -- the public page's section of a rare-earth lot ----------------------------------------
# A bag or drum carries a GS1 code (gs1-sgtin with its lot, or the lot's own LGTIN): the
# page of that code shows the lot, its product (the GTIN), its weight when it was made, the
# step and date that made it, the enterprise (the event's owning party) and the lots it was
# made from, back to the ore; never quotas, the checks' results, invoice or declaration
# numbers, quantities sold or exported, nor who sent the events.
MADE_BY = {STEPS["mining"]: "mining", STEPS["separating"]: "separating", STEPS["smelting"]: "smelting"}
ORIGIN_DEPTH = 6        # lots walked back from a lot to its ore (each one store query)
MAKING_EVENTS = 50      # a lot's events read to find the one that made it (the first, by eventTime)
_LOT = re.compile(r"\(01\)([0-9]{14})\(10\)(.{1,20})\Z")


def _key(cls) -> str | None:
    """A lot class (Digital Link or LGTIN URN) as the store keys it: (01)GTIN(10)LOT."""
    from .. import epcis
    try:
        return epcis.to_code(cls)
    except (epcis.EpcisError, TypeError):
        return None


def _making(events: list, key: str) -> dict | None:
    """The event that made the lot ``key``: its mining (quantityList) or the separating or
    smelting TransformationEvent with it among the outputs; the first such, oldest first."""
    for ev in events:
        if not isinstance(ev, dict) or ev.get("bizStep") not in MADE_BY:
            continue
        field = "quantityList" if ev.get("type") == "ObjectEvent" else "outputQuantityList"
        if any(isinstance(q, dict) and _key(q.get("epcClass")) == key for q in ev.get(field) or ()):
            return ev
    return None


def _mass(entries, key: str) -> float | None:
    got = [q for q in entries or () if isinstance(q, dict) and _key(q.get("epcClass")) == key]
    total, odd = kg(got)
    return None if odd or not got else total


def _owner(event: dict) -> str | None:
    from .imported_food import PARTY
    from urllib.parse import unquote
    who = enterprise(event, None)
    return unquote(who[len(PARTY):]) if isinstance(who, str) and who.startswith(PARTY) else who


def lot_origin(store, key: str) -> dict | None:
    """What the lot's events say for its page: {"lot", "gtin", "step", "date", "kg",
    "enterprise", "from": [the input lots' (lot, kg used)], "chain": [each earlier lot's
    (lot, step)]}; None: no rare-earth event made this lot."""
    m = _LOT.match(key or "")
    if m is None:
        return None
    ev = _making(_made_events(store, key), key)
    if ev is None:
        return None
    field = "quantityList" if ev.get("type") == "ObjectEvent" else "outputQuantityList"
    out = {"lot": m[2], "gtin": m[1], "step": MADE_BY[ev["bizStep"]], "date": str(ev.get("eventTime", ""))[:10],
           "kg": _mass(ev.get(field), key), "enterprise": _owner(ev),
           "from": [(_lot_name(k), _mass([q], k)) for q, k in _inputs(ev)], "chain": []}
    seen, todo = {key}, [k for _, k in _inputs(ev)]
    while todo and len(out["chain"]) < ORIGIN_DEPTH:   # the first input's line back to the ore
        here = todo[0]
        found = _LOT.match(here)
        if here in seen or found is None:
            break
        seen.add(here)
        made = _making(_made_events(store, here), here)
        out["chain"].append((found[2], MADE_BY[made["bizStep"]] if made else None))
        todo = [k for _, k in _inputs(made)] if made else []
    return out


def _made_events(store, key: str) -> list:
    """The events naming the lot's class among their quantities or outputs (where the step
    that made it is), oldest first, at most MAKING_EVENTS; those declared erroneous left out
    (declared.standing: the corrective event takes their place)."""
    from ..store.port import EpcisQuery
    from .declared import standing
    records, _ = store.epcis_find(EpcisQuery(epcs=(key,), epc_roles=("class", "output_class"),
                                             order_by="eventTime", declared=False), None, MAKING_EVENTS)
    return [r.event for r in standing(store, records)]


def _inputs(ev: dict) -> list:
    """(entry, its class as the store keys it) of a TransformationEvent's input lots."""
    out = []
    for q in ev.get("inputQuantityList") or ():
        k = _key(q.get("epcClass")) if isinstance(q, dict) else None
        if k:
            out.append((q, k))
    return out


def _lot_name(key: str) -> str:
    found = _LOT.match(key)
    return found[2] if found else key[:60]


WORDS = {
    "zh": {"title": "稀土产品追溯", "ok": "来源可查", "lot": "批次", "product": "产品（GTIN）", "weight": "重量",
           "made": "生产环节", "enterprise": "企业", "from": "原料批次", "chain": "来源链",
           "mining": "开采", "separating": "冶炼分离", "smelting": "金属冶炼"},
    "en": {"title": "Rare earth traceability", "ok": "Origin on record", "lot": "Lot", "product": "Product (GTIN)",
           "weight": "Weight", "made": "Made by", "enterprise": "Enterprise", "from": "Made from lots",
           "chain": "Origin", "mining": "mining", "separating": "separation", "smelting": "smelting"},
}


def _weight(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value / 1000:,.3f} t" if value >= 1000 else f"{value:,.3f} kg"


def section(svc, code: str, lang: str, unit=None) -> dict | None:
    """The page's rare-earth section of a GS1 code whose lot a rare-earth step made
    (None: no such lot). See the note above WORDS for what it shows and leaves out."""
    try:
        answer = svc.dd.verify(code, record=False)
    except ValueError:
        return None
    gtin, lot = (getattr(answer, "product", None) or {}).get("gtin"), getattr(answer, "lot", None)
    if not gtin or not lot or len(str(lot)) > 20:
        return None
    rec = lot_origin(svc.dd.index.store, f"(01){gtin}(10){lot}")
    if rec is None:
        return None
    w = WORDS.get(lang, WORDS["en"])
    rows = [(w["lot"], rec["lot"]), (w["product"], rec["gtin"]), (w["weight"], _weight(rec["kg"])),
            (w["made"], f"{w[rec['step']]} · {rec['date']}"), (w["enterprise"], rec["enterprise"]),
            (w["from"], ", ".join(f"{lot} ({_weight(m)})" if m is not None else lot for lot, m in rec["from"])),
            (w["chain"], " ← ".join([rec["lot"]] + [f"{lot} ({w[step]})" if step else lot
                                                     for lot, step in rec["chain"]]) if rec["chain"] else None)]
    return {"title": w["title"], "category": "rare_earth", "verdict": "on_record", "verdict_text": w["ok"],
            "tone": "ok", "rows": [(k, str(v)) for k, v in rows if v], "notes": []}


CATEGORY = Category(
    name="rare_earth",
    title="Rare earth (稀土)",
    lifecycle=(*STEPS.values(), *SALES_STEPS),
    public=("verdict", "product", "lot", "scan_count"),
    section=section,     # shown on its lots' GS1 codes (gs1_trade's section asks it first)
)
