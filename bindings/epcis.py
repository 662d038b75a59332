"""The gRPC Epcis service (proto/tracecode/v1/epcis.proto), thin over the application's
EPCIS verbs (Service.start_capture, capture_job, capture_jobs, query_epcis, epcis_event,
history_epcis, the named queries): decode the request, call the verb, encode the reply.
Events travel as their JSON-LD text, as every other EPCIS interface has them."""
from __future__ import annotations

import asyncio
import json

from ..app.epcis_params import DEFAULT_PER_PAGE
from ..app.refusal import invalid
from . import epcis_pb2 as epb
from . import epcis_pb2_grpc
from .limits import MAX_MESSAGE_BYTES
from .servicers import _Servicer, rpc

WAIT_POLL_S = 0.02          # how often a waiting CaptureEpcis looks at its job
DOCUMENT_FRAMING = 16       # EpcisDocument's bytes besides the text: the tag and a varint length


def job_pb(job: dict) -> epb.CaptureJob:
    c = job.get("counts") or {}
    return epb.CaptureJob(
        id=job["id"], state=job.get("state", ""), behaviour=job.get("behaviour", ""),
        created=job.get("created") or "", finished=job.get("finished") or "", client=job.get("client") or "",
        counts=epb.CaptureCounts(**{k: int(c.get(k, 0)) for k in ("events", "stored", "already_stored",
                                                                   "applied", "failed")}),
        errors=[epb.CaptureError(pointer=e.get("pointer") or "", event_id=e.get("event_id") or "",
                                 reason=e.get("reason") or "", error=e.get("error") or "")
                for e in job.get("errors", ())],
        errors_total=int(job.get("errors_total", 0)))


def params_of(params) -> dict:
    """QueryParams as the binding's {name: [values]} (a name given twice adds to its list)."""
    out: dict = {}
    for p in params:
        out.setdefault(p.name, []).extend(p.values)
    return out


def paging(params: dict, per_page: int, page_token: str) -> dict:
    for name in ("perPage", "nextPageToken"):
        if name in params:
            raise invalid(name, f"give {name} as the request's {'per_page' if name == 'perPage' else 'page_token'}")
    if per_page:
        params["perPage"] = [str(per_page)]
    if page_token:
        params["nextPageToken"] = [page_token]
    return params


def _events_pb(events, token) -> epb.QueryEpcisEventsReply:
    return epb.QueryEpcisEventsReply(events=[json.dumps(e, ensure_ascii=False) for e in events],
                                     next_page_token=token or "")


def _query_pb(definition: dict) -> epb.NamedQuery:
    return epb.NamedQuery(name=definition["name"], created=definition.get("created") or "",
                          params=[epb.QueryParam(name=k, values=list(v)) for k, v in definition["query"].items()])


class Epcis(_Servicer, epcis_pb2_grpc.EpcisServicer):
    @rpc("capture")
    async def CaptureEpcis(self, req, context, who):
        job = self.svc.start_capture(who, req.body, req.content_type or "application/ld+json",
                                     behaviour=req.behaviour or "rollback", epcis_version=req.epcis_version or None,
                                     cbv_version=req.cbv_version or None, peer=context.peer(),
                                     method="CaptureEpcis")
        while req.wait and job.get("state") == "running":
            await asyncio.sleep(WAIT_POLL_S)   # the capture thread works; the loop serves others
            job = self.svc.capture_job(who, job["id"], "CaptureEpcis")
        return job_pb(job)

    @rpc("capture_job")
    async def GetCaptureJob(self, req, context, who):
        return job_pb(self.svc.capture_job(who, req.id, "GetCaptureJob"))

    @rpc("capture_job")
    async def ListCaptureJobs(self, req, context, who):
        jobs, token = self.svc.capture_jobs(who, req.page_token or None, req.per_page or DEFAULT_PER_PAGE,
                                            "ListCaptureJobs")
        return epb.ListCaptureJobsReply(jobs=[job_pb(j) for j in jobs], next_page_token=token or "")

    @rpc("query_events")
    async def QueryEpcisEvents(self, req, context, who):
        params = paging(params_of(req.params), req.per_page, req.page_token)
        events, token = self.svc.query_epcis(who, params, method="QueryEpcisEvents")
        return _events_pb(events, token)

    @rpc("query_events")
    async def GetEpcisEvent(self, req, context, who):
        return _events_pb(self.svc.epcis_event(who, req.event_id, "GetEpcisEvent"), None)

    @rpc("history")
    async def EpcisHistory(self, req, context, who):
        doc = json.dumps(self.svc.history_epcis(who, req.code, "EpcisHistory"), ensure_ascii=False)
        # bytes as sent (Chinese names are 3 each in UTF-8), and the field's tag and length
        if len(doc.encode("utf-8", "surrogatepass")) + DOCUMENT_FRAMING > MAX_MESSAGE_BYTES:
            raise invalid("code", f"the history of {req.code[:80]!r} is over {MAX_MESSAGE_BYTES:,} bytes as "
                          "EPCIS: read it with tracecode history DIR CODE --epcis on the server")
        return epb.EpcisDocument(document=doc)

    @rpc("define_query")
    async def DefineQuery(self, req, context, who):
        return _query_pb(self.svc.define_query(who, req.name, params_of(req.params), context.peer(), "DefineQuery"))

    @rpc("named_queries")
    async def GetQuery(self, req, context, who):
        return _query_pb(self.svc.named_query(who, req.name, "GetQuery"))

    @rpc("named_queries")
    async def ListQueries(self, req, context, who):
        found, token = self.svc.named_queries(who, req.page_token or None, req.per_page or DEFAULT_PER_PAGE,
                                              "ListQueries")
        return epb.ListQueriesReply(queries=[_query_pb(d) for d in found], next_page_token=token or "")

    @rpc("delete_query")
    async def DeleteQuery(self, req, context, who):
        self.svc.delete_query(who, req.name, context.peer(), "DeleteQuery")
        return epb.DeleteQueryReply()

    @rpc("named_queries")
    async def RunQuery(self, req, context, who):
        events, token = self.svc.run_query(who, req.name, req.page_token or None, req.per_page or None, "RunQuery")
        return _events_pb(events, token)
