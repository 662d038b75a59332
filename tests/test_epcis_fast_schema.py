"""The fast yes of GS1's schema (fastjsonschema, schema.validate) against jsonschema's own
answer: every GS1 example, the bench's shapes and hypothesis' mutations of them get the same
problems (so the fast path never says yes where jsonschema says no), and valid documents do
take the fast path."""
import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.epcis_reference import SCHEMA, examples, need
from tracecode.epcis import schema

BASE = "https://trace.example.gov.cn"


@pytest.fixture(scope="module", autouse=True)
def gs1_schema():
    need(SCHEMA)
    if schema.fast_validator(SCHEMA) is None:
        pytest.fail("fastjsonschema did not compile GS1's schema: the fast path is lost")


def _event(kind, **fields):
    return {"type": kind, "eventTime": "2026-12-01T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
            "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"}, **fields}


def _document(events):
    return {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-12-01T08:00:00+08:00",
            "epcisBody": {"eventList": events}}


def _ours():
    epcs = [f"{BASE}/c/8177322{i:013d}" for i in range(48)]
    return _document([
        _event("ObjectEvent", action="ADD", bizStep="commissioning", disposition="active", epcList=epcs),
        _event("AggregationEvent", action="ADD", bizStep="packing", parentID="urn:epc:id:sscc:0614141.1234567890",
               childEPCs=epcs[:24]),
        _event("ObjectEvent", action="OBSERVE", bizStep="shipping", epcList=["urn:epc:id:sgtin:0614141.107346.1"],
               quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 2.5,
                              "uom": "KGM"}])])


def _corpus():
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in examples()]
    return [d for d in docs if d.get("type") == "EPCISDocument"] + [_ours()]


CORPUS = _corpus()


def test_valid_documents_take_the_fast_path():
    need(SCHEMA)
    for doc in CORPUS:
        if not schema.jsonschema_problems(doc, SCHEMA):
            assert schema._fast_yes(doc, SCHEMA), doc.get("epcisBody", {}).get("eventList", [{}])[0].get("type")
    assert schema._fast_yes(_ours(), SCHEMA)


@pytest.mark.parametrize("where, value", [
    (("eventTime",), "2026-12-01T08:00:00+0800"),     # fastjsonschema's own date-time takes these
    (("eventTime",), "2026-02-30T08:00:00Z"),
    (("eventTime",), "2026-12-01T25:00:00Z"),
    (("eventTimeZoneOffset",), "+8:00"),
    (("action",), "add"),
    (("epcList",), ["urn:a", "urn:a"]),
    (("epcList",), ["urn:a", 1]),
    (("epcList",), [f"urn:e{i}" for i in range(40)] + ["urn:e3"]),      # long lists: cut only when distinct
    (("epcList",), [f"urn:e{i}" for i in range(40)] + [None]),
    (("epcList",), "urn:a"),
    (("readPoint",), "urn:epc:id:sgln:0614141.00777.0"),
    (("eventTime",), None),
])
def test_what_jsonschema_refuses_is_refused_with_its_pointer(where, value):
    doc = _ours()
    target = doc["epcisBody"]["eventList"][0]
    for k in where[:-1]:
        target = target[k]
    target[where[-1]] = value
    got = schema.validate(doc, SCHEMA)
    assert got and got == schema.jsonschema_problems(doc, SCHEMA)
    assert all(p.pointer.startswith("/epcisBody/eventList/0") for p in got)


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
                      st.sampled_from(["", "ADD", "OBSERVE", "DELETE", "urn:a", "urn:a", "2026-12-01T08:00:00Z",
                                       "2026-12-01T08:00:00+0800", "+08:00", "ObjectEvent", "AggregationEvent",
                                       "https://ref.gs1.org/cbv/BizStep-shipping", "shipping", "KGM", "x"]),
                      st.text(max_size=8))
JSON_VALUE = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(st.sampled_from(
                                                                ["id", "type", "quantity", "uom", "epcClass", "x",
                                                                 "@context", "action", "eventTime"]), inner,
                                                                max_size=3)), max_leaves=6)


def _paths(value, at=()):
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*at, i))


@st.composite
def mutated(draw):
    doc = copy.deepcopy(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        what = draw(st.sampled_from(["replace", "delete", "add", "duplicate"]))
        if what == "replace":
            parent[path[-1]] = draw(JSON_VALUE)
        elif what == "delete":
            del parent[path[-1]]
        elif what == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["x", "action", "bizStep", "ilmd", "extra:field", "epcList"]))] = \
                draw(JSON_VALUE)
        elif what == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
    return doc


@given(mutated())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutations_get_jsonschemas_answer(doc):
    slow = schema.jsonschema_problems(doc, SCHEMA)
    if schema._fast_yes(doc, SCHEMA):
        assert slow == [], slow[:3]
    assert schema.validate(doc, SCHEMA) == slow


def test_long_lists_are_cut_only_under_this_schema():
    need(SCHEMA)
    gs1 = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema._lists_cut_safely(gs1)
    assert schema._safe_cut[schema.fast_validator(SCHEMA)]
    assert schema.validator(SCHEMA).schema == gs1   # compiling it for the fast path left jsonschema's alone
    strict = copy.deepcopy(gs1)
    strict["definitions"]["AggregationEvent"]["allOf"][1]["properties"]["childEPCs"]["maxItems"] = 5
    assert not schema._lists_cut_safely(strict)
    loose = copy.deepcopy(gs1)
    loose["definitions"]["ObjectEvent"]["patternProperties"] = {"^epc": {"maxItems": 5}}
    assert not schema._lists_cut_safely(loose)
    doc = _ours()
    cut = schema._cut_lists(doc)
    assert [len(e.get("epcList", e.get("childEPCs"))) for e in cut["epcisBody"]["eventList"]] == [1, 1, 1]
    assert len(doc["epcisBody"]["eventList"][0]["epcList"]) == 48   # the document itself is not changed


@pytest.mark.parametrize("kind, field", [("ObjectEvent", "epcList"), ("AggregationEvent", "childEPCs")])
def test_a_childepcs_list_with_repeats_gets_jsonschemas_answer(kind, field):
    doc = _ours()
    ev = next(e for e in doc["epcisBody"]["eventList"] if e["type"] == kind)
    ev[field] = ev[field] + ev[field][:2]
    assert schema.validate(doc, SCHEMA) == schema.jsonschema_problems(doc, SCHEMA)
