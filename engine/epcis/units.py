"""Units of measure of sensor reports (UN/CEFACT Recommendation 20 codes, as EPCIS 2.0's
`uom` holds them), so a reading can be compared in any unit of its dimension: GS1's
conformance test TCR-53 finds a 26 CEL reading by GE_value_KEL. Each unit is a scale and an
offset onto its dimension's base unit (base = value * scale + offset); a unit not listed here
is compared only in itself.

>>> same_in_all("CEL", "26")
{'KEL': '299.15', 'CEL': '26', 'FAH': '78.8'}
>>> same_in_all("KGM", "1.5")["GRM"], same_in_all("XYZ", "3")
('1500', {'XYZ': '3'})
>>> same_in_all("CEL", "2", spread=True)["KEL"], same_in_all("CEL", "2", spread=True)["FAH"]   # sDev: no offset
('2', '3.6')
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext

from .facets import number_text

_D = Decimal
# dimension -> {code: (scale, offset)} onto the first unit
DIMENSIONS = {
    "temperature": {"KEL": (_D(1), _D(0)), "CEL": (_D(1), _D("273.15")),
                    "FAH": (_D(5) / _D(9), _D("273.15") - _D(32) * _D(5) / _D(9))},
    "mass": {"KGM": (_D(1), _D(0)), "GRM": (_D("0.001"), _D(0)), "MGM": (_D("0.000001"), _D(0)),
             "TNE": (_D(1000), _D(0)), "LBR": (_D("0.45359237"), _D(0)), "ONZ": (_D("0.028349523125"), _D(0))},
    "length": {"MTR": (_D(1), _D(0)), "CMT": (_D("0.01"), _D(0)), "MMT": (_D("0.001"), _D(0)),
               "KMT": (_D(1000), _D(0)), "INH": (_D("0.0254"), _D(0)), "FOT": (_D("0.3048"), _D(0))},
    "volume": {"MTQ": (_D(1), _D(0)), "LTR": (_D("0.001"), _D(0)), "MLT": (_D("0.000001"), _D(0)),
               "CMQ": (_D("0.000001"), _D(0))},
    "pressure": {"PAL": (_D(1), _D(0)), "KPA": (_D(1000), _D(0)), "A97": (_D(100), _D(0)),
                 "MBR": (_D(100), _D(0)), "BAR": (_D(100000), _D(0))},
    "time": {"SEC": (_D(1), _D(0)), "MIN": (_D(60), _D(0)), "HUR": (_D(3600), _D(0)), "DAY": (_D(86400), _D(0))},
    "speed": {"MTS": (_D(1), _D(0)), "KMH": (_D(1) / _D("3.6"), _D(0))},
}
_DIMENSION_OF = {code: units for units in DIMENSIONS.values() for code in units}
DIGITS = 12   # significant digits of a converted value: 26 CEL is 78.8 FAH, not 78.80000000000001


def same_in_all(uom: str, value: str, spread: bool = False) -> dict:
    """{unit: value text} of a reading `value` (a number's text) in `uom` and in every other
    unit of its dimension; `spread` for a difference (a standard deviation), which takes the
    scale and not the offset. Only {uom: value} for a unit not listed, or a value not a number."""
    units = _DIMENSION_OF.get(uom)
    if units is None:
        return {uom: value}
    try:
        x = Decimal(value)
    except InvalidOperation:
        return {uom: value}
    if not x.is_finite():
        return {uom: value}
    scale, offset = units[uom]
    out = {}
    with localcontext(prec=28):   # whatever the caller's context: exact for these scales
        base = x * scale + (0 if spread else offset)
        for code, (s, o) in units.items():
            there = (base - (0 if spread else o)) / s
            with localcontext(prec=DIGITS):   # unary + rounds to the context's digits
                out[code] = value if code == uom else number_text(str(+there))   # the query side's text
    return out
