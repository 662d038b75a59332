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
from datetime import datetime, timezone
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from ..app.refusal import Refusal
from . import epcis_params
from .epcis_problem import CBV_VERSION, EPCIS_VERSION, problem

CAPTURE_TYPES = ("application/ld+json", "application/json", "application/xml", "text/xml")   # JSON-LD, XML
BEHAVIOURS = ("rollback", "proceed")
TOP_LEVEL = ("events", "eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints", "dispositions", "capture",
             "queries")
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
    try:
        job = request.app.state.service.start_capture(caller, body, kind, behaviour=raw, epcis_version=epcis_version,
                                                      cbv_version=cbv_version, peer=request.state.client_host,
                                                      method="HTTP Capture")
    except Refusal as refusal:   # the capture queue is full: the client is told when to come back
        if refusal.reason != "too_many_captures":
            raise
        wait = refusal.facts.get("retry_after", "5")
        return problem(429, refusal.detail, path=request.url.path, reason=refusal.reason,
                       headers={"retry-after": wait}, extra={"retry_after": int(wait)})
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
    if job.get("undone"):   # error declarations whose event's state change was undone: [{event_id, codes}]
        out["undone"] = [{"eventID": u["event_id"], "codes": u["codes"]} for u in job["undone"]]
    return out


def capture_events(settings) -> int:
    return getattr(settings, "max_capture_events", DEFAULT_CAPTURE_EVENTS)


async def capture_job(request) -> Response:
    caller = _caller(request)
    job = request.app.state.service.capture_job(caller, request.path_params["capture_id"], "HTTP CaptureJob")
    return _json(job_body(job))


# -- queries ------------------------------------------------------------------------------------------
def query_document(events: list, query_name: str = "SimpleEventQuery") -> dict:
    """An EPCISQueryDocument of a page of events (the binding's 200EPCISQueryDocument)."""
    from ..epcis.export import CONTEXT
    return {"@context": list(CONTEXT), "type": "EPCISQueryDocument", "schemaVersion": "2.0",
            "creationDate": _now(),
            "epcisBody": {"queryResults": {"queryName": query_name,
                                           "resultsBody": {"eventList": list(events)}}}}


def _next_link(request, token) -> dict:
    if not token:
        return {}
    base = request.app.state.base_url
    query = epcis_params.query_string(request.query_params, token)
    return {"link": f'<{base}{request.url.path}?{query}>; rel="next"'}


async def _answer_events(request, fixed: dict | None = None, name: str | None = None) -> Response:
    caller = _caller(request)
    method = f"HTTP GET {request.url.path[:64]}"
    if name is None:
        events, token = request.app.state.service.query_epcis(caller, request.query_params, fixed, method)
    else:   # a named query: its own parameters, and only paging from the request
        extra = sorted(set(request.query_params) - set(epcis_params.PAGING))
        if extra:
            raise Refusal("invalid_argument", extra[0], f"{extra[0]!r}: a named query's parameters are its "
                          "own; give only perPage and nextPageToken")
        per_page = request.query_params.get("perPage")
        if per_page is not None and not (per_page.isascii() and per_page.isdigit()
                                         and 1 <= int(per_page) <= epcis_params.MAX_PER_PAGE):
            raise Refusal("invalid_argument", "perPage", f"perPage must be a whole number from 1 to "
                          f"{epcis_params.MAX_PER_PAGE:,}, not {per_page[:20]!r}")
        events, token = request.app.state.service.run_query(
            caller, name, request.query_params.get("nextPageToken"),
            int(per_page) if per_page else None, method)
    return _json(query_document(events, name or "SimpleEventQuery"), media_type="application/ld+json",
                 headers=_next_link(request, token))


async def events(request) -> Response:
    return await _answer_events(request)


async def events_of_type(request) -> Response:
    """/events/{eventType}: that type's events; /events/{eventID}: that event (an event id is
    a URI, never one of the five type names), with its error declaration when captured."""
    name = request.path_params["event_type"]
    if name in epcis_params.EVENT_TYPES:
        return await _answer_events(request, {"event_types": (name,)})
    caller = _caller(request)
    if request.query_params:
        first = next(iter(request.query_params))
        raise Refusal("invalid_argument", first, f"{first[:40]!r}: /epcis/events/{{eventID}} takes no parameters")
    found = request.app.state.service.epcis_event(caller, name, "HTTP GET /epcis/events/{eventID}")
    return _json(query_document(found), media_type="application/ld+json")


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


