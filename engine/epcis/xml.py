"""EPCIS XML (2.0, and 1.2's shapes where they differ: eventID and errorDeclaration under
baseExtension, TransformationEvent and quantity lists under extension) read into the
EPCIS 2.0 JSON-LD form the rest of tracecode.epcis works on, as GS1's own XML-to-JSON
mapping writes it: CBV URNs as bare words, lists as arrays, user extensions as
"prefix:name" keys with the prefixes in @context.

Parsed with defusedxml: no DTD, no entity expansion, no external resources (a billion
laughs or an XXE payload is an EpcisError, not a hang or a file read)."""
from __future__ import annotations

import io

from .document import MAX_DEPTH, Document, from_json
from .errors import EpcisError
from .schema import GS1_CONTEXT_URL

EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
               "AssociationEvent")
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QTY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_TYPED_LISTS = {"bizTransactionList": ("bizTransaction", "type"), "sourceList": ("source", "type"),
                "destinationList": ("destination", "type")}
_CBV = (("urn:epcglobal:cbv:bizstep:", ""), ("urn:epcglobal:cbv:disp:", ""), ("urn:epcglobal:cbv:btt:", ""),
        ("urn:epcglobal:cbv:sdt:", ""), ("urn:epcglobal:cbv:er:", ""))
