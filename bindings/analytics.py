"""The gRPC Analytics service (proto/tracecode/v1/analytics.proto), thin over the
application's alert verbs (tracecode.app.alertsapp): decode, call with the caller, encode.
Each alert travels with its JSON as stored, so a remote `tracecode alerts` prints what the
local one does."""
from __future__ import annotations

import json

from ..app import alertsapp
from . import analytics_pb2 as anb
from . import analytics_pb2_grpc
from .servicers import _Servicer, rpc

DEFAULT_LIMIT = 100


def alert_pb(a: dict) -> anb.Alert:
    return anb.Alert(id=a["id"], rule=a.get("rule") or "", severity=a.get("severity") or "",
                     subject=str(a.get("subject") or ""), code=a.get("code") or "",
                     product=str(a.get("product") or ""), region=str(a.get("region") or ""),
                     first_time=a.get("first_time") or "", last_time=a.get("last_time") or "",
                     status=a.get("status") or "", json=json.dumps(a, ensure_ascii=False, sort_keys=True))


class Analytics(_Servicer, analytics_pb2_grpc.AnalyticsServicer):
    @rpc("alerts")
    async def ListAlerts(self, req, context, who):
        found, token = alertsapp.page_alerts(self.svc, who, rule=req.rule or None, code=req.code or None,
                                             open_only=req.open_only, limit=req.limit or DEFAULT_LIMIT,
                                             page_token=req.page_token or None, method="ListAlerts")
        return anb.ListAlertsReply(alerts=[alert_pb(a) for a in found], next_page_token=token or "")

    @rpc("close_alert")
    async def CloseAlert(self, req, context, who):
        done = alertsapp.close_alert(self.svc, who, req.id, req.note, method="CloseAlert", peer=context.peer())
        return anb.CloseAlertReply(id=done["id"], status=done["status"], closed_by=done["closed_by"])