# -- capture jobs, named queries ------------------------------------------------------------------
def _paging(request) -> tuple[str | None, int]:
    extra = sorted(set(request.query_params) - set(epcis_params.PAGING))
    if extra:
        raise Refusal("invalid_argument", extra[0], f"{extra[0][:40]!r} is not read here: perPage, nextPageToken")
    per_page = request.query_params.get("perPage", str(epcis_params.DEFAULT_PER_PAGE))
    if not (per_page.isascii() and per_page.isdigit()) or not 1 <= int(per_page) <= epcis_params.MAX_PER_PAGE:
        raise Refusal("invalid_argument", "perPage", f"perPage must be a whole number from 1 to "
                      f"{epcis_params.MAX_PER_PAGE:,}, not {per_page[:20]!r}")
    return request.query_params.get("nextPageToken"), int(per_page)


async def capture_jobs(request) -> Response:
    """GET /epcis/capture: the caller's capture jobs, newest first, paged."""
    caller = _caller(request)
    token, per_page = _paging(request)
    jobs, token = request.app.state.service.capture_jobs(caller, token, per_page, "HTTP GET /epcis/capture")
    return _json([job_body(j) for j in jobs], headers=_next_link(request, token))


def _query_body(definition: dict) -> dict:
    """A named query as the binding writes it: name, query (parameter -> values), and when."""
    return {"name": definition["name"], "query": definition["query"], "createdAt": definition.get("created")}


async def queries(request) -> Response:
    """GET /epcis/queries: the caller's named queries; POST: define one ({"name", "query"})."""
    caller = _caller(request)
    svc = request.app.state.service
    if request.method in ("GET", "HEAD"):
        token, per_page = _paging(request)
        found, token = svc.named_queries(caller, token, per_page, "HTTP GET /epcis/queries")
        return _json([_query_body(d) for d in found], headers=_next_link(request, token))
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind not in ("application/json", "application/ld+json"):
        return problem(415, f"send the query as application/json, not {kind or 'no type'!r}",
                       path=request.url.path, reason="unsupported_media_type", field="content-type")
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise Refusal("invalid_argument", "body", "the body is not JSON: send "
                      '{"name": "...", "query": {"EQ_bizStep": ["shipping"]}}') from None
    if not isinstance(body, dict) or not isinstance(body.get("query", {}), dict):
        raise Refusal("invalid_argument", "query", 'the body is {"name": "...", "query": {parameter: [values]}}')
    params = {k: [v] if isinstance(v, str) else v for k, v in body.get("query", {}).items()}
    for k, v in params.items():
        if not isinstance(v, list) or not all(isinstance(x, (str, int)) for x in v):
            raise Refusal("invalid_argument", str(k)[:40], f"{str(k)[:40]!r} takes a text or a list of texts")
    params = {k: ["|".join(str(x) for x in v)] if len(v) > 1 else [str(x) for x in v] for k, v in params.items()}
    definition = svc.define_query(caller, body.get("name"), params, request.state.client_host,
                                  "HTTP POST /epcis/queries")
    return _json(_query_body(definition), 201, headers={"location": f"/epcis/queries/{quote(definition['name'])}"})


async def named_query(request) -> Response:
    caller = _caller(request)
    svc = request.app.state.service
    name = request.path_params["name"]
    if request.method == "DELETE":
        svc.delete_query(caller, name, request.state.client_host, "HTTP DELETE /epcis/queries/{name}")
        return Response(status_code=204, headers={**VERSION_HEADERS})
    return _json(_query_body(svc.named_query(caller, name, "HTTP GET /epcis/queries/{name}")))


async def named_query_events(request) -> Response:
    return await _answer_events(request, name=request.path_params["name"])


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


async def _capture_or_jobs(request) -> Response:
    return await (capture(request) if request.method == "POST" else capture_jobs(request))


def routes() -> list:
    """The /epcis routes, for create_app."""
    return [
        *_route("/epcis", top_level),
        *_route("/epcis/capture", _capture_or_jobs, ("GET", "HEAD", "POST"), capture_endpoint=True),
        *_route("/epcis/queries", queries, ("GET", "HEAD", "POST")),
        *_route("/epcis/queries/{name}", named_query, ("GET", "HEAD", "DELETE")),
        *_route("/epcis/queries/{name}/events", named_query_events),
        *_route("/epcis/capture/{capture_id}", capture_job),
        *_route("/epcis/events", events),
        *_route("/epcis/events/{event_type:path}", events_of_type),
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
