"""The counterfeit check records where a scan happened as verify does: Service.check and
check_many take region, lat, lon (checked: a malformed one refused), the gRPC CheckRequest
and CheckBatchRequest carry them (a real `tracecode serve`), and `tracecode verify --region`
on a directory with a registry (which checks) records the region."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import grpc
import pytest

import tracecode
from tracecode.app import Refusal, Service
from tracecode.app.caller import LOCAL
from tracecode.store.lmdb.scanlog import unpack_scan
from tracecode.v1 import Client, ServiceError
from tracecode.v1.testing import ServerProcess

COMPANY = "华东某某动物药业有限公司"
APPROVAL = "兽药字(2015)010012345"


def qr(code: str) -> str:
    return ",".join([code, "兽用阿莫西林可溶性粉", APPROVAL, COMPANY, "0571-88888888"])


def _records(d):
    d.index.log.flush()
    with d.index.env.begin() as txn:
        return [unpack_scan(v) for _, v in txn.cursor(db=d.index.db_scans)]


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data"
    with tracecode.init(path) as d:
        assert d.registry.import_rows([dict(number=APPROVAL, product="阿莫西林可溶性粉", company=COMPANY,
                                            enterprise_id="00002", dosage_form="粉剂", specification="100g",
                                            valid_until="2099-12-31")]).ok
        b = d.issue_approved(APPROVAL, 6, date=dt.date(2023, 3, 1), lot="L1", expiry="20991231")
        codes = [c.decode() for c in b.codes()]
        assert all(r["ok"] for r in d.apply([{"id": "c1", "action": "commission", "codes": codes}]))
    return path, codes


def test_check_and_check_many_record_the_region(data):
    path, codes = data
    d = tracecode.open(path)
    svc = Service(d)
    try:
        assert svc.check(LOCAL, qr(codes[0]), region="330106", lat=30.27, lon=120.15)[0].verdict == "GENUINE"
        checked = svc.check_many(LOCAL, [qr(c) for c in codes[1:3]], region=110105)
        assert [a.verdict for a in checked] == ["GENUINE", "GENUINE"]
        svc.check(LOCAL, qr(codes[3]))   # none given: none recorded
        got = [(r["region"], r["lat"], r["lon"]) for r in _records(d)]
        assert got == [("330106", 30.27, 120.15), ("110105", None, None), ("110105", None, None),
                       (None, None, None)]
        for kw, field in (({"region": "99000"}, "region"), ({"lat": 91, "lon": 0}, "lat")):
            with pytest.raises(Refusal) as err:
                svc.check(LOCAL, qr(codes[4]), **kw)
            assert (err.value.reason, err.value.field) == ("invalid_argument", field)
        assert len(_records(d)) == 4   # a refused location: nothing logged
    finally:
        svc.close()
        d.close()


def test_check_over_grpc_and_the_cli_record_the_region(data):
    path, codes = data
    with ServerProcess(path) as server:
        with Client(server.address) as c:
            assert c.check(qr(codes[0]), region="330106", lat=30.27, lon=120.15).verdict == "GENUINE"
            assert len(c.check_many([qr(codes[1]), qr(codes[2])], region="440300", answers=True)) == 2
            with pytest.raises(ServiceError) as err:
                c.check(qr(codes[3]), region="11a105")
            assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "region" in str(err.value)
    cli = subprocess.run([sys.executable, "-m", "tracecode", "verify", str(path), qr(codes[4]), "--region", "510100"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    with tracecode.open(path) as d:
        assert [r["region"] for r in _records(d)] == ["330106", "440300", "440300", "510100"]
        assert _records(d)[0]["lat"] == 30.27
