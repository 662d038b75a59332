"""The /epcis paths of the OpenAPI document (web/openapi.py merges them): what this server
serves of GS1's EPCIS 2.0 REST binding, with the binding's own names (parameters, headers,
exceptions), so an integrator reads here which parts of the binding it may call.

>>> sorted(paths())[:3]
['/epcis', '/epcis/bizLocations/{bizLocation}/events', '/epcis/bizSteps']
"""
from __future__ import annotations

from ..app.epcis_params import (DEFAULT_PER_PAGE, MAX_EVENT_COUNT, MAX_PER_PAGE, ORDER_FIELDS, PAGING,
                                 PARAMETERS, PREFIXED)

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_BEARER = [{"bearer": []}]
_VERSION = {"schema": {"type": "string", "example": "2.0.0"}}


def _problem(description: str, headers: dict | None = None) -> dict:
    out = {"description": description, "content": {"application/problem+json": {"schema": _PROBLEM}}}
    if headers:
        out["headers"] = headers
    return out


_DENIED = {"401": _problem("no bearer token, or an unknown one (epcisException:SecurityException)"),
           "403": _problem("the caller may not read or capture these events (a scanner; another "
                           "company's products)")}
_LIMITS = {"GS1-EPCIS-Capture-Limit": {"schema": {"type": "integer", "minimum": 1},
                                       "description": "the most events one capture takes"},
           "GS1-EPCIS-Capture-File-Size-Limit": {"schema": {"type": "integer", "minimum": 1},
                                                 "description": "the most bytes one capture takes"}}
_QUERY_DOC = {"application/ld+json": {"schema": {"$ref": "#/components/schemas/EPCISQueryDocument"}}}
_COLLECTION = {"application/json": {"schema": {"$ref": "#/components/schemas/Collection"}}}
_JOB = {"application/json": {"schema": {"$ref": "#/components/schemas/CaptureJob"}}}
_NEXT = {"Link": {"schema": {"type": "string"}, "description": '<URL of the next page>; rel="next" '
                                                              "while there are more"}}

def _query_params() -> list:
    """Every parameter of the one table (tracecode.app.epcis_params), as OpenAPI writes them."""
    out = []
    for name, param in PARAMETERS.items():
        if param.kind == "time":
            schema = {"type": "string", "format": "date-time"}
        elif param.kind in ("page", "count", "max"):
            schema = {"type": "integer", "minimum": 1}
            if param.kind == "page":
                schema.update(maximum=MAX_PER_PAGE, default=DEFAULT_PER_PAGE)
            if param.kind == "max":
                schema.update(maximum=MAX_EVENT_COUNT)
        elif param.kind == "quantity":
            schema = {"type": "number"}
        elif param.kind in ("token", "order", "direction", "exists"):
            schema = {"type": "string"}
            if param.kind == "order":
                schema["enum"] = list(ORDER_FIELDS)
            if param.kind == "direction":
                schema.update(enum=["ASC", "DESC"], default="DESC")
        else:
            schema = {"type": "array", "items": {"type": "string"}, "minItems": 1}
        item = {"name": name, "in": "query", "required": False, "schema": schema, "description": param.help}
        if schema["type"] == "array":
            item.update(style="pipeDelimited", explode=False)
        out.append(item)
    return out


_PREFIXED_HELP = ("Also read: " + "; ".join(dict.fromkeys(p.help for p in PREFIXED.values())) +
                  ". Any other parameter is a 400 (epcisException:QueryParameterException) naming it.")


def _paging() -> list:
    return [item for item in _query_params() if item["name"] in PAGING]


_QUERY_DEF = {"type": "object", "required": ["name", "query"],
              "properties": {"name": {"type": "string", "minLength": 1},
                             "query": {"type": "object", "description": "parameter -> [values], as GET /epcis/events"}}}


def _path_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


