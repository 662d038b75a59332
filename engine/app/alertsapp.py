"""The analytics' alerts for regulators: read (filters bounded), stored (an analysis's
findings) and closed, through the store port. Overseers only (rights.VERBS alerts /
store_alerts / close_alert); storing and closing are audited (who, which alert, why). Storing
and closing put the events of the alerts raised, opened again or closed into the EPCIS log,
where subscriptions deliver them (alert_events.py)."""
from __future__ import annotations

import base64
import json

from . import alert_events
from .refusal import Refusal, invalid
from .rights import admit

MAX_ALERTS = 1000   # one answer's bound


def find_alerts(svc, caller, *, rule=None, code=None, open_only=False, limit=100,
                method="Alerts") -> list:
    return page_alerts(svc, caller, rule=rule, code=code, open_only=open_only, limit=limit,
                       method=method)[0]


def page_alerts(svc, caller, *, rule=None, code=None, open_only=False, limit=100,
                page_token: str | None = None, method="Alerts", region=None, since=None,
                products=None) -> tuple[list, str | None]:
    """(a page of the alerts matching every filter, newest last_time first; the token of the
    next page, None after the last). region (a region code's prefix), since (last_time from)
    and products (any of): the regulator page's filters, applied by the store."""
    admit(caller, "alerts", method)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_ALERTS:
        raise invalid("limit", f"limit is 1 to {MAX_ALERTS}")
    for name, value in (("rule", rule), ("code", code)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 128):
            raise invalid(name, f"{name} is 1 to 128 characters")
    narrow = {k: v for k, v in (("region", region), ("since", since), ("products", products)) if v is not None}
    found = svc.index.store.alerts_find(rule=rule, code=code, open_only=bool(open_only), limit=limit + 1,
                                        after=_after(page_token), **narrow)
    more = len(found) > limit
    found = found[:limit]
    return found, (_token(found[-1]) if more else None)


def _token(alert: dict) -> str:
    """A page's end as text: where the next page starts (last_time, id), opaque to callers."""
    raw = json.dumps([alert.get("last_time") or "", alert["id"]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(token) -> tuple | None:
    if token is None or token == "":
        return None
    try:
        if not isinstance(token, str) or len(token) > 200:
            raise ValueError
        last, aid = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not (isinstance(last, str) and isinstance(aid, str)):
            raise ValueError
    except (ValueError, TypeError):
        raise invalid("page_token", f"{str(token)[:40]!r} is not a page token of the alerts") from None
    return last, aid


def store_alerts(svc, caller, alerts: list, *, rules=(), peer: str = "",
                 method="StoreAlerts") -> list[bool]:
    """Store an analysis's alerts (new ones open, known ones updated: store port); True for
    each new one. Audited with the rules run and how many were stored and new."""
    admit(caller, "store_alerts", method)
    new = svc.index.store.alerts_put(alerts)
    svc._audit("alerts_stored", caller, method, peer, rules=list(rules), alerts=len(alerts),
               new=sum(new))
    alert_events.publish(svc)   # those raised or opened again into the EPCIS log (subscriptions)
    return new


def close_alert(svc, caller, alert_id: str, note: str = "", method="CloseAlert",
                peer: str = "") -> dict:
    admit(caller, "close_alert", method)
    if not isinstance(alert_id, str) or len(alert_id) != 20 or not alert_id.isascii() \
            or not alert_id.isalnum():
        raise invalid("id", "an alert id is 20 hexadecimal characters")
    if not isinstance(note, str) or len(note) > 1000:   # None: a note that is no text
        raise invalid("note", "a note is at most 1000 characters")
    if not svc.index.store.alert_close(alert_id, by=caller.name, note=note):
        raise Refusal("not_found", "id", f"no open alert {alert_id}", resource="alert", name=alert_id)
    svc._audit("alert_closed", caller, method, peer, id=alert_id, note=note)
    alert_events.publish(svc)   # the closing into the EPCIS log too (subscriptions)
    return {"id": alert_id, "status": "closed", "closed_by": caller.name}
