"""GS1 trade items: the serialised GTIN (SGTIN), for drugs, food and imports.

Scheme ``gs1-sgtin`` (schemes/builtin/gs1-sgtin.toml): (01) GTIN-14 with its
mod-10 check digit and (21) a 12-digit FF1 serial; (17) expiry and (10) lot
as batch attributes. Its codes are told apart by the GS1 syntax (symbology
identifier, GS, AIs, Digital Link) or, bare, by their 26 digits and the
GTIN's check digit. No registry is checked.

>>> from tracecode import categories
>>> [s.name for s in categories.schemes_of("gs1_trade")]
['gs1-sgtin']
>>> categories.get("gs1_trade").public[-3:]
('scan_count', 'status', 'production_date')
"""
from . import food_lots, rare_earth
from .category import Category


def _lot_section(svc, code: str, lang: str, unit=None):
    """A lot's section: rare earth's when a rare-earth step made the lot, else food's (None: neither)."""
    return rare_earth.section(svc, code, lang, unit) or food_lots.section(svc, code, lang, unit)


CATEGORY = Category(
    name="gs1_trade",
    title="GS1 trade items (SGTIN)",
    public=("verdict", "product", "lot", "expiry", "first_scan_time", "first_scan_place",
            "scan_count", "status", "production_date"),
    # rare-earth lots (weight, origin lots, enterprise): rare_earth; food lots (farm produce
    # certificates, SC licences, imports, sales chains): food_lots
    section=_lot_section,
)
