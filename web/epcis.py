"""The EPCIS 2.0 REST binding (GS1's epcis-rest-openapi.json) under /epcis: capture, capture
jobs, event queries, the resource endpoints and discovery, over tracecode.app's EPCIS verbs
(Service.capture, capture_job, query_events: engine/app/epcis.py).

    POST    /epcis/capture                 an EPCISDocument (application/ld+json, application/json;
                                           EPCIS 2.0 or 1.2 XML as application/xml or text/xml)
                                           -> 202, Location: /epcis/capture/{id}
    GET     /epcis/capture/{id}            a capture job (the caller's; any for a regulator or admin)
    GET     /epcis/events                  events by the standard query parameters (epcis_params.py),
                                           an EPCISQueryDocument; Link: <...>; rel="next" while more
    GET     /epcis/events/{eventType}      that type's events
    GET     /epcis/eventTypes[/{t}/events], /epcis/bizSteps[/{s}/events],
            /epcis/dispositions[/{d}/events], /epcis/readPoints/{r}/events,
            /epcis/bizLocations/{l}/events, /epcis/epcs/{epc}/events
    GET     /epcis                         the top-level resources
    OPTIONS any of them                    Allow and the GS1-* capability headers

Every request but OPTIONS needs a bearer token (401 without one): an issuer captures and
reads its products' events, a regulator or admin reads all, a scanner nothing (403, from the
verbs' rights). Errors are problem JSON (web/epcis_problem.py).
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime, timezone

from starlette.responses import Response
from starlette.routing import Route

from ..app.refusal import Refusal
from . import epcis_params
from .epcis_problem import CBV_VERSION, EPCIS_VERSION, problem

CAPTURE_TYPES = ("application/ld+json", "application/json", "application/xml", "text/xml")   # JSON-LD, XML
BEHAVIOURS = ("rollback", "proceed")
TOP_LEVEL = ("events", "eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints", "dispositions", "capture")
VERSION_HEADERS = {"gs1-epcis-version": EPCIS_VERSION, "gs1-epcis-min": EPCIS_VERSION,
                   "gs1-epcis-max": EPCIS_VERSION, "gs1-cbv-version": CBV_VERSION,
                   "gs1-cbv-min": CBV_VERSION, "gs1-cbv-max": CBV_VERSION}
DEFAULT_CAPTURE_EVENTS = 10_000     # GS1-EPCIS-Capture-Limit unless the settings say otherwise
MIN_EVENT_BYTES = 64                # no EPCIS event in JSON is shorter (type, eventTime, its offset)


# -- answers ------------------------------------------------------------------------------------
def _json(body, status: int = 200, *, media_type: str = "application/json", headers: dict | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status_code=status,
                    media_type=media_type,
                    headers={"cache-control": "no-store", "vary": "Authorization", **VERSION_HEADERS,
                             **(headers or {})})


def _caller(request):
    """The caller, who must have shown a token: EPCIS data is never public."""
    caller = request.state.caller
    if not caller.authenticated:
        raise Refusal("unauthenticated", "", "the EPCIS interface needs a bearer token of an issuer, "
                                             "a regulator or an admin (Authorization: Bearer <token>)")
    return caller


def _settings(request):
    return request.app.state.settings


def capture_limits(settings) -> dict:
    """The binding's capture limit headers, from the HTTP face's settings."""
    return {"gs1-epcis-capture-limit": str(capture_events(settings)),
            "gs1-epcis-capture-file-size-limit": str(capture_bytes(settings))}


def capture_bytes(settings) -> int:
    return getattr(settings, "max_capture_bytes", settings.max_body_bytes)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _version_header(request, name: str, supported: str) -> str | None:
    """A GS1-*-Version the client sent, refused (406) unless it is one we speak (2.0.x)."""
    value = request.headers.get(name)
    if value is None:
        return None
    value = value.strip()
    major_minor = supported.rpartition(".")[0]
    if value != major_minor and not value.startswith(major_minor + "."):
        raise _NotAcceptable(f"{name} {value!r}: this server speaks {supported}")
    return value


class _NotAcceptable(Exception):
    """A version header this server does not speak (406)."""


# -- capture ----------------------------------------------------------------------------------------
async def capture(request) -> Response:
    caller = _caller(request)
    settings = _settings(request)
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind not in CAPTURE_TYPES:
        return problem(415, f"send an EPCISDocument as {' or '.join(CAPTURE_TYPES)}, not {kind or 'no type'!r}",
                       path=request.url.path, reason="unsupported_media_type", field="content-type")
    raw = request.headers.get("gs1-capture-error-behaviour", "rollback").strip().lower()
    if raw not in BEHAVIOURS:
        raise Refusal("invalid_argument", "GS1-Capture-Error-Behaviour",
                      f"GS1-Capture-Error-Behaviour is rollback (the default) or proceed, not {raw!r}")
    try:
        epcis_version = _version_header(request, "gs1-epcis-version", EPCIS_VERSION)
        cbv_version = _version_header(request, "gs1-cbv-version", CBV_VERSION)
    except _NotAcceptable as exc:
        return problem(406, str(exc), path=request.url.path, reason="not_acceptable",
                       headers=VERSION_HEADERS)
    body = await request.body()
    limit = capture_bytes(settings)
    if len(body) > limit:    # the Guard bounds the read; this names the binding's limit
        return problem(413, f"the document is {len(body):,} bytes; at most {limit:,}",
                       path=request.url.path, reason="too_large", headers=capture_limits(settings))
    most = capture_events(settings)
    if len(body) > most * MIN_EVENT_BYTES:   # only a body this long can hold more events than the limit
        count = await asyncio.to_thread(_event_count, body, kind)   # a big document: off the event loop
        if count > most:
            return problem(413, f"the document has {count:,} events; at most {most:,} per capture "
                                "(GS1-EPCIS-Capture-Limit): split it", path=request.url.path,
                           reason="too_large", headers=capture_limits(settings))
    # the job as running, at once: the capture goes on in the worker's capture thread
    job = request.app.state.service.start_capture(caller, body, kind, behaviour=raw, epcis_version=epcis_version,
                                                  cbv_version=cbv_version, peer=request.state.client_host,
                                                  method="HTTP Capture")
    return _json(job_body(job), 202, headers={"location": f"/epcis/capture/{job['id']}"})


def _event_count(body: bytes, kind: str) -> int:
    """Events in a document (0 when it cannot be read: the capture job says why)."""
    from ..epcis import EpcisError, read_document
    try:
        return len(read_document(body, kind).events)
    except EpcisError:
        return 0


def job_body(job: dict) -> dict:
    """A capture job (tracecode.app.epcis) in the binding's CaptureJob shape: captureID,
    createdAt, finishedAt, running, success, captureErrorBehaviour, errors as RFC 7807
    problems (instance: "#" and the JSON pointer of the part at fault), and tracecode's
    counts (events, stored, already_stored, applied, failed) and errorsTotal beside them."""
    from .epcis_problem import exception_type
    from .status import TABLE
    errors = []
    for e in job.get("errors", ()):
        status = TABLE.get(e.get("reason"), 400)
        item = {"type": exception_type(status, "/epcis/capture"), "title": e.get("reason") or "invalid",
                "status": status, "detail": e.get("error", ""), "instance": "#" + (e.get("pointer") or ""),
                "pointer": e.get("pointer") or ""}
        if e.get("event_id"):
            item["eventID"] = e["event_id"]
        errors.append(item)
    out = {"captureID": job["id"], "createdAt": job.get("created"), "running": job.get("state") == "running",
           "success": job.get("state") == "success", "captureErrorBehaviour": job.get("behaviour", "rollback"),
           "errors": errors, "counts": job.get("counts", {}), "errorsTotal": job.get("errors_total", len(errors))}
    if job.get("finished"):
        out["finishedAt"] = job["finished"]
    return out


def capture_events(settings) -> int:
    return getattr(settings, "max_capture_events", DEFAULT_CAPTURE_EVENTS)


async def capture_job(request) -> Response:
    caller = _caller(request)
    job = request.app.state.service.capture_job(caller, request.path_params["capture_id"], "HTTP CaptureJob")
    return _json(job_body(job))


# -- queries ------------------------------------------------------------------------------------------
def query_document(events: list) -> dict:
    """An EPCISQueryDocument of a page of events (the binding's 200EPCISQueryDocument)."""
    from ..epcis.export import CONTEXT
    return {"@context": list(CONTEXT), "type": "EPCISQueryDocument", "schemaVersion": "2.0",
            "creationDate": _now(),
            "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery",
                                           "resultsBody": {"eventList": list(events)}}}}


