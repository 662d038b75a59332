"""EPCIS 2.0's INNER_ parameters: a field nested at any depth inside a top-level ilmd field
({EQ,EXISTS,GT,GE,LT,LE}_INNER_ILMD_{field}), inside a top-level extension field
(..._INNER_{field}) or inside a sensor level's extension field (..._INNER_SENSORREPORT_{field}),
on both stores and over HTTP (JSON-LD and XML capture); a top-level field is not an inner one."""
import pytest

from tracecode.app import epcis_params
from tracecode.app.refusal import Refusal
from tracecode.epcis.facets import facets_of
from tracecode.store.port import EpcisRecord

import test_epcis_query_params as base

if hasattr(base, "store"):   # the two-store fixture (conftest.py's, or the base module's)
    store = base.store
CONTEXT, _event, _ids = base.CONTEXT, base._event, base._ids

EVENTS = [
    _event("i0", 1, action="ADD", bizStep="commissioning", ilmd={"example:grading": {"example:class": "A",
                                               "example:scores": [{"example:n": 7}, {"example:n": 9}]},
                          "example:lot": "L1"}),
    _event("i1", 2, **{"example:shipment": {"example:carrier": {"example:name": "ACME",
                                                                "example:since": "2020-01-01T00:00:00Z"}},
                       "example:flat": "x"}),
    _event("i2", 3, action="ADD", bizStep="commissioning", ilmd={"example:class": "A"},   # top-level only
           **{"example:name": "ACME"}),
    _event("i3", 4, sensorElementList=[{"sensorReport": [
        {"type": "Temperature", "value": 5, "uom": "CEL", "example:probe": {"example:serial": "P-9"}}]}]),
]


def _records():
    return [EpcisRecord(event_id=ev["eventID"], event=ev, event_time=1.78e9 + 60 * i, time_offset="+08:00",
                        record_time=1.79e9 + i, type=ev["type"], biz_step=ev["bizStep"], action=ev["action"],
                        epcs={}, facets=facets_of(ev, CONTEXT)) for i, ev in enumerate(EVENTS)]


@pytest.mark.parametrize("params,expected", [
    ({"EQ_INNER_ILMD_example:class": "A"}, ["i0"]),                      # not i2's top-level class
    ({"EQ_ILMD_example:class": "A"}, ["i2"]),                            # and the top-level one is not inner
    ({"EQ_INNER_ILMD_http://ns.example.com/epcis#class": "A"}, ["i0"]),  # namespace#name
    ({"EQ_INNER_ILMD_example:n": "9.0"}, ["i0"]),                        # at any depth, numbers as numbers
    ({"GT_INNER_ILMD_example:n": "8"}, ["i0"]), ({"LT_INNER_ILMD_example:n": "7"}, []),
    ({"LE_INNER_ILMD_example:n": "7"}, ["i0"]),
    ({"EXISTS_INNER_ILMD_example:scores": ""}, ["i0"]),                 # an object's field: named, no value
    ({"EXISTS_INNER_ILMD_example:lot": ""}, []),
    ({"EQ_INNER_example:name": "ACME"}, ["i1"]),                         # not i2's top-level extension
    ({"EXISTS_INNER_example:carrier": ""}, ["i1"]),
    ({"GE_INNER_example:since": "2019-06-01T00:00:00+08:00"}, ["i1"]),
    ({"LT_INNER_example:since": "2019-06-01T00:00:00+08:00"}, []),
    ({"EQ_INNER_example:flat": "x"}, []),
    ({"EQ_example:flat": "x"}, ["i1"]),
    ({"EQ_INNER_SENSORREPORT_example:serial": "P-9"}, ["i3"]),
    ({"EXISTS_INNER_SENSORREPORT_example:serial": ""}, ["i3"]),
    ({"EXISTS_SENSORREPORT_example:probe": ""}, ["i3"]),
    ({"EQ_INNER_SENSORMETADATA_example:serial": "P-9"}, []),             # another level
])
def test_inner_parameters(store, params, expected):
    assert all(store.epcis_put(_records()))
    assert _ids(store, params) == expected


@pytest.mark.parametrize("params,named", [
    ({"GT_INNER_ILMD_example:n": "nine"}, "GT_INNER_ILMD_example:n"),
    ({"EXISTS_INNER_example:carrier": "ACME"}, "EXISTS_INNER_example:carrier"),
    ({"EQ_INNER_ILMD_" + "x" * 300: "1"}, "EQ_INNER_ILMD_" + "x" * 300),   # a name no facet keeps
])
def test_bad_inner_parameters_are_refused_by_name(params, named):
    with pytest.raises(Refusal) as e:
        epcis_params.parse(params)
    assert e.value.field == named or e.value.field.startswith(named[:100])   # a long name: cut short


XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:example="http://ns.example.com/epcis/"
    schemaVersion="2.0" creationDate="2026-11-30T10:00:00+08:00">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2026-11-30T09:05:00+08:00</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
      <epcList><epc>urn:epc:id:sgtin:0614141.107346.3001</epc></epcList>
      <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
      <ilmd><example:grading><example:class>B</example:class></example:grading></ilmd>
      <example:shipment><example:carrier><example:name>Zhongtong</example:name></example:carrier></example:shipment>
    </ObjectEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"""


def test_inner_fields_captured_as_json_ld_and_xml_are_found_over_http(tmp_path):
    from epcis_site import captured
    doc = base._doc(*({**ev, "epcList": [f"urn:epc:id:sgtin:0614141.107346.{i}"]} for i, ev in enumerate(EVENTS)))
    with captured(tmp_path, (doc, "application/ld+json"), (XML, "application/xml")) as (p, client, found):
        xml = [i for i in found({}) if not i.startswith("i")]
        assert len(xml) == 1
        assert found({"EQ_INNER_ILMD_example:class": "A|B"}) == sorted(["i0", *xml])
        assert found({"EQ_INNER_example:name": "Zhongtong"}) == xml
        assert found({"EXISTS_INNER_example:carrier": ""}) == sorted(["i1", *xml])
        assert found({"GT_INNER_ILMD_example:n": "8"}) == ["i0"]
        r = client.get("/epcis/events", params={"GT_INNER_ILMD_example:n": "many"}, headers=p.auth("admin"))
        assert r.status_code == 400 and "GT_INNER_ILMD_example:n" in r.text, r.text
