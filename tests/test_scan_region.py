"""Scans carry where they happened: a GB/T 2260 region and WGS-84 coordinates, checked once a
call, logged with each scan (scan records of index format 2 read with them None)."""
import math

import pytest
from hypothesis import given, settings, strategies as st

import tracecode
from tracecode.errors import InvalidFormat
from tracecode.regions import BUILTIN
from tracecode.regions.location import parse_at, region_code, scan_location
from tracecode.store.lmdb.scanlog import record_source, source_prefix, unpack_scan

DRUG = {"drug_id": "8177322"}


def _records(d):
    d.index.log.flush()
    ix = d.index
    with ix.env.begin() as txn:
        return [unpack_scan(v) for _, v in txn.cursor(db=ix.db_scans)]


def test_region_and_coordinates_are_logged_by_both_verify_paths(tmp_path):
    with tracecode.init(tmp_path / "data") as d:
        codes = d.issue("cn-drug-20", DRUG, 3).codes()
        d.verify(codes[0], place="Chaoyang shop", region="110105", lat=39.92, lon=116.44)
        d.verify_many(codes[1:], scanner="s1", region=450100)
        d.verify(codes[0])
        got = [(r["place"], r["region"], r["lat"], r["lon"], r["scanner"]) for r in _records(d)]
    # one commit writes a window's batch calls before its single scans: compare as a multiset
    assert sorted(got, key=repr) == sorted([("Chaoyang shop", "110105", 39.92, 116.44, None),
                                            (None, "450100", None, None, "s1"), (None, "450100", None, None, "s1"),
                                            (None, None, None, None, None)], key=repr)


def test_old_records_read_with_no_location():
    # a record as index format 2 wrote it: time, lengths, texts, verdict, prev, key
    raw = b"\x41\xd9" + bytes(6) + source_prefix("s", "Hangzhou") + b"\x00" + bytes(8) + b"key"
    assert record_source(raw)[:5] == ("s", "Hangzhou", None, None, None)
    assert unpack_scan(raw)["key"] == b"key" and unpack_scan(raw)["region"] is None


def test_purge_reads_records_with_a_location(tmp_path):
    with tracecode.init(tmp_path / "data") as d:
        codes = d.issue("cn-drug-20", DRUG, 2).codes()
        d.verify(codes[0], scanner="gone", place="p", region="110105", lat=1.0, lon=2.0)
        d.verify(codes[0], scanner="kept", place="q", region="310000")
        d.index.log.flush()
        assert d.index.store.purge_scanner("gone") == {"scans": 1, "codes": 1}
        left = _records(d)
    assert [(r["scanner"], r["region"]) for r in left] == [("kept", "310000")]


@pytest.mark.parametrize("bad, field", [("99000", "region"), ("990000", "region"), ("11a105", "region"),
                                        ("110005", "region"), ("１１０１０５", "region")])
def test_a_malformed_region_is_refused_with_nothing_logged(tmp_path, bad, field):
    with tracecode.init(tmp_path / "data") as d:
        code = d.issue("cn-drug-20", DRUG, 1).codes()[0]
        with pytest.raises(InvalidFormat) as err:
            d.verify(code, region=bad)
        assert err.value.field == field and "region" in str(err.value)
        assert _records(d) == []


def test_service_refuses_bad_coordinates_as_invalid_argument(tmp_path):
    from tracecode.app import Refusal, Service
    from tracecode.app.caller import LOCAL
    d = tracecode.init(tmp_path / "data")
    svc = Service(d)
    try:
        code = d.issue("cn-drug-20", DRUG, 1).codes()[0]
        for kw, field in (({"lat": 91, "lon": 0}, "lat"), ({"lat": 1}, "lon"), ({"lat": 0, "lon": "east"}, "lon")):
            with pytest.raises(Refusal) as err:
                svc.verify(LOCAL, code, **kw)
            assert (err.value.reason, err.value.field) == ("invalid_argument", field)
        svc.verify_many(LOCAL, [code], region="110105", lat="39.9", lon="116.4")
        assert [(r["region"], r["lat"]) for r in _records(d)] == [("110105", 39.9)]
    finally:
        d.close()


def test_well_formed_unknown_county_is_accepted_known_ones_are_too():
    assert region_code("110105") == "110105" and "110105" not in BUILTIN.by_code
    assert region_code("urn:tracecode:region:450100") == "450100"
    assert parse_at("39.92, 116.44") == (39.92, 116.44)
    with pytest.raises(InvalidFormat):
        parse_at("39.92")


provinces = sorted(c[:2] for c in BUILTIN.by_code if c.endswith("0000"))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=8), st.integers(-10, 10**7),
                 st.builds(lambda p, m, c: f"{p}{m:02d}{c:02d}", st.sampled_from(provinces),
                           st.integers(0, 99), st.integers(0, 99))))
