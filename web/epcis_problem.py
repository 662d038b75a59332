"""Errors under /epcis in the shape GS1's EPCIS 2.0 REST binding names: RFC 7807 problem JSON
(`application/problem+json`) whose `type` is the binding's `epcisException:...` for the
status, with tracecode's `reason` and `field` beside it (RFC 7807 allows extension members),
so an EPCIS client reads the exception and a person reads `detail`.

>>> import json
>>> body = json.loads(problem(415, "send JSON", path="/epcis/capture").body)
>>> body["type"], body["title"], body["status"]
('epcisException:UnsupportedMediaTypeException', 'Unsupported Media Type', 415)
>>> exception_type(400, "/epcis/events"), exception_type(400, "/epcis/capture")
('epcisException:QueryParameterException', 'epcisException:ValidationException')
"""
from __future__ import annotations

import json

from starlette.responses import Response

from .status import PHRASES

PREFIX = "/epcis"
MEDIA_TYPE = "application/problem+json"
EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"

# status -> the binding's exception (components/responses of epcis-rest-openapi.json)
EXCEPTIONS = {
    400: "epcisException:ValidationException",
    401: "epcisException:SecurityException",
    403: "epcisException:SecurityException",
    404: "epcisException:NoSuchNameException",
    405: "epcisException:ValidationException",
    406: "epcisException:NotAcceptableException",
    409: "epcisException:ResourceAlreadyExistsException",
    413: "epcisException:CaptureLimitExceededException",
    414: "epcisException:URITooLongException",
    415: "epcisException:UnsupportedMediaTypeException",
    501: "epcisException:ImplementationException",
}
TITLES = {400: "Invalid request", 401: "Unauthorised request", 403: "Access to resource forbidden",
          404: "Resource not found", 409: "Resource already exists", 413: "Capture payload too large",
          414: "URI Too Long", 415: "Unsupported Media Type", 500: "A server-side error occurred"}


def is_epcis(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def exception_type(status: int, path: str) -> str:
    """The binding's exception for a status on a path (queries and captures differ on 400 and 413)."""
    querying = not path.startswith(PREFIX + "/capture")
    if status == 400 and querying:
        return "epcisException:QueryParameterException"
    if status == 413 and querying:
        return "epcisException:QueryTooLargeException"
    return EXCEPTIONS.get(status, "epcisException:ImplementationException")


def problem(status: int, detail: str, *, path: str, reason: str = "", field: str = "",
            headers: dict | None = None, extra: dict | None = None) -> Response:
    body = {"type": exception_type(status, path), "title": TITLES.get(status) or PHRASES.get(status, "Error"),
            "status": status, "detail": detail, "instance": path}
    if reason:
        body["reason"] = reason
    if field:
        body["field"] = field
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status_code=status,
                    media_type=MEDIA_TYPE,
                    headers={"cache-control": "no-store", "gs1-epcis-version": EPCIS_VERSION, **(headers or {})})
