"""What a food lot's events say, for its codes' public page: the producer's certificate
(farm produce), the SC licence it was made under (packaged food), its customs clearance
(imported food: declaration and certificate numbers, the importer and its filing) and the
chain of sales between operators (who sold to whom, when: the chain a buyer's receipt code
shows). The events are the lot class's EPCIS events (imported_food.lot_class), read through
the store port; this module only chooses what the public sees: numbers, operators that sell
to the public (producer, importer), the chain's operators and dates; never quantities
sold, sales record numbers or who sent the events.

The section is gs1_trade's (a code of gs1-sgtin with a lot): a lot with none of these
events gets no section.
"""
from __future__ import annotations

import datetime as _dt
from urllib.parse import unquote

from .imported_food import CLEARING, PARTY, _quantity, lot_class, number, party
from .packaged_food import FoodError, sc_licence

MAX_EVENTS = 500          # a lot's events read for its page (its sales beyond are counted as more)


def _certificate_problems(c) -> list[tuple[str, str]]:
    """(pointer below tc:certificate, message) of what is wrong in a certificate as
    farm_produce.certificate_event writes it."""
    from .farm_produce import COMMITMENTS
    if not isinstance(c, dict):
        return [("", f"tc:certificate is an object (producer, product, quantity, uom, date, commitments), "
                     f"got {type(c).__name__}")]
    out = []
    checks = {
        "producer": lambda v: party(v) if isinstance(v, str) else _no("a name"),
        "product": lambda v: v if isinstance(v, str) and 0 < len(v.strip()) <= 200 else _no("1 to 200 characters"),
        "quantity": lambda v: _quantity(v),
        "uom": lambda v: v if isinstance(v, str) and 0 < len(v) <= 10 else _no("a unit code (UN/ECE rec. 20)"),
        "date": lambda v: _dt.date.fromisoformat(v) if isinstance(v, str) else _no("YYYY-MM-DD"),
        "commitments": lambda v: v if isinstance(v, list) and v and all(x in COMMITMENTS for x in v)
        else _no("a list of some of " + ", ".join(COMMITMENTS)),
    }
    for field, check in checks.items():
        if field not in c:
            out.append((f"/{field}", f"tc:certificate has no {field}"))
            continue
        try:
            check(c[field])
        except (FoodError, ValueError, TypeError) as exc:
            out.append((f"/{field}", f"tc:certificate {field}: {exc}"))
    return out


def _no(what: str):
    raise FoodError(f"must be {what}")


def _text_check(check):
    return lambda v: check(v) if isinstance(v, str) else _no("a string")


def _marks():
    from .farm_produce import _mark, organic_code
    return {"tc:organic": _text_check(organic_code), "tc:green": _text_check(lambda v: _mark("green", v)),
            "tc:gi": _text_check(lambda v: _mark("gi", v)), "tc:sc_licence": _text_check(sc_licence),
            "tc:importer": _text_check(party), "tc:filing": _text_check(lambda v: number("filing", v)),
            "tc:circulation": lambda v: v if isinstance(v, dict) else _no("an object (node, operator, commodity)")}


def problems(event) -> list[tuple[str, str]]:
    """(JSON pointer below the event, message) of each food extension of a captured event
    naming a lot class (the events the lot's page reads) that the page could not read
    (capture refuses the event: one bad certificate must not break the page of every code
    of its lot)."""
    if not isinstance(event, dict) or not any(isinstance(k, str) and k.startswith("tc:") for k in event):
        return []
    if not any(event.get(f) for f in ("quantityList", "childQuantityList", "inputQuantityList",
                                      "outputQuantityList")):
        return []   # a lot's events name its class; an instance's (livestock: tc:certificate a number) are not food's
    out = []
    if "tc:certificate" in event:
        out += [("/tc:certificate" + where, msg) for where, msg in _certificate_problems(event["tc:certificate"])]
    for key, check in _marks().items():
        if key in event:
            try:
                check(event[key])
            except (FoodError, ValueError, TypeError) as exc:
                out.append((f"/{key}", f"{key}: {exc}"))
    return out


def lot_events(store, cls: str) -> tuple[list, bool]:
    """(the events naming the lot class, oldest first; whether there were more); those
    declared erroneous and their declarations left out (declared.standing)."""
    from .. import epcis
    from ..store.port import EpcisQuery
    from .declared import standing
    try:      # the store keys an EPC by its code form when it has one (as app.epcis.epc_key)
        key = epcis.to_code(cls)
    except epcis.EpcisError:
        key = cls
    records, more = store.epcis_find(EpcisQuery(epcs=(key,), epc_roles=("class",), order_by="eventTime",
                                                declared=False), None, MAX_EVENTS)
    return [r.event for r in standing(store, records)], more is not None


def _party(uri) -> str | None:
    return unquote(uri[len(PARTY):]) if isinstance(uri, str) and uri.startswith(PARTY) else None


def _refs(ev, kind) -> list:
    return [t.get("bizTransaction", "").rsplit(":", 1)[-1] for t in ev.get("bizTransactionList", ())
            if isinstance(t, dict) and t.get("type", "").endswith(":" + kind)]


