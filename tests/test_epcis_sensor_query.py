"""EPCIS 2.0's sensor query parameters (EQ_type, EQ_deviceID..., GE_/LT_time, GE_value_{uom}...,
EXISTS_sensorElement, {EQ,GT...}_SENSORREPORT_{field}), on both stores and over HTTP, after GS1's
conformance test TCR-53: a reading is found in any unit of its dimension (26 CEL by
GE_value_KEL), an attribute in the sensorMetadata or in a report, a type as its bare word; and
events stored before sensor facets are found once the index is opened again."""
import pytest

from tracecode.app import epcis_params
from tracecode.app.refusal import Refusal
from tracecode.epcis import facets
from tracecode.epcis.facets import facets_of
from tracecode.store.port import EpcisRecord

import test_epcis_query_params as base

if hasattr(base, "store"):   # the two-store fixture (conftest.py's, or the base module's)
    store = base.store
CONTEXT, _event, _ids = base.CONTEXT, base._event, base._ids
GIAI = "urn:epc:id:giai:4000001.111"
PROBE = "urn:epc:id:giai:4000001.222"

EVENTS = [
    _event("s0", 1, sensorElementList=[{
        "sensorMetadata": {"time": "2026-11-30T09:00:00+08:00", "deviceID": GIAI,
                           "startTime": "2026-11-30T08:00:00+08:00", "endTime": "2026-11-30T09:00:00+08:00",
                           "dataProcessingMethod": "https://example.com/gdti/4012345000054987",
                           "bizRules": "https://example.com/gdti/4012345000054988", "example:calibrated": "2026-01"},
        "sensorReport": [{"type": "Temperature", "value": 26.0, "uom": "CEL", "minValue": 24, "maxValue": 27.5,
                          "meanValue": 25.5, "sDev": 0.5, "example:probe": "left"},
                         {"type": "gs1:RelativeHumidity", "value": 60, "uom": "P1"}],
        "example:furtherSensorData": {"example:a": 1}}]),
    _event("s1", 2, sensorElementList=[{
        "sensorReport": [{"type": "https://gs1.org/voc/Temperature", "deviceID": PROBE,
                          "time": "2026-11-30T10:30:00+08:00", "value": 80, "uom": "FAH",
                          "percRank": 95, "percValue": 79.5},
                         {"type": "gs1:Count", "microorganism": "https://www.ncbi.nlm.nih.gov/taxonomy/1496",
                          "chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN-UGDNZRGBSA-N",
                          "stringValue": "SmokeDetected", "booleanValue": True, "hexBinaryValue": "a1b2",
                          "uriValue": "https://example.com/x", "example:level": 3}]}]),
    _event("s2", 3, sensorElementList=[{"sensorReport": [{"type": "Mass", "value": 1.5, "uom": "KGM"}]}]),
    _event("s3", 4),   # no sensor
]


def _records(events=EVENTS):
    return [EpcisRecord(event_id=ev["eventID"], event=ev, event_time=1.78e9 + 60 * i, time_offset="+08:00",
                        record_time=1.79e9 + i, type=ev["type"], biz_step=ev["bizStep"], action=ev["action"],
                        epcs={}, facets=facets_of(ev, CONTEXT)) for i, ev in enumerate(events)]


