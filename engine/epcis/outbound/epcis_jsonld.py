"""EPCIS 2.0 JSON-LD: each delivery an EPCISQueryDocument (GS1's binding: what a
subscription's dest receives), queryResults naming the query and the subscriptionID, and
where the delivery leaves the subscription's bookmark ("tracecode:bookmark", an extension
in tracecode's namespace: what to rewind to, or to reconnect a WebSocket from).

>>> import json
>>> from tracecode.epcis.outbound import Delivery
>>> body = render([{"type": "ObjectEvent"}], Delivery("MyQuery", "s1", "2026-12-02T05:00:00.000Z"))
>>> doc = json.loads(body)
>>> doc["type"], doc["epcisBody"]["queryResults"]["subscriptionID"]
('EPCISQueryDocument', 's1')
"""
from __future__ import annotations

import json

from ..export import CONTEXT, PREFIX
from . import Delivery, Format


def render(events: list, delivery: Delivery) -> bytes:
    doc = {"@context": list(CONTEXT), "type": "EPCISQueryDocument", "schemaVersion": "2.0",
           "creationDate": delivery.creation_date,
           "epcisBody": {"queryResults": {"queryName": delivery.query_name,
                                          "subscriptionID": delivery.subscription_id,
                                          "resultsBody": {"eventList": list(events)}}}}
    if delivery.bookmark is not None:
        doc["epcisBody"]["queryResults"][f"{PREFIX}:bookmark"] = delivery.bookmark
    # events may carry lone surrogates from their JSON (the store keeps them): escaped here
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode("ascii")


FORMAT = Format("epcis-jsonld", "application/ld+json", render, "EPCIS 2.0 EPCISQueryDocument (JSON-LD)")
