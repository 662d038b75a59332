"""Reading an EPCIS 2.0 document as sent: JSON / JSON-LD (EPCISDocument, and the
EPCISQueryDocument a query answers, so a query's result can be captured elsewhere) and
EPCIS 2.0 XML (engine/epcis/xml.py). Only what makes the body unreadable is refused here;
the events are handed on as sent and judged one by one (schema.validate, rules), so one bad
event never sinks the others."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import EpcisError, pointer

MAX_DOCUMENT_BYTES = 128 << 20   # 10,000 events of 24 children, or 1e5 EPCs, fit many times over
MAX_DEPTH = 64                   # GS1's deepest (sensor reports in a list) nest about 8
JSON_TYPES = ("application/json", "application/ld+json")
XML_TYPES = ("application/xml", "text/xml")


@dataclass
class Document:
    """An EPCIS document: its events (EPCIS 2.0 JSON-LD dicts, as sent), its @context
    (needed to expand extension prefixes, e.g. for the event hash), its header and
    schemaVersion, and the whole parsed body (what schema.validate checks)."""
    body: dict
    events: list = field(default_factory=list)
    context: object = None
    header: dict | None = None
    schema_version: str | None = None
    events_path: tuple = ("epcisBody", "eventList")

    def pointer_of(self, i: int) -> str:
        """The JSON pointer of event i in this document."""
        return pointer(*self.events_path, i)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _depth_ok(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        elif not isinstance(v, list):
            continue
        if d > limit:
            return False
        stack.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
    return True


def parse_json(body: bytes) -> object:
    """JSON text (UTF-8, a BOM tolerated) to Python, NaN and Infinity refused, nesting bounded."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EpcisError(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise EpcisError(f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise EpcisError(f"the body is not JSON: {exc}") from None
    if not _depth_ok(value, MAX_DEPTH):
        raise EpcisError(f"the JSON nests deeper than {MAX_DEPTH} levels")
    return value


def from_json(value) -> Document:
    """A Document from a parsed JSON value: an EPCISDocument (epcisBody.eventList, or
    epcisBody.event for a single one) or an EPCISQueryDocument (its resultsBody.eventList)."""
    if not isinstance(value, dict):
        raise EpcisError(f"an EPCIS document is a JSON object, got {type(value).__name__}")
    kind = value.get("type")
    if kind not in ("EPCISDocument", "EPCISQueryDocument"):
        raise EpcisError(f"type must be EPCISDocument (or EPCISQueryDocument), got {str(kind)[:60]!r}",
                         pointer="/type")
    body = value.get("epcisBody")
    if not isinstance(body, dict):
        raise EpcisError("an EPCIS document needs an epcisBody object", pointer="/epcisBody")
    if kind == "EPCISQueryDocument":
        results = body.get("queryResults")
        rb = results.get("resultsBody") if isinstance(results, dict) else None
        if not isinstance(rb, dict):
            raise EpcisError("an EPCISQueryDocument needs queryResults.resultsBody",
                             pointer="/epcisBody/queryResults/resultsBody")
        path = ("epcisBody", "queryResults", "resultsBody", "eventList")
        events = rb.get("eventList", [])
    elif "eventList" in body:
        path, events = ("epcisBody", "eventList"), body["eventList"]
    elif "event" in body:    # EPCIS 2.0 allows a single event in place of the list
        path, events = ("epcisBody", "event"), [body["event"]]
    else:
        raise EpcisError("epcisBody has no eventList", pointer="/epcisBody/eventList")
    if not isinstance(events, list):
        raise EpcisError(f"eventList must be a list of events, got {type(events).__name__}",
                         pointer=pointer(*path))
    header = value.get("epcisHeader")
    version = value.get("schemaVersion")
    return Document(body=value, events=events, context=value.get("@context"),
                    header=header if isinstance(header, dict) else None,
                    schema_version=version if isinstance(version, str) else None,
                    events_path=path)


def read_document(body: bytes, content_type: str | None = "application/ld+json") -> Document:
    """An EPCIS document from a request body and its Content-Type.

    >>> doc = read_document(b'{"type": "EPCISDocument", "schemaVersion": "2.0", '
    ...                     b'"epcisBody": {"eventList": [{"type": "ObjectEvent"}]}}', "application/json")
    >>> doc.schema_version, len(doc.events), doc.pointer_of(0)
    ('2.0', 1, '/epcisBody/eventList/0')
    >>> read_document(b"[1]", "application/json")
    Traceback (most recent call last):
        ...
    tracecode.epcis.errors.EpcisError: an EPCIS document is a JSON object, got list
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise EpcisError(f"the body is bytes, got {type(body).__name__}")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise EpcisError(f"the document is {len(body):,} bytes, over the {MAX_DOCUMENT_BYTES:,} bytes "
                         "one capture takes: split it")
    if not body or not bytes(body[:4096]).strip():
        raise EpcisError("the body is empty: send an EPCISDocument")
    media = _media_type(content_type)
    if media in XML_TYPES or (media == "" and bytes(body[:64]).lstrip().startswith(b"<")):
        try:
            from .xml import read_xml
        except ImportError:
            raise EpcisError("EPCIS XML is not read yet: send the document as JSON-LD "
                             "(application/ld+json)") from None
        return read_xml(bytes(body))
    if media and media not in JSON_TYPES and not media.endswith("+json"):
        raise EpcisError(f"Content-Type {media!r} is not an EPCIS document type: send "
                         "application/ld+json, application/json or application/xml")
    return from_json(parse_json(bytes(body)))
