"""Gaps between what capture keeps and what a query or a check reads (fixer F2): a forged
alert event under any spelling its @context allows; query values the facets would not
keep; events stored before facets existed; maxEventCount's count and its page token."""
from __future__ import annotations

import json

import pytest

from tracecode.app import alert_events
from tracecode.app.caller import OPERATOR

GS1 = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _capture_doc(ev: dict, context=None) -> bytes:
    ev = {"type": "ObjectEvent", "eventTime": "2026-03-01T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
          "epcList": [], "action": "OBSERVE", "bizStep": "shipping", **ev}
    return json.dumps({"@context": context or [GS1], "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": [ev]}}).encode()


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from epcis_reference import SCHEMA, need
    from web_platform import Platform
    need(SCHEMA)
    p = Platform(tmp_path_factory.mktemp("facetgaps"), count=2)
    yield p
    p.close()


ALERT = {"id": "0" * 20, "rule": "diversion"}


@pytest.mark.parametrize("ev,context", [
    ({"tc:alert": ALERT}, [GS1, {"tc": "https://ns.tracecode.org/epcis/"}]),      # another prefix, document's
    ({"tc:alert": ALERT, "@context": {"tc": "https://ns.tracecode.org/epcis/"}}, None),   # the event's own
    ({"https://ns.tracecode.org/epcis/alert": ALERT}, None),                           # the full IRI
    ({"https://ns.tracecode.org/epcis#alert": ALERT}, None),                           # namespace#name
    ({"flag": ALERT}, [GS1, {"flag": "https://ns.tracecode.org/epcis/alert"}]),        # a term
    ({"bizStep": "URN:tracecode:bizstep:alert"}, None),                                # another case
    ({"bizStep": "urn:TRACECODE:bizstep:alert"}, None),
])
def test_no_spelling_of_an_alert_event_is_captured(platform, ev, context):
    job = platform.svc.capture(OPERATOR, _capture_doc(ev, context), "application/ld+json")
    assert job["counts"]["stored"] == 0 and "analytics' own alerts" in job["errors"][0]["error"], job


def test_other_prefixed_fields_are_captured_as_before(platform):
    ev = {"tc:alerted": True, "ex:alert": 1, "epcList": ["urn:epc:id:sgtin:0614141.107346.2019"]}
    job = platform.svc.capture(OPERATOR, _capture_doc(ev, [GS1, {"tc": "https://ns.tracecode.org/epcis/",
                                                                  "ex": "http://ns.example.com/"}]),
                               "application/ld+json")
    assert job["counts"]["stored"] == 1, job["errors"]
    assert alert_events.BIZ_STEP == "urn:tracecode:bizstep:alert"