def test_region_input_is_a_code_or_a_clear_refusal(value):
    try:
        got = region_code(value)
    except InvalidFormat as exc:
        assert exc.field == "region" and str(exc)
        return
    if value in ("", None):
        assert got is None
        return
    assert len(got) == 6 and got.isdigit() and got[:2] + "0000" in BUILTIN.by_code
    assert not (got[2:4] == "00" and got[4:] != "00")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.floats(allow_nan=True), st.text(max_size=6)),
       st.one_of(st.none(), st.floats(allow_nan=True), st.integers(-400, 400)))
def test_coordinates_are_in_range_or_refused(lat, lon):
    try:
        _, la, lo = scan_location(None, lat, lon)
    except InvalidFormat as exc:
        assert exc.field in ("lat", "lon")
        return
    assert (la is None) == (lo is None)
    if la is not None:
        assert math.isfinite(la) and abs(la) <= 90 and abs(lo) <= 180


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([None, "110105", "450100"]),
       st.one_of(st.none(), st.floats(-90, 90)), st.floats(-180, 180), st.text(max_size=20))
def test_a_source_prefix_round_trips(region, lat, lon, place):
    lon = None if lat is None else lon
    raw = bytes(8) + source_prefix("scanner", place, region, lat, lon) + b"\x07" + bytes(8)
    got = record_source(raw)
    assert got[:5] == ("scanner", place or None, region, lat, lon) and raw[got[5]] == 7


def test_the_cli_records_region_and_coordinates(tmp_path):
    import subprocess
    import sys
    with tracecode.init(tmp_path / "data") as d:
        code = d.issue("cn-drug-20", DRUG, 1).codes()[0].decode()
    run = lambda *a: subprocess.run([sys.executable, "-m", "tracecode", "verify", str(tmp_path / "data"), code,  # noqa: E731
                                     *a], capture_output=True, text=True, timeout=120)
    assert "NOT_COMMISSIONED" in run("--region", "110105", "--at", "39.92,116.44").stdout
    for bad, said in ((("--region", "990000"), "99 is no province"), (("--at", "39"), "LAT,LON"),
                      (("--at", "91,0"), "outside")):
        got = run(*bad)
        assert got.returncode != 0 and said in got.stderr and "Traceback" not in got.stderr
    with tracecode.open(tmp_path / "data") as d:
        assert [(r["region"], r["lat"], r["lon"]) for r in _records(d)] == [("110105", 39.92, 116.44)]


def test_the_json_api_records_region_and_coordinates(tmp_path):
    import httpx
    from tracecode.web.app import create_app
    from web_server import serving
    from web_world import build, close, commission, scans_of, settled
    w = build(tmp_path)
    try:
        code = w["d"].issue("cn-drug-20", DRUG, 1).codes()[0].decode()
        commission(w["d"], [code], "c-region")
        with serving(create_app(w["svc"], base_url="https://trace.example")) as url:
            ok = httpx.get(f"{url}/api/v1/codes/{code}", params={"region": "450100", "lat": "22.8", "lon": "108.3"})
            bad = httpx.get(f"{url}/api/v1/codes/{code}", params={"lat": "91", "lon": "0"})
            half = httpx.get(f"{url}/api/v1/codes/{code}", params={"lat": "22.8"})
        assert ok.status_code == 200, ok.text
        assert bad.status_code == 400 and "lat" in bad.text and half.status_code == 400 and "lon" in half.text
        settled(w, code, 1)
        w["d"].index.store.flush_scans()
        with w["d"].index.env.begin() as txn:
            rows = [unpack_scan(v) for _, v in txn.cursor(db=w["d"].index.db_scans)]
        assert [(r["place"], r["region"], r["lat"], r["lon"]) for r in rows if r["scanner"] == "public"] == [
            ("450100", "450100", 22.8, 108.3)]
        assert len(scans_of(w, code)) == 1   # the refused queries were not recorded
    finally:
        close(w)


def test_grpc_verify_and_verify_stream_record_region_and_coordinates(tmp_path):
    import grpc
    from tracecode.v1 import Client, ServiceError
    from tracecode.v1.testing import ServerProcess
    with tracecode.init(tmp_path / "data") as d:
        codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 2).codes()]
    with ServerProcess(tmp_path / "data") as server:
        c = Client(server.address, retry_timeout=10)
        try:
            c.verify(codes[0], region="110105", lat=39.92, lon=116.44)
            c.verify_many(codes, scanner="pda", region="450100")
            c.verify(codes[1])
            with pytest.raises(ServiceError) as err:
                c.verify_many(codes, region="990000")
            assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "region" in str(err.value)
            with pytest.raises(ServiceError):
                c.verify(codes[0], lat=12.0)   # no lon
        finally:
            c.close()
    with tracecode.open(tmp_path / "data") as d:
        got = [(r["region"], r["lat"], r["lon"]) for r in _records(d)]
    assert sorted(got, key=repr) == sorted([("110105", 39.92, 116.44), ("450100", None, None),
                                            ("450100", None, None), (None, None, None)], key=repr)
