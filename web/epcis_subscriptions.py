"""EPCIS query subscriptions over HTTP (GS1's REST binding), over Service.subscribe_query,
subscriptions, subscription, unsubscribe and rewind_subscription (engine/app/subscriptions.py):

    POST    /epcis/queries/{name}/subscriptions      {"dest", "signatureToken", "stream": true |
                                                     "schedule": {...}, "reportIfEmpty",
                                                     "initialRecordTime"} -> 201, Location
    GET     /epcis/queries/{name}/subscriptions      the caller's subscriptions to that query
            ... with Upgrade: websocket              a stream over the socket (below)
    GET     /epcis/queries/{name}/subscriptions/{id} one, with its delivery state
    DELETE  /epcis/queries/{name}/subscriptions/{id} unsubscribe (204)
    PUT     /epcis/queries/{name}/subscriptions/{id}/bookmark   {"bookmark": N}: deliver again
                                                     after seq N (a tracecode extension)

Webhook deliveries are made by `tracecode serve`'s delivery runner (serve/delivery.py).

WebSocket: the caller's named query streamed over the socket while it is open, each message
an EPCISQueryDocument ("tracecode:bookmark" in its queryResults: the seq to come back from).
Query parameters: `stream=true` (the binding's; a schedule is for webhooks), and where to
start: `bookmark=N` (after seq N, e.g. the last message's, to resume), `initialRecordTime=T`
(every event recorded since T), or neither (what is captured from now on); `maxEventCount=N`
(else the named query's): a round of more than N events is one QueryTooLargeException message
(problem JSON with fromBookmark and bookmark) instead, the stream going on after it. The handshake
carries the bearer token (Authorization) as every EPCIS request does.
"""
from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from ..app.refusal import Refusal
from .epcis import VERSION_HEADERS, _caller, _json, _options
from .epcis_problem import problem

FIELDS = ("dest", "signatureToken", "stream", "schedule", "reportIfEmpty", "initialRecordTime", "maxEventCount")
POLL_S = 0.2       # how soon a captured event goes out over a socket
REJUDGE_S = 2.0    # an open stream's caller is judged again before each batch, and this often when idle
MAX_BODY = 16 << 10
WS_POLICY = 1008   # WebSocket close code: policy violation (refused credentials or rights)


def _base(name: str) -> str:
    return f"/epcis/queries/{quote(name, safe='')}/subscriptions"


def _body(request_body: bytes) -> dict:
    if len(request_body) > MAX_BODY:
        raise Refusal("invalid_argument", "body", f"a subscription is at most {MAX_BODY:,} bytes of JSON")
    try:
        body = json.loads(request_body)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise Refusal("invalid_argument", "body", 'the body is JSON: {"dest": URL, "stream": true} or '
                      '{"dest": URL, "schedule": {"hour": "1", "minute": "5"}}')
    extra = sorted(set(body) - set(FIELDS))
    if extra:
        raise Refusal("invalid_argument", extra[0][:40], f"{extra[0][:40]!r} is not a subscription field: "
                      f"{', '.join(FIELDS)}")
    for key in ("stream", "reportIfEmpty"):
        if key in body and not isinstance(body[key], bool):
            raise Refusal("invalid_argument", key, f"{key} is true or false")
    if body.get("schedule") is not None and not isinstance(body["schedule"], dict):
        raise Refusal("invalid_argument", "schedule", "schedule is an object: {\"hour\": \"1\", \"minute\": \"5\"}")
    return body


def _time(field: str, text) -> float:
    from ..app import epcis_params
    return epcis_params.parse_time(field, text).timestamp()


async def subscriptions(request) -> Response:
    caller = _caller(request)
    svc = request.app.state.service
    name = request.path_params["name"]
    if request.method in ("GET", "HEAD"):
        svc.named_query(caller, name, "HTTP GET /epcis/queries/{name}/subscriptions")   # 404 for no such query
        return _json(svc.subscriptions(caller, name, "HTTP GET /epcis/queries/{name}/subscriptions"))
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind not in ("application/json", "application/ld+json"):
        return problem(415, f"send the subscription as application/json, not {kind or 'no type'!r}",
                       path=request.url.path, reason="unsupported_media_type", field="content-type")
    body = _body(await request.body())
    initial = body.get("initialRecordTime")
    sub = svc.subscribe_query(
        caller, name, dest=body.get("dest"), signature_token=body.get("signatureToken"),
        stream=body.get("stream", False), schedule=body.get("schedule"),
        report_if_empty=body.get("reportIfEmpty", False), max_event_count=body.get("maxEventCount"),
        initial_record_time=None if initial is None else _time("initialRecordTime", initial),
        peer=request.state.client_host, method="HTTP POST /epcis/queries/{name}/subscriptions")
    return _json(sub, 201, headers={"location": f"{_base(sub['queryName'])}/{sub['subscriptionID']}"})


def _mine(request):
    """The caller's subscription of the path, of the path's query (404 otherwise)."""
    caller = _caller(request)
    svc = request.app.state.service
    sub = svc.subscription(caller, request.path_params["subscription_id"],
                           "HTTP GET /epcis/queries/{name}/subscriptions/{id}")
    if sub["queryName"] != request.path_params["name"]:
        raise Refusal("not_found", "subscriptionID", f"no subscription {request.path_params['subscription_id'][:64]!r} "
                      f"of the query {request.path_params['name'][:80]!r}", resource="subscription")
    return caller, svc, sub


