"""The /epcis paths of the OpenAPI document (web/openapi.py merges them): what this server
serves of GS1's EPCIS 2.0 REST binding, with the binding's own names (parameters, headers,
exceptions), so an integrator reads here which parts of the binding it may call.

>>> sorted(paths())[:3]
['/epcis', '/epcis/bizLocations/{bizLocation}/events', '/epcis/bizSteps']
"""
from __future__ import annotations

from .epcis_params import DEFAULT_PER_PAGE, EVENT_TYPES, MAX_PER_PAGE, PARAMETERS

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

_TIME_HELP = "an RFC 3339 date-time with its offset (2024-06-30T08:15:00+08:00)"
_PARAM_HELP = {
    "eventType": "event types, |-separated: " + ", ".join(EVENT_TYPES),
    "MATCH_epc": "EPC URIs (|-separated) in epcList or childEPCs",
    "MATCH_parentID": "EPC URIs of parentID",
    "MATCH_inputEPC": "EPC URIs in inputEPCList",
    "MATCH_outputEPC": "EPC URIs in outputEPCList",
    "MATCH_anyEPC": "EPC URIs in any EPC field",
    "MATCH_epcClass": "EPC class URIs in a quantity list (LGTIN, urn:epc:idpat:sgtin...)",
}


def _query_params() -> list:
    out = []
    for name in PARAMETERS:
        timed = name.endswith("Time")
        schema = {"type": "string", "format": "date-time"} if timed else \
            {"type": "array", "items": {"type": "string"}, "minItems": 1}
        param = {"name": name, "in": "query", "required": False, "schema": schema,
                 "description": _TIME_HELP if timed else _PARAM_HELP.get(name, "values, |-separated")}
        if not timed:
            param.update(style="pipeDelimited", explode=False)
        out.append(param)
    return out + _paging()


def _paging() -> list:
    return [{"name": "perPage", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE}},
            {"name": "nextPageToken", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "the token of the previous page's Link header"}]


def _path_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


def _events_get(summary: str, op: str, params: list) -> dict:
    return {"get": {"operationId": op, "summary": summary, "tags": ["EPCIS"], "security": _BEARER,
                    "parameters": params,
                    "responses": {"200": {"description": "an EPCISQueryDocument of one page",
                                          "headers": _NEXT, "content": _QUERY_DOC},
                                  "400": _problem("a parameter is malformed or not read here "
                                                  "(epcisException:QueryParameterException)"),
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
        "/epcis/events/{eventType}": _events_get(
            "the events of one type", "epcisEventsOfType",
            [_path_param("eventType", "ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent "
                                      "or AssociationEvent"), *query]),
        "/epcis/eventTypes": _collection_get("the event types", "epcisEventTypes"),
        "/epcis/bizSteps": _collection_get("the CBV bizSteps", "epcisBizSteps"),
        "/epcis/dispositions": _collection_get("the CBV dispositions", "epcisDispositions"),
    }
    for path, (name, description) in by.items():
        op = "epcisEventsBy" + name[0].upper() + name[1:]
        out[path] = _events_get(f"the events of one {name}", op, [_path_param(name, description), *query])
    return out


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