_NUMBERS = {"quantity", "value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}


def _local(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return None, tag


def _bare(value: str) -> str:
    for prefix, _ in _CBV:
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


def _number(text: str):
    try:
        f = float(text)
    except ValueError:
        return text
    return int(f) if f.is_integer() and "." not in text and "e" not in text.lower() else f


class _Reader:
    def __init__(self, prefixes: dict):
        self.prefixes = prefixes     # namespace URI -> prefix, as declared in the document
        self.used: dict = {}

    def key(self, tag: str) -> str:
        ns, name = _local(tag)
        if ns is None or ns.startswith("urn:epcglobal:epcis"):
            return name
        prefix = self.prefixes.get(ns) or f"ns{len(self.used) + 1}"
        self.used[prefix] = ns
        return f"{prefix}:{name}"

    def extension(self, el, depth: int):
        """A user extension element: its text, or an object of its children and attributes."""
        if depth > MAX_DEPTH:
            raise EpcisError(f"the XML nests deeper than {MAX_DEPTH} levels")
        children = list(el)
        if not children and not el.attrib:
            return (el.text or "").strip()
        out = {self.key(k): v for k, v in el.attrib.items()}
        for c in children:
            k, v = self.key(c.tag), self.extension(c, depth + 1)
            if k in out:
                out[k] = out[k] if isinstance(out[k], list) else [out[k]]
                out[k].append(v)
            else:
                out[k] = v
        if (el.text or "").strip() and not children:
            out["#text"] = el.text.strip()
        return out

    def event(self, el) -> dict:
        out = {"type": _local(el.tag)[1]}
        self.fields(el, out, 1)
        return out

    def fields(self, el, out: dict, depth: int) -> None:
        for c in el:
            ns, name = _local(c.tag)
            if ns is not None and not ns.startswith("urn:epcglobal:epcis"):
                out[self.key(c.tag)] = self.extension(c, depth + 1)
            elif name in ("extension", "baseExtension"):       # 1.2's wrappers: their fields are the event's
                self.fields(c, out, depth + 1)
            elif name in _EPC_LISTS:
                out[name] = [(e.text or "").strip() for e in c if _local(e.tag)[1] == "epc"]
            elif name in _QTY_LISTS:
                out[name] = [self.quantity(q) for q in c]
            elif name in _TYPED_LISTS:
                item, attr = _TYPED_LISTS[name]
                out[name] = [{**({"type": _bare(x.get(attr))} if x.get(attr) else {}),
                              item: (x.text or "").strip()} for x in c]
            elif name in ("readPoint", "bizLocation"):
                loc = {}
                self.fields(c, loc, depth + 1)
                out[name] = loc
            elif name in ("bizStep", "disposition", "action", "eventTime", "recordTime", "eventTimeZoneOffset",
                          "eventID", "parentID", "transformationID", "id", "declarationTime", "reason",
                          "certificationInfo"):
                text = (c.text or "").strip()
                out[name] = _bare(text) if name in ("bizStep", "disposition", "reason") else text
            elif name == "persistentDisposition":
                pd: dict = {}
                for x in c:
                    pd.setdefault(_local(x.tag)[1], []).append(_bare((x.text or "").strip()))
                out[name] = pd
            elif name == "ilmd":
                out[name] = {self.key(x.tag): self.extension(x, depth + 2) for x in c}
            elif name == "errorDeclaration":
                ed: dict = {}
                self.fields(c, ed, depth + 1)
                out[name] = ed
            elif name == "correctiveEventIDs":
                out[name] = [(x.text or "").strip() for x in c]
            elif name == "sensorElementList":
                out[name] = [self.sensor(s) for s in c]
            else:
                out[self.key(c.tag)] = self.extension(c, depth + 1)

    def quantity(self, q) -> dict:
        out = {}
        for x in q:
            name = _local(x.tag)[1]
            text = (x.text or "").strip()
            out[name] = _number(text) if name == "quantity" else text
        return out

    def sensor(self, s) -> dict:
        out: dict = {}
        for x in s:
            name = _local(x.tag)[1]
            attrs = {self.key(k): (_number(v) if k in _NUMBERS else
                                   (v == "true") if k == "booleanValue" else v) for k, v in x.attrib.items()}
            if name == "sensorMetadata":
                out["sensorMetadata"] = attrs
            elif name == "sensorReport":
                out.setdefault("sensorReport", []).append(attrs)
            else:
                out[self.key(x.tag)] = self.extension(x, 2)
        return out


def read_xml(body: bytes) -> Document:
    """An EPCIS XML document (EPCISDocument or EPCISQueryDocument) as a Document whose body
    is its EPCIS 2.0 JSON-LD form."""
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, iterparse
    except ImportError:
        raise EpcisError("reading EPCIS XML needs defusedxml (pip install defusedxml)") from None
    prefixes: dict = {}
    root = None
    try:
        for kind, item in iterparse(io.BytesIO(body), events=("start-ns", "start"), forbid_dtd=True):
            if kind == "start-ns":
                prefix, uri = item
                if prefix:
                    prefixes.setdefault(uri, prefix)
            elif root is None:
                root = item
    except DefusedXmlException as exc:
        raise EpcisError(f"the XML is refused: {type(exc).__name__} (no DTDs or entities)") from None
    except ParseError as exc:
        raise EpcisError(f"the body is not XML: {exc}") from None
    if root is None:
        raise EpcisError("the body is not XML: no root element")
    kind = _local(root.tag)[1]
    if kind not in ("EPCISDocument", "EPCISQueryDocument"):
        raise EpcisError(f"the XML root is {kind!r}: an EPCISDocument (or EPCISQueryDocument) is needed",
                         pointer="/type")
    reader = _Reader(prefixes)
    events = []
    for el in root.iter():    # in document order; EPCIS nests no event in another
        if _local(el.tag)[1] in EVENT_TYPES:
            events.append(reader.event(el))
    # the body is now EPCIS 2.0 JSON-LD whatever the XML's version (kept in schema_version)
    doc = {"@context": [GS1_CONTEXT_URL, *([dict(reader.used)] if reader.used else [])], "type": kind,
           "schemaVersion": "2.0", "creationDate": root.get("creationDate")}
    if doc["creationDate"] is None:
        del doc["creationDate"]
    if kind == "EPCISQueryDocument":
        doc["epcisBody"] = {"queryResults": {"queryName": "", "resultsBody": {"eventList": events}}}
    else:
        doc["epcisBody"] = {"eventList": events}
    out = from_json(doc)
    out.schema_version = root.get("schemaVersion")
    return out
