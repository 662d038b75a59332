"""Where a scan happened, in a form analytics can count by: a GB/T 2260 region code and
WGS-84 coordinates, each optional, checked once per call (never per scan).

The region rule: six ASCII digits whose first two name a province-level division of the
table (tracecode.regions: every province is listed). A code the table lists is accepted;
so is a well-formed code it does not list (the table holds provinces and larger cities, not
every county: 110105 is Beijing's Chaoyang district); a prefecture part of 00 with a county
part other than 00 is no GB/T 2260 code and is refused, as is anything not six digits.

>>> scan_location("110105", "39.92", 116.44)
('110105', 39.92, 116.44)
>>> scan_location(None, None, None)
(None, None, None)
>>> scan_location("990000", None, None)
Traceback (most recent call last):
...
tracecode.errors.InvalidFormat: region '990000': 99 is no province-level division of GB/T 2260
"""
from __future__ import annotations

import math

from ..errors import InvalidFormat
from . import BUILTIN, Regions

REGION_URN = "urn:tracecode:region:"   # an EPCIS source/destination naming a region


def region_code(value, table: Regions = BUILTIN, field: str = "region") -> str | None:
    """The region's 6-digit code (an int is zero-padded), None for None or ""."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidFormat(f"{field} must be a 6-digit GB/T 2260 code, got {type(value).__name__}",
                            field=field)
    text = f"{value:06d}" if isinstance(value, int) and value >= 0 else str(value).strip()
    if text.startswith(REGION_URN):
        text = text[len(REGION_URN):]
    shown = repr(text[:16]) + ("…" if len(text) > 16 else "")
    if len(text) != 6 or not text.isascii() or not text.isdigit():
        raise InvalidFormat(f"{field} {shown}: a GB/T 2260 region code is 6 digits", field=field)
    if text in table.by_code:
        return text
    if text[:2] + "0000" not in table.by_code:
        raise InvalidFormat(f"{field} {shown}: {text[:2]} is no province-level division of GB/T 2260",
                            field=field)
    if text[2:4] == "00" and text[4:] != "00":
        raise InvalidFormat(f"{field} {shown}: a county part needs a prefecture part (not 00)",
                            field=field)
    return text


def coordinate(value, bound: float, field: str) -> float | None:
    """A latitude (bound 90) or longitude (bound 180) in degrees, None for None or ""."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidFormat(f"{field} must be a number of degrees, got bool", field=field)
    try:
        degrees = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidFormat(f"{field} must be a number of degrees (WGS-84), got {str(value)[:32]!r}",
                            field=field) from None
    if not math.isfinite(degrees) or abs(degrees) > bound:
        raise InvalidFormat(f"{field} {degrees!r} is outside -{bound:g}..{bound:g} degrees", field=field)
    return degrees


def scan_location(region, lat, lon, table: Regions = BUILTIN) -> tuple:
    """(region code, lat, lon) checked; lat and lon go together (one without the other is refused)."""
    la, lo = coordinate(lat, 90.0, "lat"), coordinate(lon, 180.0, "lon")
    if (la is None) != (lo is None):
        missing = "lon" if lo is None else "lat"
        raise InvalidFormat(f"{missing} is missing: coordinates are a latitude and a longitude",
                            field=missing)
    return region_code(region, table), la, lo


def parse_at(text: str) -> tuple[float, float]:
    """`LAT,LON` (the CLI's --at) -> (lat, lon), range-checked."""
    parts = str(text).split(",")
    if len(parts) != 2:
        raise InvalidFormat(f"--at {str(text)[:40]!r}: expected LAT,LON in degrees, e.g. 39.92,116.44",
                            field="at")
    return scan_location(None, parts[0].strip(), parts[1].strip())[1:]
