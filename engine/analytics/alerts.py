"""Alerts: what a rule found, as rows with a stable id.

id = sha256(rule, subject, window)[:20 hex]: the same finding on a re-run (more data, the
other engine) gets the same id, so storing it again updates it instead of adding one.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from decimal import Decimal

# Rules whose subject is a code (the others name a scanner, client, region or batch).
CODE_RULES = frozenset({"clone_velocity", "clone_spread", "diversion", "impossible"})


def alert_id(rule: str, subject: str, window: str) -> str:
    return hashlib.sha256(f"{rule}\x1f{subject}\x1f{window}".encode()).hexdigest()[:20]


def iso(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(v):
    """An evidence value as JSON both engines give alike: Decimal and integral floats
    to int, floats to 3 decimals."""
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, float):
        return int(v) if v.is_integer() else round(v, 3)
    return v


def window_of(rule_mod, row: dict) -> str:
    kind = rule_mod.WINDOW
    if kind == "all":
        return "all"
    if kind == "first_day":
        return iso(row["first_us"])[:10]
    if kind == "column_us":
        return iso(int(row["win"]))
    return str(row["win"])


def from_row(rule_mod, row: dict) -> dict:
    """One alert from one result row of a rule."""
    subject = str(row["subject"])
    window = window_of(rule_mod, row)
    evidence = {k[3:]: _plain(v) for k, v in sorted(row.items()) if k.startswith("ev_")}
    return {
        "id": alert_id(rule_mod.NAME, subject, window), "rule": rule_mod.NAME,
        "severity": row.get("severity") or rule_mod.SEVERITY, "subject": subject,
        "code": subject if rule_mod.NAME in CODE_RULES else None,
        "product": row.get("product"), "region": row.get("region"),
        "first_time": iso(row["first_us"]), "last_time": iso(row["last_us"]),
        "window": window, "evidence": evidence, "status": "open",
    }