async def subscription(request) -> Response:
    caller, svc, sub = _mine(request)
    if request.method == "DELETE":
        svc.unsubscribe(caller, sub["subscriptionID"], request.state.client_host,
                        "HTTP DELETE /epcis/queries/{name}/subscriptions/{id}")
        return Response(status_code=204, headers={**VERSION_HEADERS})
    return _json(sub)


async def bookmark(request) -> Response:
    _caller(request)
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        body = None
    value = body.get("bookmark") if isinstance(body, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Refusal("invalid_argument", "bookmark", 'the body is {"bookmark": N}: the seq after which '
                      "delivery goes on (0: from the first event)")
    caller, svc, sub = _mine(request)
    return _json(svc.rewind_subscription(caller, sub["subscriptionID"], value, request.state.client_host,
                                         "HTTP PUT /epcis/queries/{name}/subscriptions/{id}/bookmark"))


# -- WebSocket --------------------------------------------------------------------------------
async def stream(websocket) -> None:
    """GET /epcis/queries/{name}/subscriptions with Upgrade: websocket."""
    from ..epcis import outbound
    from .auth import caller_of
    svc = websocket.app.state.service
    name = websocket.path_params["name"]
    try:
        caller = caller_of(svc, websocket.headers.get("authorization"))
        if not caller.authenticated:
            raise Refusal("unauthenticated", "", "a subscription needs a bearer token (Authorization: Bearer <token>)")
        params = websocket.query_params
        extra = sorted(set(params) - {"stream", "bookmark", "initialRecordTime", "maxEventCount"})
        if extra:
            raise Refusal("invalid_argument", extra[0][:40], f"{extra[0][:40]!r}: a WebSocket subscription takes "
                          "stream=true, bookmark=N or initialRecordTime=T, and maxEventCount=N")
        if params.get("stream", "true") != "true":
            raise Refusal("invalid_argument", "stream", "a WebSocket subscription streams (stream=true); "
                          "a schedule is for webhooks")
        raw = params.get("bookmark")
        if raw is not None and not (raw.isascii() and raw.isdigit() and len(raw) <= 19):   # a seq is 63 bits
            raise Refusal("invalid_argument", "bookmark", f"bookmark is a seq (0 or more), not {raw[:20]!r}")
        initial = params.get("initialRecordTime")
        cap = params.get("maxEventCount")
        if cap is not None and not (cap.isascii() and cap.isdigit() and len(cap) <= 6):
            raise Refusal("invalid_argument", "maxEventCount", f"maxEventCount is a whole number, not {cap[:20]!r}")
        query, at, cap = await asyncio.to_thread(
            svc.subs.open_stream, caller, name, None if raw is None else int(raw),
            None if initial is None else _time("initialRecordTime", initial), "WebSocket",
            None if cap is None else int(cap))
    except Refusal as refusal:   # before accept: the handshake is refused (403), the reason logged
        await websocket.close(code=WS_POLICY, reason=f"{refusal.reason}: {refusal.detail}"[:120])
        return
    await websocket.accept()
    closed = asyncio.Event()

    async def watch():   # the client's close (or anything it sends: ignored)
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            closed.set()

    watcher = asyncio.create_task(watch())
    fmt = outbound.get(outbound.DEFAULT)
    socket_id = f"websocket:{id(websocket):x}"
    authorization, opened, judged = websocket.headers.get("authorization"), caller, time.monotonic()

    def batch(who, after, rejudge):
        """(the caller, judged again before any batch and every REJUDGE_S: revoked, demoted
        or with fewer products, a Refusal ends the stream, as a webhook's owner_of stops its
        deliveries; its next events)."""
        if rejudge or svc.index.store.epcis_last_seq() > after:
            who = svc.subs.still_streams(opened, caller_of(svc, authorization), name)
        return (who, *svc.subs.stream_round(who, query, after, cap, name, socket_id))
    try:
        while not closed.is_set():
            rejudge = time.monotonic() - judged >= REJUDGE_S
            try:
                caller, events, last, too_large = await asyncio.to_thread(batch, caller, at, rejudge)
            except Refusal as refusal:
                await websocket.close(code=WS_POLICY, reason=f"{refusal.reason}: {refusal.detail}"[:120])
                closed.set()
                break
            if rejudge:
                judged = time.monotonic()
            if too_large is not None:   # more than maxEventCount waited: the exception, the bookmark past them
                await websocket.send_text(too_large.decode("utf-8"))
            elif events:
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                body = fmt.render(events, outbound.Delivery(name, socket_id, now, last))
                await websocket.send_text(body.decode("utf-8"))
            if last != at:
                at = last
                continue
            try:
                await asyncio.wait_for(closed.wait(), POLL_S)
            except asyncio.TimeoutError:
                pass
    except (WebSocketDisconnect, RuntimeError, OSError):   # gone mid-send
        pass
    finally:
        watcher.cancel()
        if not closed.is_set():
            try:
                await websocket.close()
            except (RuntimeError, OSError):
                pass


def routes() -> list:
    """The subscription routes, for create_app (before web/epcis.py's /epcis/queries/{name})."""
    base = "/epcis/queries/{name}/subscriptions"
    one = base + "/{subscription_id}"
    return [
        Route(base, subscriptions, methods=["GET", "HEAD", "POST"]),
        Route(base, _options("OPTIONS, GET, HEAD, POST"), methods=["OPTIONS"]),
        WebSocketRoute(base, stream),
        Route(one, subscription, methods=["GET", "HEAD", "DELETE"]),
        Route(one, _options("OPTIONS, GET, HEAD, DELETE"), methods=["OPTIONS"]),
        Route(one + "/bookmark", bookmark, methods=["PUT"]),
        Route(one + "/bookmark", _options("OPTIONS, PUT"), methods=["OPTIONS"]),
    ]
