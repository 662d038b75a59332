"""Veterinary drug approval numbers (兽药产品批准文号), python-stdnum style.

MOA Order 2015 No. 4, art. 19: a category abbreviation, the year in brackets,
then 9 digits: 2 for the province of the enterprise, 3 for the enterprise's
sequence in it, 4 for the product. Categories: 兽药字 (chemical drugs,
antibiotics, traditional medicines, disinfectants...), 兽药添字 (medicated feed
additives), 兽药生字 (vaccines, sera, diagnostics, probiotics).

Labels and typed entries spell one number many ways: full-width or other
brackets, spaces, traditional characters, no brackets at all. compact() folds
them; validate() returns the one canonical spelling, which is the registry key.

>>> compact('兽药字（2015） 010012345')
'兽药字(2015)010012345'
>>> validate('獸藥添字〔2018〕 150231001')
'兽药添字(2018)150231001'
>>> validate('兽药字2015010012345')
'兽药字(2015)010012345'
>>> split('兽药生字(2016)230011001')
Approval(category='兽药生字', year=2016, province='23', enterprise='001', product='1001')
>>> is_valid('兽药字(2015)01001234')
False
>>> validate('兽药字(2015)01001234')
Traceback (most recent call last):
    ...
tracecode.errors.InvalidLength: an approval number has 9 digits after the year, got 8
>>> validate('药字(2015)010012345')
Traceback (most recent call last):
    ...
tracecode.errors.InvalidFormat: '药字(2015)010012345' does not start with 兽药字, 兽药添字 or 兽药生字
"""
from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from ..errors import InvalidComponent, InvalidFormat, InvalidLength

CATEGORIES = ("兽药字", "兽药添字", "兽药生字")
FIRST_YEAR, LAST_YEAR = 1980, 2099
# NFKC folds full-width brackets; these others appear on labels and in typed text.
_FOLD = str.maketrans({"〔": "(", "〕": ")", "【": "(", "】": ")", "〖": "(", "〗": ")",
                       "[": "(", "]": ")", "獸": "兽", "藥": "药"})
_SHAPE = re.compile(r"(兽药(?:添|生)?字)\(?(\d{4})\)?(\d*)")


class Approval(NamedTuple):
    category: str
    year: int
    province: str
    enterprise: str
    product: str


def compact(number: str) -> str:
    """Fold full-width characters and bracket variants, drop whitespace."""
    text = unicodedata.normalize("NFKC", str(number)).translate(_FOLD)
    return "".join(text.split())


def split(number: str) -> Approval:
    """The parts of a valid number (raises like validate)."""
    category, year, digits = _parts(compact(number))
    return Approval(category, int(year), digits[:2], digits[2:5], digits[5:])


def _parts(text: str):
    m = _SHAPE.fullmatch(text)
    if m is None:
        if not text.startswith(CATEGORIES):
            raise InvalidFormat(f"{text!r} does not start with {', '.join(CATEGORIES[:-1])} "
                                f"or {CATEGORIES[-1]}")
        raise InvalidFormat(f"{text!r} is not CATEGORY(YEAR) followed by 9 digits")
    category, year, digits = m.groups()
    if len(digits) != 9:
        raise InvalidLength(f"an approval number has 9 digits after the year, got {len(digits)}")
    if not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise InvalidComponent(f"year {year} of {text!r} is outside {FIRST_YEAR}-{LAST_YEAR}",
                               field="year")
    if digits[:2] == "00":
        raise InvalidComponent(f"province 00 of {text!r} does not exist", field="province")
    return category, year, digits


def validate(number: str) -> str:
    """The canonical number, or InvalidFormat / InvalidLength / InvalidComponent."""
    category, year, digits = _parts(compact(number))
    return f"{category}({year}){digits}"


def is_valid(number: str) -> bool:
    try:
        validate(number)
    except ValueError:
        return False
    return True


def looks_like(text: str) -> bool:
    """Whether text is meant as an approval number at all (its category is there)."""
    return compact(text).startswith(CATEGORIES)