def _next_link(request, token) -> dict:
    if not token:
        return {}
    base = request.app.state.base_url
    query = epcis_params.query_string(request.query_params, token)
    return {"link": f'<{base}{request.url.path}?{query}>; rel="next"'}


async def _answer_events(request, fixed: dict | None = None) -> Response:
    caller = _caller(request)
    query, page_token, per_page = epcis_params.parse(request.query_params)
    for field, values in (fixed or {}).items():
        given = getattr(query, field)
        if field == "epcs" and given:
            raise Refusal("invalid_argument", "MATCH_", "the EPC is in the path: leave MATCH_ parameters out")
        # a filter in the path and the same one in the query: both hold (an intersection)
        kept = tuple(v for v in given if v in values) if given else tuple(values)
        if given and not kept:
            return _json(query_document([]), media_type="application/ld+json")
        query = replace(query, **{field: kept})
    events, token = request.app.state.service.query_events(caller, query, page_token, per_page,
                                                           f"HTTP GET {request.url.path[:64]}")
    return _json(query_document(events), media_type="application/ld+json", headers=_next_link(request, token))


async def events(request) -> Response:
    return await _answer_events(request)


async def events_of_type(request) -> Response:
    """/events/{eventType}: that type's events. (The binding's /events/{eventID} is not
    served yet: an event id is a URI, never one of the five type names, so it can come here.)"""
    name = request.path_params["event_type"]
    if name not in epcis_params.EVENT_TYPES:
        _caller(request)
        types = ", ".join(epcis_params.EVENT_TYPES)
        raise Refusal("not_found", "eventType", f"{name[:64]!r} is not an event type ({types}); events by "
                      "eventID are not served here yet: query /epcis/epcs/{epc}/events",
                      resource="eventType", name=name[:64])
    return await _answer_events(request, {"event_types": (name,)})


