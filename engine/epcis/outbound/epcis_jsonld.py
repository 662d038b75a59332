"""EPCIS 2.0 JSON-LD: each delivery an EPCISQueryDocument (GS1's binding: what a
subscription's dest receives), queryResults naming the query and the subscriptionID, and
where the delivery leaves the subscription's bookmark ("tracecode:bookmark", an extension
in tracecode's namespace: what to rewind to, or to reconnect a WebSocket from). The events
are copied as stored, not decoded and encoded again.

>>> import json
>>> from tracecode.epcis.outbound import Delivery
>>> body = render([b'{"type":"ObjectEvent"}', '{"type":"\u4e2d"}'.encode()],
...               Delivery("MyQuery", "s1", "2026-12-02T05:00:00.000Z", 7))
>>> doc = json.loads(body)
>>> results = doc["epcisBody"]["queryResults"]
>>> doc["type"], results["subscriptionID"], results["tracecode:bookmark"]
('EPCISQueryDocument', 's1', 7)
>>> [e["type"] for e in results["resultsBody"]["eventList"]]
['ObjectEvent', '中']
"""
from __future__ import annotations

import json

from ..export import CONTEXT, PREFIX
from . import Delivery, Format, decoded

_SLOT = b'"eventList":[]'


def render(events: list, delivery: Delivery) -> bytes:
    results = {"queryName": delivery.query_name, "subscriptionID": delivery.subscription_id,
               "resultsBody": {"eventList": []}}
    if delivery.bookmark is not None:
        results[f"{PREFIX}:bookmark"] = delivery.bookmark
    doc = {"@context": list(CONTEXT), "type": "EPCISQueryDocument", "schemaVersion": "2.0",
           "creationDate": delivery.creation_date, "epcisBody": {"queryResults": results}}
    head = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # the one unquoted "eventList":[] (a quote inside a JSON string is escaped): the events go in
    at = head.index(_SLOT) + len(_SLOT) - 1
    body = b",".join(events)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:   # a lone surrogate kept from the capture: written as \ud800, valid JSON
        body = b",".join(json.dumps(e, ensure_ascii=True, separators=(",", ":")).encode("ascii")
                         for e in decoded(events))
    return head[:at] + body + head[at:]


FORMAT = Format("epcis-jsonld", "application/ld+json", render, "EPCIS 2.0 EPCISQueryDocument (JSON-LD)")