FOUND = [
    ({"EXISTS_sensorElement": ""}, ["s0", "s1", "s2"]),
    ({"EQ_type": "Temperature"}, ["s0", "s1"]),                          # bare word, gs1: and its IRI alike
    ({"EQ_type": "gs1:RelativeHumidity|Mass"}, ["s0", "s2"]),
    ({"EQ_deviceID": GIAI}, ["s0"]),                                     # in the sensorMetadata
    ({"EQ_deviceID": PROBE}, ["s1"]),                                    # in a sensorReport
    ({"EQ_dataProcessingMethod": "https://example.com/gdti/4012345000054987"}, ["s0"]),
    ({"EQ_bizRules": "https://example.com/gdti/4012345000054988"}, ["s0"]),
    ({"EQ_microorganism": "https://www.ncbi.nlm.nih.gov/taxonomy/1496"}, ["s1"]),
    ({"EQ_chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN-UGDNZRGBSA-N"}, ["s1"]),
    ({"EQ_stringValue": "SmokeDetected"}, ["s1"]),
    ({"EQ_booleanValue": "true"}, ["s1"]),
    ({"EQ_booleanValue": "false"}, []),
    ({"EQ_hexBinaryValue": "A1B2"}, ["s1"]),                             # hex in either case
    ({"EQ_uriValue": "https://example.com/x"}, ["s1"]),
    ({"GE_time": "2026-11-30T01:00:00Z"}, ["s0", "s1"]),                 # metadata's time, a report's time
    ({"GE_time": "2026-11-30T01:30:00Z"}, ["s1"]),
    ({"LT_time": "2026-11-30T09:30:00+08:00"}, ["s0"]),
    ({"GE_startTime": "2026-11-30T07:00:00+08:00", "LT_endTime": "2026-11-30T10:00:00+08:00"}, ["s0"]),
    ({"LT_startTime": "2026-11-30T07:00:00+08:00"}, []),
    ({"EQ_value_CEL": "26"}, ["s0"]),
    ({"GE_value_CEL": "26"}, ["s0", "s1"]),                              # 80 FAH is 26.67 CEL
    ({"GT_value_CEL": "26.5"}, ["s1"]),
    ({"GE_value_KEL": "299"}, ["s0", "s1"]),                             # TCR-53 step 26: another unit
    ({"LT_value_FAH": "79"}, ["s0"]),                                    # 26 CEL is 78.8 FAH
    ({"EQ_value_KEL": "299.15"}, ["s0"]),
    ({"GE_value_GRM": "1000"}, ["s2"]),
    ({"GE_value_P1": "50"}, ["s0"]),                                     # a unit of no listed dimension: itself
    ({"LE_minValue_CEL": "24"}, ["s0"]), ({"GE_maxValue_KEL": "300"}, ["s0"]),
    ({"EQ_meanValue_CEL": "25.5"}, ["s0"]),
    ({"GE_sDev": "0.5"}, ["s0"]), ({"EQ_sDev_FAH": "0.9"}, ["s0"]),     # a spread: scaled, no offset
    ({"GE_percRank": "90"}, ["s1"]), ({"LT_percValue": "80"}, ["s1"]),
    ({"EQ_SENSORMETADATA_example:calibrated": "2026-01"}, ["s0"]),
    ({"EQ_SENSORREPORT_example:probe": "left"}, ["s0"]),
    ({"GT_SENSORREPORT_example:level": "2"}, ["s1"]),
    ({"EXISTS_SENSORELEMENT_example:furtherSensorData": ""}, ["s0"]),
    ({"EQ_SENSORREPORT_http://ns.example.com/epcis#probe": "left"}, ["s0"]),   # namespace#name
    ({"EQ_type": "Temperature", "GE_value_CEL": "26.5"}, ["s1"]),
]


@pytest.mark.parametrize("params,expected", FOUND)
def test_sensor_parameters(store, params, expected):
    assert all(store.epcis_put(_records()))
    assert _ids(store, params) == expected


@pytest.mark.parametrize("params,named", [
    ({"GE_value_cel": "1"}, "GE_value_cel"),                             # not a unit code
    ({"GE_value_CEL": "warm"}, "GE_value_CEL"),
    ({"EQ_booleanValue": "yes"}, "EQ_booleanValue"),
    ({"GE_time": "2026-11-30T09:00:00"}, "GE_time"),                     # no offset
    ({"EXISTS_sensorElement": "no"}, "EXISTS_sensorElement"),
    ({"EQ_SENSORREPORT_probe": "left"}, "EQ_SENSORREPORT_probe"),        # an extension's name has a prefix
    ({"EXISTS_INNER_SENSORREPORT_example:probe": "x"}, "EXISTS_INNER_SENSORREPORT_example:probe"),
])
def test_bad_sensor_parameters_are_refused_by_name(params, named):
    with pytest.raises(Refusal) as e:
        epcis_params.parse(params)
    assert e.value.field == named


def test_lmdb_events_from_before_sensor_facets_are_found_after_open(tmp_path):
    from tracecode import schemes
    from tracecode.store.lmdb import epcis as lmdb_epcis
    from tracecode.store.lmdb.env import open_env
    from tracecode.store.lmdb.store import LmdbStore
    s = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
    assert all(s.epcis_put(_records()))
    with s.env.begin(write=True) as txn:   # format 1's facets: none of "sensor", the mark b"done"
        cur = txn.cursor(db=s.epcis.main)
        found = cur.set_range(b"E")
        while found and cur.key()[:1] == b"E":
            if cur.key()[-1:] == b"h":
                head = lmdb_epcis._loads(cur.value())
                head["facets"].pop("sensor", None)
                cur.put(cur.key(), lmdb_epcis._dumps(head))
            found = cur.next()
        txn.put(lmdb_epcis.FACETS_MARK, b"done", db=s.epcis.main)
    assert _ids(s, {"EQ_type": "Temperature"}) == []
    s.close()
    s.env.close()
    s = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
    try:
        assert _ids(s, {"EQ_type": "Temperature"}) == ["s0", "s1"]
        assert _ids(s, {"GE_value_KEL": "299"}) == ["s0", "s1"]
        with s.env.begin() as txn:
            assert txn.get(lmdb_epcis.FACETS_MARK, db=s.epcis.main) == lmdb_epcis.FACETS_DONE
    finally:
        s.close()
        s.env.close()


