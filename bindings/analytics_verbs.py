"""The client's alert verbs (tracecode.v1.Client and AsyncClient), the same names,
arguments and results as the local back end's (tracecode.app.LocalClient), so
`tracecode alerts` has one code path for DIR and --server."""
from __future__ import annotations

import json

from . import analytics_pb2 as anb
from .verbs import unary, verb


@verb
def alerts_page(client, *, rule: str | None = None, code: str | None = None, open_only: bool = False,
                limit: int = 100, page_token: str | None = None) -> tuple[list, str | None]:
    """(a page of alerts, newest last_time first, each the dict the store keeps; the next
    page's token or None)."""
    req = anb.ListAlertsRequest(rule=rule or "", code=code or "", open_only=open_only, limit=limit,
                                page_token=page_token or "")
    reply = yield from unary(client, "analytics", "ListAlerts", req)
    return [json.loads(a.json) for a in reply.alerts], reply.next_page_token or None


@verb
def close_alert(client, alert_id: str, note: str = "") -> dict:
    """Close an open alert; {"id", "status": "closed", "closed_by"}. Not retried: a lost
    reply's retry would find it closed (NOT_FOUND)."""
    reply = yield from unary(client, "analytics", "CloseAlert", anb.CloseAlertRequest(id=alert_id, note=note),
                             retry=False)
    return {"id": reply.id, "status": reply.status, "closed_by": reply.closed_by}
