"""The schedule of an EPCIS query subscription (GS1's REST binding, QueryScheduleSubscription):
fields second, minute, hour, dayOfMonth, month, dayOfWeek (1 Monday ... 7 Sunday), each a
comma list of numbers, ranges ("[1-5]" as the binding writes them, or "1-5") and steps
("0/30": from 0 every 30; "*/15"), "*" or absent meaning any. As cron: the day matches when
dayOfMonth and dayOfWeek both match (an absent field matches all). Times are UTC.

>>> s = Schedule.parse({"hour": "1", "minute": "5"})
>>> s.next_after(_dt.datetime(2026, 12, 2, 5, 0, tzinfo=_dt.timezone.utc)).isoformat()
'2026-12-03T01:05:00+00:00'
>>> Schedule.parse({"second": "0/30"}).next_after(_dt.datetime(2026, 1, 1, 0, 0, 10, tzinfo=_dt.timezone.utc)).second
30
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from .errors import EpcisError

FIELDS = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "dayOfMonth": (1, 31),
          "month": (1, 12), "dayOfWeek": (1, 7)}
_PART = re.compile(r"^(?:\[(\d+)-(\d+)\]|(\d+)-(\d+)|(\d+|\*)(?:/(\d+))?)$")
MAX_DAYS = 366 * 8   # a schedule no day of eight years matches (31 February) never fires


def _values(name: str, text) -> frozenset:
    lo, hi = FIELDS[name]
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not text.strip():
        raise EpcisError(f"schedule.{name} is text such as \"5\", \"1,5\", \"[1-5]\" or \"0/30\", got {text!r}",
                         pointer=f"/schedule/{name}")
    out = set()
    for part in text.replace(" ", "").split(","):
        m = _PART.match(part)
        if m is None:
            raise EpcisError(f"schedule.{name}: {part[:20]!r} is not a number, a range [a-b] or a step a/n",
                             pointer=f"/schedule/{name}")
        a1, b1, a2, b2, start, step = m.groups()
        if a1 or a2:
            a, b, n = int(a1 or a2), int(b1 or b2), 1
        else:
            a = lo if start == "*" else int(start)
            b = hi if start == "*" or step else a
            n = int(step) if step else 1
        if not (lo <= a <= hi and lo <= b <= hi and a <= b and n >= 1):
            raise EpcisError(f"schedule.{name}: {part[:20]!r} is outside {lo}-{hi}", pointer=f"/schedule/{name}")
        out.update(range(a, b + 1, n))
    return frozenset(out)


@dataclass(frozen=True)
class Schedule:
    second: frozenset
    minute: frozenset
    hour: frozenset
    day_of_month: frozenset
    month: frozenset
    day_of_week: frozenset

    @classmethod
    def parse(cls, fields: dict) -> Schedule:
        """A schedule from the binding's JSON object; EpcisError naming the field at fault.
        An absent second is 0 (as cron, once a minute at most unless seconds are given)."""
        if not isinstance(fields, dict) or not fields:
            raise EpcisError("schedule is an object of second, minute, hour, dayOfMonth, month, dayOfWeek",
                             pointer="/schedule")
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise EpcisError(f"schedule has no field {sorted(unknown)[0]!r}: {', '.join(FIELDS)}",
                             pointer="/schedule")

        def get(name, default="*"):
            return _values(name, fields.get(name, default))
        return cls(get("second", "0"), get("minute"), get("hour"), get("dayOfMonth"), get("month"),
                   get("dayOfWeek"))

    def next_after(self, after: _dt.datetime) -> _dt.datetime | None:
        """The first time strictly after `after` (aware) the schedule fires; None if never."""
        after = after.astimezone(_dt.timezone.utc).replace(microsecond=0)
        day = after.date()
        for _ in range(MAX_DAYS):
            if day.month in self.month and day.day in self.day_of_month and day.isoweekday() in self.day_of_week:
                for h in sorted(self.hour):
                    for m in sorted(self.minute):
                        for s in sorted(self.second):
                            t = _dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=_dt.timezone.utc)
                            if t > after:
                                return t
            day += _dt.timedelta(days=1)
        return None
