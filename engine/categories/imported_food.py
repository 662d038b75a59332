"""Imported food (进口食品: milk powder, wine): a lot (GS1 trade items of one GTIN and lot)
cleared through customs is linked to its customs declaration number, its inspection and
quarantine certificate, the importer and the importer's filing number; the importer's
sales of it are its sales records. Each is an EPCIS event on the lot's class
(``https://id.gs1.org/01/GTIN/10/LOT``), so capture stores it, queries find it by number
(EQ_bizTransaction_urn:tracecode:btt:customs_declaration) and the public page shows the
declaration and certificate numbers and the importer (tracecode.categories.food_lots).

The number layouts are data (food.toml [imported], UNVERIFIED).

>>> ev = clearance_event("09300123456781", "L2611", declaration="310120261001234567",
...     certificate="310000126000123", importer="Shanghai Ausmilk Trading", filing="IMP3100012345",
...     quantity=1200, time="2026-11-02T10:00:00+08:00")
>>> ev["bizStep"], [t["type"].rsplit(":", 1)[1] for t in ev["bizTransactionList"]]
('urn:tracecode:bizstep:customs_clearing', ['customs_declaration', 'inspection_certificate'])
"""
from __future__ import annotations

import re
from urllib.parse import quote

from .category import OUR_NAMESPACE
from .packaged_food import FoodError, data

_IM = data()["imported"]
CLEARING = OUR_NAMESPACE + "customs_clearing"      # 通关放行: the lot enters the market
PARTY = "urn:tracecode:party:"                     # an operator, by its name


def lot_class(gtin: str, lot: str) -> str:
    """The EPC class of a lot, as the events name it (GS1 Digital Link)."""
    if not re.fullmatch(r"[0-9]{14}", str(gtin)):
        raise FoodError(f"{str(gtin)[:20]!r} is no GTIN-14", field="gtin")
    if not lot or len(str(lot)) > 20 or not re.fullmatch(r"[!-~]+", str(lot)):
        raise FoodError(f"{str(lot)[:30]!r} is no lot (1 to 20 printable ASCII characters)", field="lot")
    return f"https://id.gs1.org/01/{gtin}/10/{quote(str(lot), safe='')}"


def number(kind: str, value) -> str:
    """A declaration, certificate or filing number checked against food.toml's layout."""
    text = re.sub(r"\s", "", str(value or ""))
    if not re.fullmatch(_IM[kind], text):
        raise FoodError(f"{text[:40]!r} is no {kind} number (food.toml [imported] {kind}, unverified)",
                        field=kind)
    return text


def party(name: str) -> str:
    name = str(name or "").strip()
    if not name or len(name) > 200:
        raise FoodError("an operator is named (1 to 200 characters)", field="party")
    return PARTY + quote(name, safe="")


def _quantity(q, uom="EA") -> dict:
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1e9:
        raise FoodError(f"quantity must be a positive number, got {q!r}", field="quantity")
    return {"quantity": q, "uom": uom}


def clearance_event(gtin, lot, *, declaration, certificate, importer, filing, quantity, time,
                    uom="EA", offset="+08:00") -> dict:
    """The EPCIS ObjectEvent of a lot's customs clearance: its declaration and certificate as
    bizTransactions, the importer (owning party) and its filing number."""
    cls = lot_class(gtin, lot)
    return {"type": "ObjectEvent", "action": "OBSERVE", "eventTime": time, "eventTimeZoneOffset": offset,
            "epcList": [], "quantityList": [{"epcClass": cls, **_quantity(quantity, uom)}],
            "bizStep": CLEARING, "disposition": "active",
            "bizTransactionList": [
                {"type": _IM["declaration_type"],
                 "bizTransaction": f"urn:tracecode:bt:customs_declaration:{number('declaration', declaration)}"},
                {"type": _IM["certificate_type"],
                 "bizTransaction": f"urn:tracecode:bt:inspection_certificate:{number('certificate', certificate)}"}],
            "destinationList": [{"type": "owning_party", "destination": party(importer)}],
            "tc:importer": str(importer).strip(), "tc:filing": number("filing", filing)}


def circulation(node=None, operator=None, commodity=None) -> dict:
    """Meat and vegetable circulation codes (SB/T 10680; food.toml [circulation], UNVERIFIED
    layouts) checked: {"node", "node_kind", "operator", "commodity", "commodity_name"} of
    those given."""
    c = data()["circulation"]
    out = {}
    if node is not None:
        node = str(node).strip()
        if not re.fullmatch(c["node"], node):
            raise FoodError(f"{node[:30]!r} is no node code (food.toml [circulation] node, unverified)",
                            field="node")
        out.update(node=node, node_kind=c["node_kinds"].get(node[6]))
    if operator is not None:
        operator = str(operator).strip()
        if not re.fullmatch(c["operator"], operator) or (node is not None and not operator.startswith(node)):
            raise FoodError(f"{operator[:30]!r} is no operator code of node {node} (food.toml [circulation])",
                            field="operator")
        out["operator"] = operator
    if commodity is not None:
        commodity = str(commodity).strip()
        if commodity not in c["commodities"]:
            raise FoodError(f"{commodity[:20]!r} is no commodity code of food.toml [circulation]",
                            field="commodity")
        out.update(commodity=commodity, commodity_name=c["commodities"][commodity])
    return out


def sale_event(gtin, lot, *, seller, buyer, record, quantity, time, uom="EA", offset="+08:00",
               node=None, operator=None, commodity=None) -> dict:
    """A sale of (part of) a lot between operators, as a TransactionEvent: the seller's sales
    record number, from the seller to the buyer (the importer's sales records; a wholesale
    market's to a retailer's); for meat and vegetables, the node where it was sold, the
    seller's operator code and the commodity code (``circulation``)."""
    codes = circulation(node, operator, commodity)
    record = str(record or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", record):
        raise FoodError(f"{record[:40]!r} is no sales record number (1 to 64 letters, digits, . _ -)",
                        field="record")
    return {"type": "TransactionEvent", "action": "ADD", "eventTime": time, "eventTimeZoneOffset": offset,
            "epcList": [], "quantityList": [{"epcClass": lot_class(gtin, lot), **_quantity(quantity, uom)}],
            "bizStep": "shipping",
            "bizTransactionList": [{"type": _IM["sale_type"],
                                    "bizTransaction": f"urn:tracecode:bt:sales_record:{quote(record, safe='')}"}],
            "sourceList": [{"type": "owning_party", "source": party(seller)}],
            "destinationList": [{"type": "owning_party", "destination": party(buyer)}],
            **({"tc:circulation": codes} if codes else {})}