def _events_get(summary: str, op: str, params: list) -> dict:
    return {"get": {"operationId": op, "summary": summary, "tags": ["EPCIS"], "security": _BEARER,
                    "description": _PREFIXED_HELP, "parameters": params,
                    "responses": {"200": {"description": "an EPCISQueryDocument of one page",
                                          "headers": _NEXT, "content": _QUERY_DOC},
                                  "400": _problem("a parameter is malformed or not read here "
                                                  "(epcisException:QueryParameterException)"),
                                  "413": _problem("more events than maxEventCount "
                                                  "(epcisException:QueryTooLargeException)"),
                                  **_DENIED}}}


def _collection_get(summary: str, op: str) -> dict:
    return {"get": {"operationId": op, "summary": summary, "tags": ["EPCIS"], "security": _BEARER,
                    "responses": {"200": {"description": "a Collection", "content": _COLLECTION}, **_DENIED}}}


def paths() -> dict:
    query = _query_params()
    by = {
        "/epcis/eventTypes/{eventType}/events": ("eventType", "an event type"),
        "/epcis/epcs/{epc}/events": ("epc", "an EPC URI (percent-encoded), in any of the event's EPC fields"),
        "/epcis/bizSteps/{bizStep}/events": ("bizStep", "a CBV bizStep (shipping) or its URI"),
        "/epcis/dispositions/{disposition}/events": ("disposition", "a CBV disposition or its URI"),
        "/epcis/readPoints/{readPoint}/events": ("readPoint", "a readPoint URI (urn:epc:id:sgln:...)"),
        "/epcis/bizLocations/{bizLocation}/events": ("bizLocation", "a bizLocation URI"),
    }
    out = {
        "/epcis": _collection_get("the top-level EPCIS resources", "epcisTopLevel"),
        "/epcis/capture": {
            "get": {"operationId": "epcisCaptureJobs", "tags": ["EPCIS"], "security": _BEARER,
                    "summary": "the caller's capture jobs, newest first", "parameters": _paging(),
                    "responses": {"200": {"description": "[CaptureJob]", "headers": _NEXT,
                                          "content": {"application/json": {"schema": {
                                              "type": "array", "items": {"$ref": "#/components/schemas/CaptureJob"}}}}},
                                  **_DENIED}},
            "post": {"operationId": "epcisCapture", "tags": ["EPCIS"], "security": _BEARER,
                     "summary": "capture an EPCISDocument; its events are checked and stored by a capture job",
                     "parameters": [{"name": "GS1-Capture-Error-Behaviour", "in": "header", "required": False,
                                     "schema": {"type": "string", "enum": ["rollback", "proceed"],
                                                "default": "rollback"},
                                     "description": "rollback: all or nothing; proceed: every valid event"},
                                    {"name": "GS1-EPCIS-Version", "in": "header", "required": False, **_VERSION},
                                    {"name": "GS1-CBV-Version", "in": "header", "required": False, **_VERSION}],
                     "requestBody": {"required": True, "content": {
                         "application/ld+json": {"schema": {"type": "object"}},
                         "application/json": {"schema": {"type": "object"}},
                         "application/xml": {"schema": {"type": "string"}}}},
                     "responses": {
                         "202": {"description": "the capture job (also at Location)",
                                 "headers": {"Location": {"schema": {"type": "string"},
                                                          "description": "/epcis/capture/{captureID}"}},
                                 "content": _JOB},
                         "400": _problem("not an EPCISDocument, or a bad header "
                                         "(epcisException:ValidationException)"),
                         **_DENIED,
                         "406": _problem("a GS1-EPCIS-Version or GS1-CBV-Version this server does not speak"),
                         "413": _problem("over GS1-EPCIS-Capture-Limit or GS1-EPCIS-Capture-File-Size-Limit "
                                         "(epcisException:CaptureLimitExceededException)", _LIMITS),
                         "415": _problem("not application/ld+json, application/json or application/xml")}},
            "options": {"operationId": "epcisCaptureOptions", "tags": ["EPCIS"],
                        "summary": "the capture interface's versions and limits",
                        "responses": {"204": {"description": "Allow, GS1-EPCIS-Version/Min/Max, GS1-CBV-"
                                                             "Version/Min/Max, GS1-Capture-Error-Behaviour: all",
                                              "headers": _LIMITS}}}},
        "/epcis/capture/{captureID}": {"get": {
            "operationId": "epcisCaptureJob", "tags": ["EPCIS"], "security": _BEARER,
            "summary": "a capture job: running, success, counts, per-event errors with JSON pointers",
            "parameters": [_path_param("captureID", "the id of Location")],
            "responses": {"200": {"description": "the job",
                                  "content": _JOB},
                          **_DENIED, "404": _problem("no such job of this caller")}}},
        "/epcis/events": _events_get("events matching the standard query parameters", "epcisEvents", query),
        "/epcis/events/{eventID}": _events_get(
            "one event by its eventID (with its error declaration when one was captured); 404 when the "
            "caller may read none. One of the five type names instead (ObjectEvent...) gives that type's "
            "events, with the query parameters", "epcisEventByID",
            [_path_param("eventID", "an eventID (percent-encoded), or ObjectEvent, AggregationEvent, "
                                    "TransactionEvent, TransformationEvent, AssociationEvent"), *query]),
        "/epcis/queries": {
            "get": {"operationId": "epcisQueries", "tags": ["EPCIS"], "security": _BEARER,
                    "summary": "the caller's named queries, in name order", "parameters": _paging(),
                    "responses": {"200": {"description": "[{name, query, createdAt}]", "headers": _NEXT,
                                          "content": {"application/json": {"schema": {"type": "array"}}}},
                                  **_DENIED}},
            "post": {"operationId": "epcisDefineQuery", "tags": ["EPCIS"], "security": _BEARER,
                     "summary": "save a query under a name of the caller's (its parameters checked now)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _QUERY_DEF}}},
                     "responses": {"201": {"description": "the definition", "headers": {
                         "Location": {"schema": {"type": "string"}, "description": "/epcis/queries/{queryName}"}}},
                                   "400": _problem("a parameter or the name is malformed "
                                                   "(epcisException:QueryParameterException)"),
                                   **_DENIED,
                                   "409": _problem("the caller has a query of that name "
                                                   "(epcisException:ResourceAlreadyExistsException)")}}},
        "/epcis/queries/{queryName}": {
            "get": {"operationId": "epcisNamedQuery", "tags": ["EPCIS"], "security": _BEARER,
                    "summary": "a named query's definition", "parameters": [_path_param("queryName", "its name")],
                    "responses": {"200": {"description": "{name, query, createdAt}"}, **_DENIED,
                                  "404": _problem("the caller has no query of that name")}},
            "delete": {"operationId": "epcisDeleteQuery", "tags": ["EPCIS"], "security": _BEARER,
                       "summary": "delete a named query", "parameters": [_path_param("queryName", "its name")],
                       "responses": {"204": {"description": "deleted"}, **_DENIED,
                                     "404": _problem("the caller has no query of that name")}}},
        "/epcis/queries/{queryName}/events": _events_get(
            "a named query's events (only perPage and nextPageToken are read)", "epcisNamedQueryEvents",
            [_path_param("queryName", "its name"), *_paging()]),
        **_subscription_paths(),
        "/epcis/eventTypes": _collection_get("the event types", "epcisEventTypes"),
        "/epcis/bizSteps": _collection_get("the CBV bizSteps", "epcisBizSteps"),
        "/epcis/dispositions": _collection_get("the CBV dispositions", "epcisDispositions"),
    }
    for path, (name, description) in by.items():
        op = "epcisEventsBy" + name[0].upper() + name[1:]
        out[path] = _events_get(f"the events of one {name}", op, [_path_param(name, description), *query])
    return out


