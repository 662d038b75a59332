"""The one date rule (tracecode.dates) and its C twin in the scan parser agree on every
YYMMDD: which are dates (DD 00 is the month's last day), and which are expired."""
import datetime as dt

import numpy as np

from tracecode import dates
from tracecode.scan import Fault, ScanParser

TEXTS = [f"{yy:02d}{mm:02d}{dd:02d}" for yy in range(100) for mm in range(14) for dd in range(33)]


def _date(text):
    try:
        return dates.expiry_date(text)
    except ValueError:
        return None


def test_the_parser_core_reads_every_yymmdd_as_dates_does():
    cutoff = dt.date(2031, 6, 15)
    parser = ScanParser(expired_before=cutoff)
    faults = parser.parse_many([f"(17){t}" for t in TEXTS]).records["fault"]
    want = [Fault.INVALID_DATE if d is None else Fault.EXPIRED_DATE if d < cutoff else Fault.OK
            for d in map(_date, TEXTS)]
    assert faults.tolist() == [int(w) for w in want]


def test_day_zero_is_the_months_last_day():
    assert dates.expiry_date("20240200") == dt.date(2024, 2, 29)
    assert dates.expiry_date("21000200") == dt.date(2100, 2, 28)
    assert dates.expiry_ymd("261100") == 20261130 and dates.expiry_ymd(None) == 0
    digits = np.frombuffer("".join(TEXTS).encode(), np.uint8).reshape(-1, 6).astype(np.int64) - 48
    ints = dates.yymmdd_ints(digits)
    for t, v in zip(TEXTS, ints.tolist()):
        d = _date(t)
        if d is not None:
            assert v == d.year * 10000 + d.month * 100 + d.day, t


def test_no_date_is_refused_everywhere():
    for bad in ("2026130", "20261301", "261232", "990229", "2026-1-1", "２０２６０１０１"):
        assert _date(bad) is None, bad
    assert dates.ymd("20260100", day_zero=True) == (2026, 1, 31)
    try:
        dates.ymd("20260100", day_zero=False)
    except ValueError:
        pass
    else:
        raise AssertionError("YYYYMMDD with DD 00 read as a date without day_zero")