def test_postgres_events_from_before_sensor_facets_are_found_after_open(pg_dsn):
    from tracecode import schemes
    from tracecode.store.postgres import PgStore
    from tracecode.store.postgres import epcis as pg_epcis
    s = PgStore(pg_dsn, schemes.builtin())
    try:
        assert all(s.epcis_put(_records()))
        with s.tx() as conn:   # facets without "sensor", and no mark that the sensor backfill ran
            for seq, head in conn.execute("SELECT seq, head FROM tc_epcis_events").fetchall():
                h = pg_epcis.loads(head)
                h["facets"].pop("sensor", None)
                conn.execute("UPDATE tc_epcis_events SET facets = %s::jsonb, head = %s WHERE seq = %s",
                             [pg_epcis.json.dumps(h["facets"]), pg_epcis.dumps(h), seq])
            conn.execute("DELETE FROM tc_meta WHERE key = 'facets'")
        assert _ids(s, {"EQ_type": "Temperature"}) == []
    finally:
        s.close()
    s = PgStore(pg_dsn, schemes.builtin())
    try:
        assert _ids(s, {"EQ_type": "Temperature"}) == ["s0", "s1"]
        assert s.meta_get("facets") == str(facets.VERSION).encode()
    finally:
        s.close()


XML = """<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:gs1="https://gs1.org/voc/"
    xmlns:example="http://ns.example.com/epcis/" schemaVersion="2.0" creationDate="2026-11-30T10:00:00+08:00">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2026-11-30T09:05:00+08:00</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
      <epcList><epc>urn:epc:id:sgtin:0614141.107346.3001</epc></epcList>
      <action>OBSERVE</action><bizStep>urn:epcglobal:cbv:bizstep:transporting</bizStep>
      <sensorElementList><sensorElement>
        <sensorMetadata deviceID="urn:epc:id:giai:4000001.333" time="2026-11-30T09:00:00+08:00"/>
        <sensorReport type="gs1:Temperature" value="18.5" uom="CEL"/>
      </sensorElement></sensorElementList>
    </ObjectEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"""


def test_sensor_events_captured_as_json_ld_and_xml_are_found_over_http(tmp_path):
    from epcis_site import captured
    # GS1's JSON schema takes a GS1 type as its bare word or gs1:..., not its https IRI
    doc = base._doc(*({**ev, "epcList": [f"urn:epc:id:sgtin:0614141.107346.{i}"]} for i, ev in enumerate(EVENTS)))
    doc = doc.replace(b'"https://gs1.org/voc/Temperature"', b'"Temperature"')
    with captured(tmp_path, (doc, "application/ld+json"), (XML.encode(), "application/xml")) as (p, client, found):
        xml = [i for i in found({}) if not i.startswith("s")]   # the XML event's id: its GS1 event hash
        assert len(xml) == 1
        assert found({"EQ_type": "Temperature"}) == sorted(["s0", "s1", *xml])
        assert found({"EQ_type": "Temperature", "GE_value_KEL": "299"}) == ["s0", "s1"]   # TCR-53 step 26
        assert found({"LT_value_CEL": "20"}) == xml
        assert found({"EQ_deviceID": "urn:epc:id:giai:4000001.333"}) == xml
        assert found({"EXISTS_sensorElement": ""}) == sorted(["s0", "s1", "s2", *xml])
        r = client.get("/epcis/events", params={"GE_value_celsius": "1"}, headers=p.auth("admin"))
        assert r.status_code == 400 and "GE_value_celsius" in r.text, r.text
        spec = client.get("/api/v1/openapi.json").json()
        described = {q["name"] for op in spec["paths"]["/epcis/events"].values() if isinstance(op, dict)
                     for q in op.get("parameters", [])}
        assert {"EQ_type", "EQ_deviceID", "GE_time", "EXISTS_sensorElement", "GE_sDev"} <= described