def _by(field: str, param: str):
    async def handler(request) -> Response:
        return await _answer_events(request, {field: (request.path_params[param],)})
    handler.__name__ = f"events_by_{param}"
    return handler


async def _by_epc(request) -> Response:
    """/epcs/{epc}/events: the events naming the EPC in any role (as MATCH_anyEPC and MATCH_epcClass)."""
    return await _answer_events(request, {"epcs": (request.path_params["epc"],), "epc_roles": ()})


def _collection(members) -> dict:
    from ..epcis.schema import GS1_CONTEXT_URL
    return {"@context": [GS1_CONTEXT_URL], "type": "Collection", "member": list(members)}


async def top_level(request) -> Response:
    _caller(request)
    return _json(_collection(TOP_LEVEL))


async def event_types(request) -> Response:
    _caller(request)
    return _json(_collection(epcis_params.EVENT_TYPES))


async def biz_steps(request) -> Response:
    from ..epcis import vocabulary
    _caller(request)
    return _json(_collection(vocabulary.BIZ_STEPS))


async def dispositions(request) -> Response:
    from ..epcis import vocabulary
    _caller(request)
    return _json(_collection(vocabulary.DISPOSITIONS))


# -- discovery (OPTIONS) ----------------------------------------------------------------------------------
def _options(methods: str, capture_endpoint: bool = False):
    async def handler(request) -> Response:
        headers = {"allow": methods, **VERSION_HEADERS}
        if capture_endpoint:
            headers.update(capture_limits(_settings(request)))
            headers["gs1-capture-error-behaviour"] = "all"   # the binding's "both rollback and proceed"
        return Response(status_code=204, headers=headers)
    return handler


def _route(path: str, endpoint, methods=("GET", "HEAD"), *, capture_endpoint: bool = False) -> list:
    allow = ", ".join(["OPTIONS", *methods])
    return [Route(path, endpoint, methods=list(methods)),
            Route(path, _options(allow, capture_endpoint), methods=["OPTIONS"])]


def routes() -> list:
    """The /epcis routes, for create_app."""
    return [
        *_route("/epcis", top_level),
        *_route("/epcis/capture", capture, ("POST",), capture_endpoint=True),
        *_route("/epcis/capture/{capture_id}", capture_job),
        *_route("/epcis/events", events),
        *_route("/epcis/events/{event_type}", events_of_type),
        *_route("/epcis/eventTypes", event_types),
        *_route("/epcis/eventTypes/{event_type}/events", _by("event_types", "event_type")),
        *_route("/epcis/epcs/{epc:path}/events", _by_epc),
        *_route("/epcis/bizSteps", biz_steps),
        *_route("/epcis/bizSteps/{biz_step:path}/events", _by("biz_steps", "biz_step")),
        *_route("/epcis/dispositions", dispositions),
        *_route("/epcis/dispositions/{disposition:path}/events", _by("dispositions", "disposition")),
        *_route("/epcis/readPoints/{read_point:path}/events", _by("read_points", "read_point")),
        *_route("/epcis/bizLocations/{biz_location:path}/events", _by("biz_locations", "biz_location")),
    ]
