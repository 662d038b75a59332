"""The time a CLI option names (--since, --before): an ISO date or time, local when it has no
offset, as seconds since the epoch. One reading for every command that filters by time.

>>> import datetime as dt
>>> local_timestamp("2026-12-01T08:00+08:00", "--since") == dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
True
"""
from __future__ import annotations

import datetime as _dt

from .errors import TracecodeError


class TimeOptionError(TracecodeError):
    pass


def local_timestamp(text: str, option: str, error=TimeOptionError, also: str = "") -> float:
    """Seconds since the epoch of `text`; `error(...)` naming the option and the forms it takes
    (`also`: another form the caller accepts, said in the message) when it is none of them."""
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise error(f"{option} {text!r}: give an ISO date or time (2026-12-01, "
                    f"2026-12-01T08:00+08:00){also}") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return when.timestamp()