def _subscription_paths() -> dict:
    """The binding's query subscriptions (web/epcis_subscriptions.py)."""
    name = _path_param("queryName", "one of the caller's named queries")
    sid = _path_param("subscriptionID", "the subscription's id")
    sub = {"application/json": {"schema": {"type": "object", "description": "subscriptionID, queryName, "
                                           "dest, createdAt, stream or schedule, reportIfEmpty, bookmark, "
                                           "delivered, lastNotifiedAt, attempts, lastError"}}}
    body = {"type": "object", "required": ["dest"], "additionalProperties": False, "properties": {
        "dest": {"type": "string", "format": "uri"}, "signatureToken": {"type": "string"},
        "stream": {"type": "boolean"}, "schedule": {"type": "object"}, "reportIfEmpty": {"type": "boolean"},
        "initialRecordTime": {"type": "string", "format": "date-time"},
        "maxEventCount": {"type": "integer", "minimum": 1, "maximum": MAX_EVENT_COUNT,
                          "description": "a delivery round over it is one QueryTooLargeException"}}}
    missing = _problem("no such query or subscription of the caller's (epcisException:NoSuchNameException)")
    base = "/epcis/queries/{queryName}/subscriptions"
    return {
        base: {
            "get": {"operationId": "epcisSubscriptions", "tags": ["EPCIS"], "security": _BEARER,
                    "summary": "the caller's subscriptions to the query (with Upgrade: websocket: the query "
                               "streamed over the socket, ?bookmark=N or ?initialRecordTime=T)",
                    "parameters": [name], "responses": {"200": {"description": "[subscription]", "content": {
                        "application/json": {"schema": {"type": "array"}}}}, **_DENIED, "404": missing}},
            "post": {"operationId": "epcisSubscribe", "tags": ["EPCIS"], "security": _BEARER,
                     "summary": "subscribe a webhook: every matching event at least once, in capture order, "
                                "each delivery signed GS1-Signature: sha256=<HMAC-SHA256 of the body>",
                     "parameters": [name],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                     "responses": {"201": {"description": "the subscription", "content": sub, "headers": {
                         "Location": {"schema": {"type": "string"}, "description": base + "/{subscriptionID}"}}},
                                   "400": _problem("a field is malformed, or neither stream nor a schedule"),
                                   **_DENIED, "404": missing}}},
        base + "/{subscriptionID}": {
            "get": {"operationId": "epcisSubscription", "tags": ["EPCIS"], "security": _BEARER,
                    "summary": "one subscription and how far it has been delivered", "parameters": [name, sid],
                    "responses": {"200": {"description": "the subscription", "content": sub}, **_DENIED,
                                  "404": missing}},
            "delete": {"operationId": "epcisUnsubscribe", "tags": ["EPCIS"], "security": _BEARER,
                       "summary": "unsubscribe", "parameters": [name, sid],
                       "responses": {"204": {"description": "unsubscribed"}, **_DENIED, "404": missing}}},
        base + "/{subscriptionID}/bookmark": {
            "put": {"operationId": "epcisSubscriptionBookmark", "tags": ["EPCIS"], "security": _BEARER,
                    "summary": "deliver again after seq N (tracecode's extension)", "parameters": [name, sid],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["bookmark"],
                        "properties": {"bookmark": {"type": "integer", "minimum": 0}}}}}},
                    "responses": {"200": {"description": "the subscription", "content": sub},
                                  "400": _problem("the body is not {\"bookmark\": N}"), **_DENIED,
                                  "404": missing}}},
    }


def schemas() -> dict:
    return {
        "Problem": {"type": "object", "required": ["type", "title"], "description": "RFC 7807, as the "
                    "EPCIS REST binding answers errors; reason and field are tracecode's",
                    "properties": {"type": {"type": "string", "examples": ["epcisException:ValidationException"]},
                                   "title": {"type": "string"}, "status": {"type": "integer"},
                                   "detail": {"type": "string"}, "instance": {"type": "string"},
                                   "reason": {"type": "string"}, "field": {"type": "string"}}},
        "CaptureJob": {"type": "object", "description": "the binding's capture job: captureID, running, "
                       "success, captureErrorBehaviour, errors (each naming its event and JSON pointer)"},
        "EPCISQueryDocument": {"type": "object", "description": "GS1's EPCISQueryDocument (EPCIS-JSON-Schema)"},
        "Collection": {"type": "object", "required": ["type", "member"],
                       "properties": {"type": {"const": "Collection"}, "member": {"type": "array"}}},
    }
