"""Drugs and vaccines (药品): the 20-digit NMPA drug trace code.

Scheme ``cn-drug-20`` (schemes/builtin/cn-drug-20.toml): the 7-digit drug
identifier (药品标识码, one per product and packaging level) and a 13-digit
serial, 12 FF1 digits and a Damm check digit over the whole code. Codes in
circulation start with 8 (verification services refuse others): a soft
rule. A code that does not start with 8 is still read as a drug code when no
other scheme fits it; when another 20-digit scheme fits it too, the other
reads it. One that starts with 8 and fits another scheme with no rule against
it is AMBIGUOUS until the index (the products it issued) decides. No registry is checked (the index's
answer is the verdict); the lifecycle ends in dispensing.

>>> from tracecode import categories, schemes
>>> drugs = categories.get("drugs")
>>> [s.name for s in categories.schemes_of("drugs")], drugs.prefixes
(['cn-drug-20'], ('8',))
>>> schemes.get("cn-drug-20").is_valid("81773220000000000001")
True
>>> "dispensing" in drugs.lifecycle, drugs.registry
(True, None)
"""
from .category import Category

CATEGORY = Category(
    name="drugs",
    title="Drugs and vaccines (药品)",
    prefixes=("8",),
    lifecycle=("commissioning", "decommissioning", "packing", "unpacking", "shipping",
               "receiving", "retail_selling", "dispensing", "holding", "destroying"),
    public=("verdict", "product", "lot", "expiry", "first_scan_time", "first_scan_place",
            "scan_count", "status", "production_date", "path"),
)
