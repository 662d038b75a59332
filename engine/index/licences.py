"""The licences hazardous goods' steps happen under (许可证: production, storage, transport,
blasting...): a small registry kept in the data directory as ``licences.json``.

A licence is its number, its holder, the kinds of step it allows and its validity (ISO
dates, both days included). Few (thousands, not millions) and rarely changed, so the file
is read whole and replaced whole (written to a temporary file, then renamed, under a lock
file: two writers never lose each other's licence).
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
from pathlib import Path

from ..categories.hazardous import LICENCE_KINDS
from ..errors import ValidationError

NAME = "licences.json"
MAX_LICENCES = 100_000


def _iso(value, name: str) -> str:
    try:
        return _dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValidationError(f"{name} must be a date (YYYY-MM-DD), got {str(value)[:40]!r}",
                              field=name) from None


def checked(number, holder, kinds, valid_from, valid_to) -> dict:
    """A licence's fields checked: number and holder 1-200 characters, kinds of LICENCE_KINDS."""
    for name, value in (("number", number), ("holder", holder)):
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise ValidationError(f"a licence's {name} is 1 to 200 characters", field=name)
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or ())
    bad = [k for k in kinds if k not in LICENCE_KINDS]
    if not kinds or bad:
        raise ValidationError(f"kinds must be some of {', '.join(LICENCE_KINDS)}"
                              + (f", got {str(bad[0])[:40]!r}" if bad else ""), field="kinds")
    lo, hi = _iso(valid_from, "valid_from"), _iso(valid_to, "valid_to")
    if hi < lo:
        raise ValidationError("valid_to is before valid_from", field="valid_to")
    return {"number": number.strip(), "holder": holder.strip(), "kinds": sorted(set(kinds)),
            "valid_from": lo, "valid_to": hi}


class Licences:
    """The licences of one data directory."""

    def __init__(self, path):
        self.file = Path(path) / NAME

    def on_record(self) -> dict:
        """{number: licence} (empty when none was ever added)."""
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {lic["number"]: lic for lic in data}

    def add(self, number, holder, kinds, valid_from, valid_to) -> dict:
        """Add a licence, or replace the one of that number (a renewal): the licence stored."""
        lic = checked(number, holder, kinds, valid_from, valid_to)
        with open(self.file.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            have = self.on_record()
            if lic["number"] not in have and len(have) >= MAX_LICENCES:
                raise ValidationError(f"at most {MAX_LICENCES:,} licences", field="number")
            have[lic["number"]] = lic
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text(json.dumps(sorted(have.values(), key=lambda x: x["number"]),
                                      ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, self.file)
        return lic
