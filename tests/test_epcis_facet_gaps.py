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


# -- values the facets keep and the values a query may name: the same ----------------------
CONTEXT = [GS1, {"example": "http://ns.example.com/epcis/"}]


@pytest.fixture(params=["lmdb", "postgres"])
def store(request, tmp_path):
    from tracecode import schemes
    if request.param == "lmdb":
        from tracecode.store.lmdb.env import open_env
        from tracecode.store.lmdb.store import LmdbStore
        s = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
        yield s
        s.close()
        s.env.close()
    else:
        from tracecode.store.postgres import PgStore
        s = PgStore(request.getfixturevalue("pg_dsn"), schemes.builtin())
        yield s
        s.close()


def _record(eid: str, i: int, facets=True, **fields):
    from tracecode.epcis.facets import facets_of
    from tracecode.store.port import EpcisRecord
    ev = {"type": "ObjectEvent", "eventID": eid, "action": "OBSERVE", "bizStep": "shipping",
          "eventTime": "2026-11-30T09:00:00.000+08:00", "eventTimeZoneOffset": "+08:00", **fields}
    rp = ev.get("readPoint")
    return EpcisRecord(event_id=eid, event=ev, event_time=1.78e9 + i, time_offset="+08:00", record_time=1.79e9 + i,
                       type="ObjectEvent", biz_step="shipping", action="OBSERVE", read_point=rp and rp["id"],
                       epcs={"epc": []}, facets=facets_of(ev, CONTEXT) if facets else {})


def _found(store, params) -> list:
    from tracecode.app import epcis_params
    q = epcis_params.parse_query(params).query
    out, token = [], None
    while True:
        got, token = store.epcis_find(q, token, limit=3)
        out += [r.event_id for r in got]
        if token is None:
            return sorted(out)


def test_every_value_of_a_long_list_is_found(store):
    many = [f"lot-{i}" for i in range(500)]
    assert all(store.epcis_put([_record("big", 0, ilmd={"example:lots": many}, **{"example:tags": many})]))
    for v in ("lot-0", "lot-63", "lot-64", "lot-499"):   # beyond the 64 values once kept
        assert _found(store, {"EQ_ILMD_example:lots": v}) == ["big"], v
        assert _found(store, {"EQ_example:tags": v}) == ["big"], v
    assert _found(store, {"EQ_ILMD_example:lots": "lot-500"}) == []


@pytest.mark.parametrize("params,field", [
    ({"EQ_ILMD_example:batch": "x" * 257}, "EQ_ILMD_example:batch"),
    ({"EQ_example:myField": "a|" + "y" * 300}, "EQ_example:myField"),
    ({"EQ_transformationID": "t" * 257}, "EQ_transformationID"),
    ({"EQ_errorReason": "r" * 257}, "EQ_errorReason"),
    ({"EQ_correctiveEventID": "urn:uuid:" + "c" * 250}, "EQ_correctiveEventID"),
    ({"EQ_ILMD_example:" + "n" * 300: "x"}, "EQ_ILMD_example:" + "n" * 300),
    ({"EXISTS_example:" + "n" * 300: ""}, "EXISTS_example:" + "n" * 300),
])
def test_a_value_the_facets_do_not_keep_is_refused_by_name(params, field):
    from tracecode.app import epcis_params
    from tracecode.app.refusal import Refusal
    with pytest.raises(Refusal) as e:
        epcis_params.parse_query(params)
    # a long name is shortened in the refusal (Refusal bounds it): its start names it
    assert e.value.reason == "invalid_argument" and e.value.field.startswith(field[:80]) \
        and "indexed" in e.value.detail, e.value.detail


def test_values_up_to_the_kept_length_are_found(store):
    from tracecode.epcis.facets import MAX_CHARS
    v = "v" * MAX_CHARS
    assert all(store.epcis_put([_record("long", 0, ilmd={"example:batch": v})]))
    assert _found(store, {"EQ_ILMD_example:batch": v}) == ["long"]
