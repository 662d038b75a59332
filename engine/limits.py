"""Every bound on what a caller may hand the engine to store, in one place.

The index (tracecode.Index, so every adapter) refuses a value past its bound with
a ValidationError naming the field; the gRPC service maps that to INVALID_ARGUMENT
with a field violation and announces these bounds in Admin.WhoAmI; the README's
limits section lists them. Bytes are UTF-8 bytes; "printable" means no control
characters (no NUL, newline, tab...). The scan log packs a scanner's and a
place's length in 16 bits, so an unbounded one would wedge it for everybody.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
import time as _time

from .errors import InvalidComponent, InvalidFormat, InvalidLength

PLACE_BYTES = 256               # verify(place=...), an event's place
SCANNER_BYTES = 256             # verify(scanner=...) as recorded (the service records "client/id")
SCANNER_ID_BYTES = 128          # the scanner id a client of the service gives
CLIENT_BYTES = 64               # a client's name: event ids and SSCCs are bound to it
EVENT_ID_CHARS = 128            # printable ASCII
IDEMPOTENCY_KEY_CHARS = 128     # printable ASCII (the service's RequestBatch)
REASON_BYTES = 512              # an event's reason
LOT_CHARS = 20                  # national lots: 1-20 printable; GS1 (AI 10): 1-20 of set 82
LINE_BYTES = 128                # a batch's production line
REQUESTER_BYTES = 256           # a batch's requester ("<client> request <key>" over gRPC)
ATTRIBUTE_BYTES = 256           # a batch attribute's value (the scheme may bound it tighter)
IMPORT_FIELD_BYTES = 256        # a value of an imported code's record (product, source...)
REGISTRY_TEXT_BYTES = 512       # a registry record's product, company, dosage form, specification
REGISTRY_LOT_BYTES = 32         # a national code data row's lot (the width of its record)
EARLIEST_TIME = 946684800.0     # 2000-01-01T00:00:00Z: older event or scan times are mistakes
FUTURE_SLACK_S = 300.0          # how far a given time may run ahead of this machine's clock

GS1_CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
                       "abcdefghijklmnopqrstuvwxyz")
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)\Z")


def _shown(value: str, n: int = 40) -> str:
    """A value for an error message: never the whole of a 12 MB one."""
    return repr(value if len(value) <= n else value[:n] + "...")


def text(field: str, value, max_bytes: int, *, required: bool = False) -> str | None:
    """A free-text field: a str of at most max_bytes UTF-8 bytes, no control characters."""
    if value is None or value == "":
        if required:
            raise InvalidFormat(f"{field} is required", field=field)
        return None
    if not isinstance(value, str):
        raise InvalidFormat(f"{field} must be text, got {type(value).__name__}", field=field)
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidFormat(f"{field} is not valid UTF-8 (a lone surrogate)", field=field) from None
    if size > max_bytes:
        raise InvalidLength(f"{field} is {size:,} bytes (UTF-8); at most {max_bytes:,}", field=field)
    if not value.isprintable():
        bad = next(i for i, ch in enumerate(value) if not ch.isprintable())
        raise InvalidFormat(f"{field} holds a control character (U+{ord(value[bad]):04X}) at "
                            f"position {bad}", field=field, position=bad)
    return value


def ascii_key(field: str, value, max_chars: int) -> str:
    """An identifier (event id, idempotency key): 1 to max_chars printable ASCII characters."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise InvalidFormat(f"{field} is required (1 to {max_chars} printable ASCII characters)",
                            field=field)
    value = str(value)
    if len(value) > max_chars:
        raise InvalidLength(f"{field} is {len(value):,} characters; at most {max_chars}", field=field)
    if not (value.isascii() and value.isprintable()):
        raise InvalidFormat(f"{field} {_shown(value)} must be printable ASCII", field=field)
    return value


def lot(value, *, gs1: bool, field: str = "lot") -> str | None:
    """A lot (batch number): GS1 AI 10's rules for GS1 schemes (1-20 characters of the
    GS1 82-character set), otherwise 1-20 printable characters."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidFormat(f"{field} must be text, got {type(value).__name__}", field=field)
    if len(value) > LOT_CHARS:
        raise InvalidLength(f"{field} is {len(value):,} characters; at most {LOT_CHARS}", field=field)
    allowed = GS1_CSET82.__contains__ if gs1 else str.isprintable
    for i, ch in enumerate(value):
        if not allowed(ch):
            what = "outside the GS1 82-character set (AI 10)" if gs1 else "a control character"
            raise InvalidFormat(f"{field} {_shown(value)} holds {what} at position {i}",
                                field=field, position=i)
    return value


def epoch(field: str, value, *, now: float | None = None) -> float:
    """Seconds since the epoch, a finite number from 2000 to a few minutes from now."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidFormat(f"{field} must be an RFC 3339 time with an offset or seconds "
                            f"since the epoch, got {type(value).__name__}", field=field)
    try:
        t = float(value)
    except OverflowError:   # an int past a float's range (10**400): no time either
        t = math.inf
    latest = (_time.time() if now is None else now) + FUTURE_SLACK_S
    if not (math.isfinite(t) and EARLIEST_TIME <= t <= latest):
        shown = repr(value) if math.isfinite(t) or isinstance(value, float) \
            else f"{len(str(value)) if abs(value).bit_length() < 10_000 else 'over 3,000'}-digit number"
        raise InvalidComponent(f"{field} {shown} is not a time from 2000-01-01 to now "
                               "(seconds since the epoch)", field=field)
    return t


def event_time(field: str, value, *, now: float | None = None) -> tuple[float, str | None]:
    """(seconds since the epoch, the time zone offset given as "+08:00", or None) of an
    RFC 3339 time with its offset ("2026-11-30T09:15:00+08:00") or epoch seconds."""
    if not isinstance(value, str):
        return epoch(field, value, now=now), None
    m = _RFC3339.match(value.strip())
    if m is None:
        raise InvalidFormat(f"{field} {_shown(value)} is not an RFC 3339 time with an offset "
                            "(2026-11-30T09:15:00+08:00) nor seconds since the epoch", field=field)
    day, clock, frac, zone = m.groups()
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        parsed = _dt.datetime.fromisoformat(f"{day}T{clock}{(frac or '')[:7]}{offset}")
    except ValueError as exc:
        raise InvalidComponent(f"{field} {_shown(value)}: {exc}", field=field) from None
    return epoch(field, parsed.timestamp(), now=now), offset
