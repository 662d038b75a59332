"""The one date rule of trace codes: YYYYMMDD, or GS1 YYMMDD with its century rule, and
DD 00 meaning the month's last day (GS1 General Specifications 7.12).

Every reader of an expiry (verdicts, registry checks, scheme fields, the scan parser's
vectorised EXPIRED_DATE) goes through here, so they cannot disagree on a date. The scan
parser's nogil C core has its twin (_full_year and _date_ok in scan/_parse.pyx), checked
against this module by tests/test_dates.py.
"""
from __future__ import annotations

import datetime as _dt
import functools

import numpy as np

_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def _this_year() -> int:
    return _dt.datetime.now(_dt.timezone.utc).year


def full_year(yy: int, this_year: int | None = None) -> int:
    """The year of a GS1 YYMMDD date: the century that puts it within -49..+50 years of
    the current year (991231 is 1999 in 2026, 761231 is 2076)."""
    if this_year is None:
        this_year = _this_year()
    cy, century = this_year % 100, this_year - this_year % 100
    if yy - cy >= 51:
        return century - 100 + yy
    if yy - cy <= -50:
        return century + 100 + yy
    return century + yy


def full_years(yy: np.ndarray, this_year: int | None = None) -> np.ndarray:
    """full_year over an int64 array."""
    if this_year is None:
        this_year = _this_year()
    cy, century = this_year % 100, this_year - this_year % 100
    return century + yy - 100 * (yy - cy >= 51) + 100 * (yy - cy <= -50)


def last_day(year: int, month: int) -> int:
    """The month's last day (what DD 00 means); ValueError for a month outside 1..12."""
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} is not 1 to 12")
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else int(_DAYS[month - 1])


def ymd(text: str, *, day_zero: bool = True) -> tuple[int, int, int]:
    """(year, month, day) of a YYYYMMDD or YYMMDD text, DD 00 read as the month's last
    day (day_zero=False: DD 00 is no date). ValueError when it is no date."""
    if len(text) not in (6, 8) or not text.isascii() or not text.isdigit():
        raise ValueError(f"{text!r} is not a YYYYMMDD or YYMMDD date")
    if len(text) == 6:
        y, m, d = full_year(int(text[:2])), int(text[2:4]), int(text[4:6])
    else:
        y, m, d = int(text[:4]), int(text[4:6]), int(text[6:8])
    if d == 0 and day_zero:
        d = last_day(y, m)
    _dt.date(y, m, d)  # raises ValueError for a day the month does not have
    return y, m, d


@functools.lru_cache(maxsize=4096)
def expiry_date(text: str) -> _dt.date:
    """An expiry as a date (cached: a batch's expiry is read on every scan of it)."""
    return _dt.date(*ymd(text))


def expired(expiry: str | None, today: _dt.date) -> bool:
    """Whether an expiry (None or "" for none) is before today."""
    return bool(expiry) and expiry_date(expiry) < today


def expiry_ymd(expiry: str | None) -> int:
    """An expiry as the int YYYYMMDD, 0 for none: comparable in numpy columns."""
    if not expiry:
        return 0
    y, m, d = ymd(str(expiry))
    return y * 10000 + m * 100 + d


def yymmdd_ints(digits: np.ndarray, this_year: int | None = None) -> np.ndarray:
    """YYMMDD dates as YYYYMMDD ints, from an (N, 6) array of digit values (0..9);
    DD 00 is the month's last day. Months outside 1..12 are the parser's to refuse."""
    yy = digits[:, 0] * 10 + digits[:, 1]
    year = full_years(yy, this_year)
    month = digits[:, 2] * 10 + digits[:, 3]
    day = digits[:, 4] * 10 + digits[:, 5]
    mi = np.clip(month, 1, 12) - 1
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = _DAYS[mi] + ((mi == 1) & leap)
    return year * 10000 + month * 100 + np.where(day == 0, last, day)
