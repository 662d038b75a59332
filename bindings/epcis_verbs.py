"""The client's EPCIS verbs (tracecode.v1.Client and AsyncClient), the same names and
arguments as the local back end's (tracecode.app.LocalClient), so `tracecode epcis ...`
has one code path for DIR and --server."""
from __future__ import annotations

import json

from . import epcis_pb2 as epb
from .verbs import verb, unary


def job_dict(job: epb.CaptureJob) -> dict:
    """A CaptureJob as the application writes jobs (tracecode.app.epcis)."""
    c = job.counts
    return {"id": job.id, "state": job.state, "behaviour": job.behaviour, "client": job.client or None,
            "created": job.created or None, "finished": job.finished or None,
            "counts": {k: getattr(c, k) for k in ("events", "stored", "already_stored", "applied", "failed")},
            "errors": [{"pointer": e.pointer, "event_id": e.event_id or None, "reason": e.reason, "error": e.error}
                       for e in job.errors],
            "errors_total": job.errors_total}


def _params(params: dict) -> list:
    return [epb.QueryParam(name=k, values=[v] if isinstance(v, str) else [str(x) for x in v])
            for k, v in (params or {}).items()]


def _events(reply) -> tuple[list, str | None]:
    return [json.loads(e) for e in reply.events], reply.next_page_token or None


@verb
def capture(client, body: bytes, content_type: str = "application/ld+json", *, behaviour: str = "rollback",
            wait: bool = True) -> dict:
    """Capture an EPCIS document; the capture job (finished, unless wait=False). Not
    retried: a capture sent again is acknowledged as already stored, event by event."""
    req = epb.CaptureEpcisRequest(body=body, content_type=content_type, behaviour=behaviour, wait=wait)
    return job_dict((yield from unary(client, "epcis", "CaptureEpcis", req, retry=False)))


@verb
def capture_job(client, job_id: str) -> dict:
    return job_dict((yield from unary(client, "epcis", "GetCaptureJob", epb.GetCaptureJobRequest(id=job_id))))


@verb
def capture_jobs(client, page_token: str | None = None, per_page: int = 30) -> tuple[list, str | None]:
    reply = yield from unary(client, "epcis", "ListCaptureJobs",
                             epb.ListCaptureJobsRequest(per_page=per_page, page_token=page_token or ""))
    return [job_dict(j) for j in reply.jobs], reply.next_page_token or None


@verb
def query_epcis(client, params: dict, page_token: str | None = None, per_page: int = 30) -> tuple[list, str | None]:
    """(events, next page token) of the binding's query parameters ({"EQ_bizStep": "shipping"})."""
    req = epb.QueryEpcisEventsRequest(params=_params(params), per_page=per_page, page_token=page_token or "")
    return _events((yield from unary(client, "epcis", "QueryEpcisEvents", req)))


@verb
def epcis_event(client, event_id: str) -> list:
    return _events((yield from unary(client, "epcis", "GetEpcisEvent",
                                     epb.GetEpcisEventRequest(event_id=event_id))))[0]


@verb
def history_epcis(client, code: str) -> dict:
    """A code's history as an EPCISDocument (GS1's schema)."""
    reply = yield from unary(client, "epcis", "EpcisHistory", epb.EpcisHistoryRequest(code=code))
    return json.loads(reply.document)


def _definition(q: epb.NamedQuery) -> dict:
    return {"name": q.name, "query": {p.name: list(p.values) for p in q.params}, "created": q.created or None}


@verb
def define_query(client, name: str, params: dict) -> dict:
    req = epb.DefineQueryRequest(name=name, params=_params(params))
    return _definition((yield from unary(client, "epcis", "DefineQuery", req, done_if_exists=True)) or
                       (yield from unary(client, "epcis", "GetQuery", epb.GetQueryRequest(name=name))))


@verb
def named_query(client, name: str) -> dict:
    return _definition((yield from unary(client, "epcis", "GetQuery", epb.GetQueryRequest(name=name))))


@verb
def named_queries(client, page_token: str | None = None, per_page: int = 30) -> tuple[list, str | None]:
    reply = yield from unary(client, "epcis", "ListQueries",
                             epb.ListQueriesRequest(per_page=per_page, page_token=page_token or ""))
    return [_definition(q) for q in reply.queries], reply.next_page_token or None


@verb
def delete_query(client, name: str) -> None:
    yield from unary(client, "epcis", "DeleteQuery", epb.GetQueryRequest(name=name), retry=False)


@verb
def run_query(client, name: str, page_token: str | None = None, per_page: int = 30) -> tuple[list, str | None]:
    req = epb.RunQueryRequest(name=name, per_page=per_page, page_token=page_token or "")
    return _events((yield from unary(client, "epcis", "RunQuery", req)))
