"""Pesticide registration numbers (农药登记证号), python-stdnum style.

Two letters and 8 digits (year, then a 4-digit sequence): PD field-use and WP
public-health registrations, LS and WL their temporary forms. The 32-digit
pesticide label code (MOA announcement No. 2579) starts with the registration
class (1 PD, 2 WP, 3 temporary) and the number's last six digits: code_prefix().

>>> validate(' pd-2009 2927 ')
'PD20092927'
>>> code_prefix('PD20092927'), code_prefix('WP20180123'), code_prefix('LS20170012')
('1092927', '2180123', '3170012')
>>> is_valid('PD2009292')
False
>>> validate('PX20092927')
Traceback (most recent call last):
    ...
tracecode.errors.InvalidFormat: 'PX20092927' does not start with PD, WP, LS or WL
"""
from __future__ import annotations

import re
import unicodedata

from ..errors import InvalidComponent, InvalidFormat, InvalidLength

CLASSES = {"PD": "1", "WP": "2", "LS": "3", "WL": "3"}  # label code class digit
FIRST_YEAR, LAST_YEAR = 1980, 2099


def compact(number: str) -> str:
    """Fold full-width characters, drop whitespace and dashes, upper-case."""
    text = unicodedata.normalize("NFKC", str(number))
    return re.sub(r"[\s\-]", "", text).upper()


def validate(number: str) -> str:
    """The canonical number, or InvalidFormat / InvalidLength / InvalidComponent."""
    text = compact(number)
    if text[:2] not in CLASSES:
        raise InvalidFormat(f"{text!r} does not start with PD, WP, LS or WL")
    digits = text[2:]
    if not digits.isascii() or not digits.isdigit():
        raise InvalidFormat(f"{text!r}: a registration number is two letters and 8 digits")
    if len(digits) != 8:
        raise InvalidLength(f"a registration number has 8 digits, got {len(digits)}")
    if not FIRST_YEAR <= int(digits[:4]) <= LAST_YEAR:
        raise InvalidComponent(f"year {digits[:4]} of {text!r} is outside {FIRST_YEAR}-{LAST_YEAR}",
                               field="year")
    return text


def is_valid(number: str) -> bool:
    try:
        validate(number)
    except ValueError:
        return False
    return True


def code_prefix(number: str) -> str:
    """The first 7 digits of this registration's label codes: class digit + last six digits."""
    text = validate(number)
    return CLASSES[text[:2]] + text[-6:]


def looks_like(text: str) -> bool:
    """Whether text is meant as a registration number (two class letters, then digits)."""
    t = compact(text)
    return t[:2] in CLASSES and t[2:3].isascii() and t[2:3].isdigit()
