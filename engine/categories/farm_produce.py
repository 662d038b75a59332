"""Edible farm produce (食用农产品): the producer's certificate (承诺达标合格证: producer,
product, quantity, date, the producer's commitment) issued for a lot, and the 三品一标
numbers it may carry: the organic product code (有机码: 17 digits, 3 certifier, 2 year, 12
random), green food and geographical indication numbers (layouts as data, food.toml
[farm_produce], UNVERIFIED). A certificate is the EPCIS commissioning event of the lot's
class; the public page shows it (tracecode.categories.food_lots).

>>> organic_code("12326012345678901")
{'code': '12326012345678901', 'certifier': '123', 'year': '26'}
"""
from __future__ import annotations

import datetime as _dt
import re

from .imported_food import _quantity, lot_class, party
from .packaged_food import FoodError, data

_FP = data()["farm_produce"]
# the commitments a certificate states (承诺: the producer promises one or more)
COMMITMENTS = ("no_banned_drugs", "withdrawal_periods_kept", "own_tests_passed", "entrusted_tests_passed",
               "internal_quality_control")


def organic_code(code) -> dict:
    text = re.sub(r"\s", "", str(code or ""))
    if not re.fullmatch(_FP["organic"], text):
        raise FoodError(f"{text[:30]!r} is no organic product code (17 digits: 3 certifier, 2 year, "
                        "12 random)", field="organic")
    return {"code": text, "certifier": text[:3], "year": text[3:5]}


def _mark(kind: str, value) -> str:
    text = str(value or "").strip()
    if not re.fullmatch(_FP[kind], text):
        raise FoodError(f"{text[:30]!r} is no {kind} number (food.toml [farm_produce] {kind}, unverified)",
                        field=kind)
    return text


def certificate_event(gtin, lot, *, producer, product, quantity, uom, date, commitments, time,
                      organic=None, green=None, gi=None, offset="+08:00") -> dict:
    """The certificate of a lot as an EPCIS ObjectEvent ADD (commissioning) of its class."""
    try:
        day = _dt.date.fromisoformat(str(date)).isoformat()
    except ValueError:
        raise FoodError(f"date must be YYYY-MM-DD, got {str(date)[:30]!r}", field="date") from None
    bad = [c for c in commitments or () if c not in COMMITMENTS]
    if not commitments or bad:
        raise FoodError(f"commitments are some of {', '.join(COMMITMENTS)}", field="commitments")
    product = str(product or "").strip()
    if not product or len(product) > 200:
        raise FoodError("product is named (1 to 200 characters)", field="product")
    party(producer)
    ev = {"type": "ObjectEvent", "action": "ADD", "eventTime": time, "eventTimeZoneOffset": offset,
          "epcList": [], "quantityList": [{"epcClass": lot_class(gtin, lot), **_quantity(quantity, uom)}],
          "bizStep": "commissioning", "disposition": "active",
          "tc:certificate": {"producer": str(producer).strip(), "product": product, "quantity": quantity,
                             "uom": uom, "date": day, "commitments": list(dict.fromkeys(commitments))}}
    if organic:
        ev["tc:organic"] = organic_code(organic)["code"]
    if green:
        ev["tc:green"] = _mark("green", green)
    if gi:
        ev["tc:gi"] = _mark("gi", gi)
    return ev
