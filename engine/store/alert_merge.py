"""Storing an alert again, alike on every store: what an update keeps and when a closed
alert opens again.

The update keeps the first creation time, the earlier first_time and a closed alert's
status with who closed it and why. A closed alert whose finding comes back with a later
last_time than it had when closed (new evidence: more out-of-market scans, more devices)
is open again: the closing stays on record under "reopened" (by, at, note, the last_time
it was closed at) so the regulator sees both.
"""
from __future__ import annotations

_KEEP = ("status", "closed_by", "closed_at", "note", "created_at", "closed_last_time",
         "reopened")
_CLOSING = ("closed_by", "closed_at", "note", "closed_last_time")


def merged(prev: dict | None, alert: dict, now: float) -> dict:
    """The row to store for alert given the stored one (None: a new alert)."""
    row = dict(alert)
    if prev is None:
        row.setdefault("status", "open")
        row["created_at"] = now
        return row
    row.update({k: prev[k] for k in _KEEP if k in prev})
    if prev.get("first_time") and row.get("first_time"):
        row["first_time"] = min(prev["first_time"], row["first_time"])
    if prev.get("status") == "closed" and _newer(alert.get("last_time"), _closed_at_time(prev)):
        closing = {k: prev[k] for k in _CLOSING if k in prev}
        row["reopened"] = [*prev.get("reopened", []), {**closing, "reopened_at": now}]
        for k in _CLOSING:
            row.pop(k, None)
        row["status"] = "open"
    return row


def _closed_at_time(prev: dict):
    # alerts closed before closed_last_time was kept: their last_time is the one at closing
    return prev.get("closed_last_time", prev.get("last_time"))


def _newer(last, then) -> bool:
    return bool(last) and (not then or last > then)
