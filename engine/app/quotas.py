"""Rare-earth production quotas (the directive plan, 指令性计划) and the checks a rare-earth
capture runs: a small registry on the application layer.

Quotas are kept in DATADIR/quotas.json ({enterprise: {year: {kind: kg}}}, written whole
and atomically under a lock: a few hundred enterprises a year, not a bulk path). A
regulator or admin sets them; an enterprise reads its own, overseers all.

Production is summed from the stored EPCIS events (the store's index by bizStep and
eventTime), so an event captured twice counts once. At capture (Capture._judge calls
judge for each rare-earth event) the mass balance of a TransformationEvent and the
producer's year-to-date production against its quota are checked; the results are
written into the stored event under "tracecode:checks" (tracecode's extension namespace),
so every query, subscription and history shows them: tracecode has no alerts table on
its store port yet.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
from pathlib import Path

from ..categories import declared
from ..categories import rare_earth as re_
from ..store.port import EpcisQuery
from .caller import Caller
from .refusal import Refusal, invalid
from .rights import admit, oversees

FILE = "quotas.json"
UNITS = {"kg": 1.0, "t": 1000.0, "KGM": 1.0, "TNE": 1000.0}
SUM_PAGE = 1000


def _year(year) -> int:
    if isinstance(year, str) and year.isascii() and year.isdigit():
        year = int(year)
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise invalid("year", f"a year from 2000 to 2100, got {str(year)[:20]!r}")
    return year


def _enterprise(name) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 128 or not name.isprintable():
        raise invalid("enterprise", "an enterprise is its client name or id, 1 to 128 printable characters")
    return name.strip()


class Quotas:
    """The quota registry of one Service, and the rare-earth checks of a capture."""

    def __init__(self, service):
        self.svc = service
        self.path = Path(service.dd.path) / FILE

    # -- the registry -------------------------------------------------------------------------
    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}

    def set(self, caller: Caller, enterprise: str, year, kind: str, quantity, uom: str = "t",
            method: str = "SetQuota") -> dict:
        """Set an enterprise's quota of a kind (mining, smelting) for a year: the entry."""
        admit(caller, "set_quota", method)
        enterprise, year = _enterprise(enterprise), _year(year)
        if kind not in re_.QUOTA_KINDS:
            raise invalid("kind", f"a quota is of {' or '.join(re_.QUOTA_KINDS)}, got {str(kind)[:20]!r}")
        if uom not in UNITS:
            raise invalid("uom", f"quantities are in {', '.join(UNITS)}, got {str(uom)[:10]!r}")
        if isinstance(quantity, str):
            try:
                quantity = float(quantity)
            except ValueError:
                raise invalid("quantity", f"{quantity[:20]!r} is not a number") from None
        if isinstance(quantity, bool) or not isinstance(quantity, (int, float)) or not 0 <= quantity < 1e12:
            raise invalid("quantity", f"a quota is a quantity from 0, got {quantity!r}")
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            data.setdefault(enterprise, {}).setdefault(str(year), {})[kind] = quantity * UNITS[uom]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1), "utf-8")
            os.replace(tmp, self.path)
        self.svc._audit("set_quota", caller, method, "", enterprise=enterprise[:80], year=year, kind=kind,
                        kg=quantity * UNITS[uom])
        return {"enterprise": enterprise, "year": year, "kind": kind, "quota_kg": quantity * UNITS[uom]}

    def list(self, caller: Caller, year=None, enterprise: str | None = None, method: str = "Quotas") -> list[dict]:
        """Quotas with each one's production so far: [{"enterprise", "year", "kind",
        "quota_kg", "produced_kg", "over"}]; an enterprise sees its own only."""
        admit(caller, "quotas", method)
        year = None if year is None else _year(year)
        rows = []
        for ent, years in sorted(self._read().items()):
            if enterprise is not None and ent != enterprise:
                continue
            if not oversees(caller) and ent != caller.name:
                continue
            for y, kinds in sorted(years.items()):
                if year is not None and int(y) != year:
                    continue
                for kind, quota in sorted(kinds.items()):
                    made = self.produced(ent, int(y), kind)
                    rows.append({"enterprise": ent, "year": int(y), "kind": kind, "quota_kg": quota,
                                 "produced_kg": made, "over": made > quota})
        return rows

    def quota(self, enterprise: str, year: int, kind: str) -> float | None:
        return self._read().get(enterprise, {}).get(str(year), {}).get(kind)

    def produced(self, enterprise: str, year: int, kind: str) -> float:
        """kg an enterprise produced of a quota kind in a year, from the stored events that stand
        (an event declared erroneous, EPCIS errorDeclaration, is no production)."""
        steps = tuple(s for s, k in re_.QUOTA_OF_STEP.items() if k == kind)
        start = _dt.datetime(year, 1, 1, tzinfo=_dt.timezone.utc).timestamp()
        end = _dt.datetime(year + 1, 1, 1, tzinfo=_dt.timezone.utc).timestamp()
        query = EpcisQuery(biz_steps=steps, ge_event_time=start, lt_event_time=end, declared=False)
        total, token = 0.0, None
        while True:
            got, token = self.svc.index.store.epcis_find(query, token, SUM_PAGE)
            for rec in declared.standing(self.svc.index.store, got):   # not what was declared erroneous
                if re_.enterprise(rec.event, rec.client) == enterprise:
                    made = re_.production(rec.event, rec.event_time)
                    total += made[2] if made else 0.0
            if token is None:
                return total

    # -- the checks of a capture --------------------------------------------------------------
    def judge(self, event: dict, time: float, client: str | None, running: dict) -> list[dict]:
        """The checks of one rare-earth event being captured: mass balance, and production
        against the quota. running: {(enterprise, year, kind): kg} of this capture's earlier
        events (read from the store once per key), updated here, and the quotas as read once."""
        out = []
        balance = re_.mass_balance(event, re_.tolerance(self.svc.dd.settings))
        if balance is not None:
            out.append(balance)
        made = re_.production(event, time)
        if made is not None:
            kind, year, kg = made
            ent = re_.enterprise(event, client)
            key = (ent, year, kind)
            if "quotas" not in running:   # the registry read once a capture
                running["quotas"] = self._read()
            quota = running["quotas"].get(ent, {}).get(str(year), {}).get(kind) if ent else None
            if key not in running:
                running[key] = self.produced(ent, year, kind) if ent else 0.0
            running[key] += kg
            if quota is None:
                out.append({"check": "quota", "ok": None, "enterprise": ent, "year": year, "kind": kind,
                            "produced_kg": running[key], "detail": f"no {kind} quota set for {ent} in {year}"})
            else:
                over = running[key] > quota
                out.append({"check": "quota", "ok": not over, "enterprise": ent, "year": year, "kind": kind,
                            "produced_kg": running[key], "quota_kg": quota,
                            "detail": (f"production {running[key]:,.3f} kg exceeds the {year} {kind} quota "
                                       f"{quota:,.3f} kg" if over else "within the quota")})
        return out

    def find(self, caller: Caller, number: str, kind: str | None = None, per_page: int = 100,
             page_token: str | None = None, method: str = "FindTransactions") -> tuple[list, str | None]:
        """Events naming a VAT special invoice or customs declaration number (kind: one of
        rare_earth.TRANSACTIONS, else both), as query_events shows them to the caller."""
        admit(caller, "query_events", method)
        kinds = [kind] if kind else list(re_.TRANSACTIONS)
        try:
            pairs = tuple((re_.TRANSACTIONS[k]["type"], re_.transaction_id(k, number)) for k in kinds)
        except re_.RareEarthError as exc:
            raise Refusal("invalid_argument", "number" if kind in re_.TRANSACTIONS or kind is None else "kind",
                          str(exc)) from None
        query = EpcisQuery(refs=(("transaction", pairs),))
        return self.svc.epcis.query_events(caller, query, page_token, per_page, method)
