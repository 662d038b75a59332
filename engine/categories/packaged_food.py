"""Packaged food (预包装食品: infant formula, dairy, meat products, edible oil, liquor): GS1
trade items with lot and expiry (scheme gs1-sgtin) whose lot names the SC food production
licence it was made under. This module reads the licence number; the lot's events and the
public page's section are tracecode.categories.food_lots'.

SC licence (食品生产许可证编号): "SC" + 14 digits: 3 food category, 2 province, 2 city, 2
county, 4 sequence, 1 check. The check digit's algorithm was not found: food.toml's
[sc_licence] check = "none" validates the structure and the region only (UNVERIFIED;
"mod10" is an option to switch on once the algorithm is confirmed).

>>> sc_licence("SC10531011400123")["category"]
'105'
>>> sc_licence("SC10599011400123")
Traceback (most recent call last):
...
tracecode.categories.packaged_food.FoodError: SC10599011400123: province 99 is no GB/T 2260 province
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ..errors import TracecodeError

DATA = Path(__file__).with_name("food.toml")


def data() -> dict:
    with DATA.open("rb") as f:
        return tomllib.load(f)


_SC = data()["sc_licence"]
# GB/T 2260 province-level codes
PROVINCES = frozenset({"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35",
                       "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
                       "61", "62", "63", "64", "65", "71", "81", "82"})


class FoodError(TracecodeError, ValueError):
    """A food licence, certificate or document number that is not one; ``field`` names it."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def _mod10(digits: str) -> str:
    """ISO 7064 MOD 10,11 check digit (the option food.toml may name; unverified for SC)."""
    p = 10
    for c in digits:
        s = (p + int(c)) % 10 or 10
        p = (2 * s) % 11
    return str((11 - p) % 10)


def sc_licence(number, check: str | None = None) -> dict:
    """An SC licence number's parts ({"number", "kind", "category", "category_name",
    "province", "city", "county", "sequence", "check", "check_verified"}); FoodError naming
    what is wrong. ``check``: "none" or "mod10" (default: food.toml's)."""
    text = re.sub(r"\s", "", str(number or "")).upper()
    if not re.fullmatch(r"SC[0-9]{14}", text) or not text.isascii():
        raise FoodError(f"{text[:40]!r} is no SC licence number (SC + 14 digits)", field="sc_licence")
    d = text[2:]
    kind = _SC["kinds"].get(d[0])
    if kind is None:
        raise FoodError(f"{text}: category {d[:3]} starts with neither 1 (food) nor 2 (food additive)",
                        field="sc_licence")
    if d[3:5] not in PROVINCES:
        raise FoodError(f"{text}: province {d[3:5]} is no GB/T 2260 province", field="sc_licence")
    rule = check or _SC.get("check", "none")
    if rule == "mod10" and _mod10(d[:13]) != d[13]:
        raise FoodError(f"{text}: check digit {d[13]} is wrong (mod10)", field="sc_licence")
    return {"number": text, "kind": kind, "category": d[:3], "category_name": _SC["categories"].get(d[:3]),
            "province": d[3:5], "city": d[5:7], "county": d[7:9], "sequence": d[9:13], "check": d[13],
            "check_verified": rule == "mod10"}


def production_event(gtin, lot, *, sc, producer, quantity, time, expiry=None, offset="+08:00") -> dict:
    """A lot's production as an EPCIS ObjectEvent ADD (commissioning) of its class, naming the
    SC licence it was made under (checked here) and the producer."""
    from .imported_food import _quantity, lot_class, party
    ev = {"type": "ObjectEvent", "action": "ADD", "eventTime": time, "eventTimeZoneOffset": offset,
          "epcList": [], "quantityList": [{"epcClass": lot_class(gtin, lot), **_quantity(quantity)}],
          "bizStep": "commissioning", "disposition": "active",
          "sourceList": [{"type": "owning_party", "source": party(producer)}],
          "tc:sc_licence": sc_licence(sc)["number"], "tc:producer": str(producer).strip()}
    if expiry:
        ev["ilmd"] = {"cbvmda:itemExpirationDate": str(expiry)}
    return ev