def lot_record(events: list) -> dict:
    """What the lot's events say: certificate, sc_licence, clearance, chain."""
    out = {"certificate": None, "sc_licence": None, "clearance": None, "chain": [], "marks": {}, "unreadable": 0}
    for ev in events:
        if not isinstance(ev, dict):
            out["unreadable"] += 1
            continue
        if ev.get("tc:certificate") and out["certificate"] is None:
            if _certificate_problems(ev["tc:certificate"]):   # stored before capture checked it: skipped
                out["unreadable"] += 1
            else:
                out["certificate"] = ev["tc:certificate"]
                out["marks"] = {k: ev[f"tc:{k}"] for k in ("organic", "green", "gi")
                                if isinstance(ev.get(f"tc:{k}"), str) and ev[f"tc:{k}"]}
        if ev.get("tc:sc_licence") and out["sc_licence"] is None:
            try:
                out["sc_licence"] = sc_licence(ev["tc:sc_licence"])
            except FoodError as exc:
                out["sc_licence"] = {"number": str(ev["tc:sc_licence"])[:40], "error": str(exc)}
        if ev.get("bizStep") == CLEARING and out["clearance"] is None:
            out["clearance"] = {"declaration": (_refs(ev, "customs_declaration") or [None])[0],
                                "certificate": (_refs(ev, "inspection_certificate") or [None])[0],
                                "importer": _text(ev.get("tc:importer")), "filing": _text(ev.get("tc:filing")),
                                "time": ev.get("eventTime")}
        if ev.get("type") == "TransactionEvent" and isinstance(ev.get("eventTime"), str):
            src = [_party(s.get("source")) for s in ev.get("sourceList", ()) if isinstance(s, dict)]
            dst = [_party(s.get("destination")) for s in ev.get("destinationList", ()) if isinstance(s, dict)]
            circ = ev.get("tc:circulation") if isinstance(ev.get("tc:circulation"), dict) else {}
            out["chain"].append({"from": next((s for s in src if s), None), "to": next((d for d in dst if d), None),
                                 "time": ev.get("eventTime"), "node": circ.get("node"),
                                 "node_kind": circ.get("node_kind"), "commodity": circ.get("commodity_name")})
    return out


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


WORDS = {
    "zh": {"title": "食品追溯", "ok": "来源可查", "producer": "生产者", "product": "产品", "date": "开具日期",
           "commitments": "承诺", "sc": "食品生产许可证", "declaration": "报关单号", "certificate": "检验检疫证明编号",
           "importer": "进口商", "filing": "进口商备案号", "chain": "流通环节", "organic": "有机码",
           "green": "绿色食品",
           "gi": "地理标志", "unchecked": "校验位算法未核实", "commodity": "商品",
           "unreadable": "该批次有 {n} 条记录无法读取，未显示"},
    "en": {"title": "Food traceability", "ok": "Origin on record", "producer": "Producer", "product": "Product",
           "date": "Certificate date", "commitments": "Commitments", "sc": "SC production licence",
           "declaration": "Customs declaration", "certificate": "Inspection & quarantine certificate",
           "importer": "Importer", "filing": "Importer filing", "chain": "Sales chain", "organic": "Organic code",
           "green": "Green food", "gi": "Geographical indication", "unchecked": "check digit not verified",
           "commodity": "Commodity", "unreadable": "{n} stored record(s) of this lot could not be read: not shown"},
}


def section(svc, code: str, lang: str, unit=None) -> dict | None:
    """The page's food section of a trade item code whose lot has food events (None: none)."""
    try:
        answer = svc.dd.verify(code, record=False)
    except ValueError:
        return None
    gtin, lot = (getattr(answer, "product", None) or {}).get("gtin"), getattr(answer, "lot", None)
    if not gtin or not lot:
        return None
    try:
        events, more = lot_events(svc.dd.index.store, lot_class(gtin, lot))
    except FoodError:
        return None
    rec = lot_record(events)
    if not (rec["certificate"] or rec["sc_licence"] or rec["clearance"] or rec["chain"] or rec["unreadable"]):
        return None
    w = WORDS.get(lang, WORDS["en"])
    rows, notes = [], []
    if rec["unreadable"]:
        notes.append(w["unreadable"].format(n=rec["unreadable"]))
    if rec["certificate"]:
        c = rec["certificate"]
        rows += [(w["producer"], c["producer"]), (w["product"], f"{c['product']} · {c['quantity']} {c['uom']}"),
                 (w["date"], c["date"]), (w["commitments"], ", ".join(c["commitments"]))]
        rows += [(w[k], v) for k, v in rec["marks"].items()]
    if rec["sc_licence"]:
        s = rec["sc_licence"]
        if "error" in s:
            rows.append((w["sc"], s["number"]))
            notes.append(s["error"])
        else:
            rows.append((w["sc"], f"{s['number']} · {s['category_name'] or s['category']}"
                                  + ("" if s["check_verified"] else f" ({w['unchecked']})")))
    if rec["clearance"]:
        c = rec["clearance"]
        rows += [(w["declaration"], c["declaration"]), (w["certificate"], c["certificate"]),
                 (w["importer"], c["importer"]), (w["filing"], c["filing"])]
    if rec["chain"]:
        hops = [f"{h['time'][:10]} {h['from']} → {h['to']}"
                + (f" ({h['node_kind'] or 'node'} {h['node']})" if h.get("node") else "") for h in rec["chain"]]
        commodity = next((h["commodity"] for h in rec["chain"] if h.get("commodity")), None)
        if commodity:
            rows.append((w["commodity"], commodity))
        rows.append((w["chain"], " | ".join(hops) + (" …" if more else "")))
    bad = "error" in (rec["sc_licence"] or {}) or bool(rec["unreadable"])
    return {"title": w["title"], "verdict": "on_record", "verdict_text": w["ok"], "tone": "warn" if bad else "ok",
            "rows": [(k, str(v)) for k, v in rows if v], "notes": notes}
