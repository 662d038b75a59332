"""An event's identity: its eventID when it has one, else the GS1 event hash (CBV 2.0
section 8.9.2: ``ni:///sha-256;<hex>?ver=CBV2.0``), so an event captured twice is
recognised whichever way its sender spelled it.

The hash is computed by epcis-event-hash-generator, the reference implementation by the
algorithm's authors (GS1 Germany, EECC): its canonical pre-hash string normalises CBV URNs
to web vocabulary, times to UTC milliseconds, EPCs to canonical Digital Links and orders
extensions by namespace. It takes 3 to 30 ms an event, so the shapes bulk captures send
(ObjectEvents and AggregationEvents of EPC lists) are computed by eventhash.py, which builds
the same string with the reference's own canonisation of each value and a one-pass reading
of EPC lists, and is checked against it (tests/test_epcis_fast_hash.py); every other event
goes to the reference. Its rough edges are fenced in here: it keeps module
globals (the namespaces seen, the join string), so calls are serialised and its namespace
table is cleared before each; it would fetch unknown JSON-LD contexts over the network, so
it gets a loader that reads only GS1's contexts shipped with it and refuses any other URL
(a prefix defined inline in @context needs no fetch); and it drops an event it cannot read
without saying so, so a missing hash is an EpcisError here.
"""
from __future__ import annotations

import copy
import hashlib
import importlib.resources
import json
import logging
import threading

from . import eventhash
from .errors import EpcisError
from .schema import GS1_CONTEXT_URL

_lock = threading.Lock()
_CONTEXTS = {   # URL -> file shipped in epcis_event_hash_generator (its own table)
    "https://gs1.github.io/EPCIS/epcis-context.jsonld":
        "14b10c9d3e92d35f577bfc610fe5ec15aa2941124987919389d7cd9998516861.jsonld",
    GS1_CONTEXT_URL: "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008.jsonld",
}
_loaded: dict = {}
_modules = None


def _offline_loader(url, options=None):
    from pyld.jsonld import JsonLdError

    name = _CONTEXTS.get(url)
    if name is None:
        raise JsonLdError(f"the JSON-LD context {url} is not one read offline", "jsonld.LoadDocumentError",
                          code="loading document failed")
    if url not in _loaded:
        with importlib.resources.files("epcis_event_hash_generator").joinpath(name).open(encoding="utf-8") as f:
            _loaded[url] = json.load(f)
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": copy.deepcopy(_loaded[url])}


def _generator():
    global _modules
    if _modules is None:
        try:
            from epcis_event_hash_generator import hash_generator, json_to_py
            from pyld import jsonld
        except ImportError:
            raise EpcisError("an event without eventID needs the GS1 event hash: install "
                             "epcis-event-hash-generator (pip install epcis-event-hash-generator)") from None
        # it logs every event at INFO on the root logger: keep its chatter out of ours
        logging.getLogger("epcis_event_hash_generator").setLevel(logging.WARNING)
        _modules = (hash_generator, json_to_py, jsonld)
    return _modules


def _plain_context(context):
    """The context as the generator reads it: a prefix defined as {"@id": uri} becomes the
    uri (it concatenates the values as text), anything else that is no prefix is left out."""
    items = context if isinstance(context, list) else [context]
    out = []
    for c in items:
        if isinstance(c, str):
            out.append(c)
        elif isinstance(c, dict):
            plain = {}
            for k, v in c.items():
                if isinstance(v, dict):
                    v = v.get("@id")
                if isinstance(k, str) and not k.startswith("@") and isinstance(v, str):
                    plain[k] = v
            out.append(plain)
    return out


def event_hash(event: dict, context=None) -> str:
    """The GS1 event hash of one event (sha-256). `context` is the @context of the document
    it came in (its extension prefixes are part of the hash); GS1's when None."""
    if not isinstance(event, dict):
        raise EpcisError(f"an event is an object, got {type(event).__name__}")
    hash_generator, json_to_py, jsonld = _generator()
    if context is None:
        context = [GS1_CONTEXT_URL]
    doc = {"@context": _plain_context(context), "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2000-01-01T00:00:00Z", "epcisBody": {"eventList": [copy.deepcopy(event)]}}
    root = logging.getLogger()
    with _lock:
        json_to_py._namespaces.clear()
        jsonld.set_document_loader(_offline_loader)
        level = root.level
        try:
            root.setLevel(max(level, logging.WARNING)) if level < logging.WARNING else None
            events = json_to_py.event_list_from_epcis_document_json(doc)
            hashes = hash_generator.epcis_hashes_from_events(events, "sha256")
        except Exception as exc:  # noqa: BLE001 - whatever the generator trips on, say it in our terms
            raise EpcisError(f"no GS1 event hash for this event ({type(exc).__name__}: {str(exc)[:200]}); "
                             "give it an eventID") from None
        finally:
            root.setLevel(level)
            json_to_py._namespaces.clear()
    if len(hashes) != 1:
        raise EpcisError("no GS1 event hash for this event (the hash generator could not read it); "
                         "give it an eventID")
    return hashes[0]


def content_hash(event: dict) -> str:
    """A stable id of what an event says when the GS1 hash cannot be had (the generator
    trips on some valid events, e.g. extensions with nested values): sha-256 of its
    canonical JSON without eventID and recordTime. Marked ``?ver=tracecode-json1`` so no
    one takes it for the GS1 hash."""
    body = {k: v for k, v in event.items() if k not in ("eventID", "recordTime")}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"ni:///sha-256;{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}?ver=tracecode-json1"


def event_id(event: dict, context=None) -> str:
    """The event's eventID when it carries one, else its GS1 event hash (else, when the
    hash generator cannot read the event, content_hash: still the same for the same event).

    >>> event_id({"eventID": "urn:uuid:5c1f5a04-ac3e-4b63-b3f5-1f2b1e9c0a01", "type": "ObjectEvent"})
    'urn:uuid:5c1f5a04-ac3e-4b63-b3f5-1f2b1e9c0a01'
    """
    if not isinstance(event, dict):
        raise EpcisError(f"an event is an object, got {type(event).__name__}")
    eid = event.get("eventID")
    if isinstance(eid, str) and eid.strip():
        return eid.strip()
    fast = eventhash.event_hash(event, context)   # the common shapes, computed here
    if fast is not None:
        return fast
    try:
        return event_hash(event, context)
    except EpcisError:
        if _modules is None:      # the generator is not installed: say so, do not guess
            raise
        return content_hash(event)
