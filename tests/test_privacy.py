"""Personal information: a scanner's scans purged (scan log and per-code summaries, through
the storage port, audited with the scanner pseudonymised), and no caller's IP address kept:
not in the audit log (a keyed pseudonym), not in the scan log of the public window's queries
(real servers on loopback, real LMDB files)."""
from __future__ import annotations

import json

import httpx
import pytest

import tracecode
from tracecode.app import Service
from tracecode.app.audit import read
from tracecode.app.auditchain import load_keys
from tracecode.app.auditverify import verify
from tracecode.app.clients import ClientsFile
from tracecode.app.local import LocalClient
from tracecode.app.privacy import purge_scanner
from tracecode.cli import main
from tracecode.v1 import Client, ServiceError
from tracecode.v1.testing import ServerProcess
from tracecode.web.app import create_app

from web_platform import BASE_URL, Platform
from web_server import serving

DRUG = {"drug_id": "8177322"}


@pytest.fixture
def scanned(tmp_path):
    """A data directory whose codes were scanned by two scanners."""
    d = tmp_path / "data"
    tracecode.init(d).close()
    with LocalClient(tracecode.open(d)) as c:
        codes = [x.decode() for x in next(iter(c.request_codes("cn-drug-20", DRUG, 4)))]
        c.verify_many(codes[:3], scanner="pharmacy-7", place="330102")
        c.verify(codes[0], scanner="phone-of-zhang-san", place="330106")
        c.verify(codes[3], scanner="phone-of-zhang-san", place="330106")
        c.verify(codes[0], scanner="pharmacy-7", place="330102")
        c.svc.dd.index.store.flush_scans()
    return d, codes


def scans(d, code):
    with LocalClient(tracecode.open(d)) as c:
        return [h for h in c.history(code) if h["kind"] == "scan"]


def test_a_scanner_is_purged_from_the_scan_log_and_the_summaries_and_it_is_audited(scanned, capsys):
    d, codes = scanned
    assert any(s.get("scanner") == "phone-of-zhang-san" for s in scans(d, codes[0]))
    assert main(["privacy", "purge", str(d), "--scanner", "phone-of-zhang-san", "--dry-run"]) == 0
    assert "2 scans of scanner 'phone-of-zhang-san' would be removed" in capsys.readouterr().err
    assert any(s.get("scanner") == "phone-of-zhang-san" for s in scans(d, codes[0]))   # dry: unchanged
    assert main(["privacy", "purge", str(d), "--scanner", "phone-of-zhang-san"]) == 0
    assert "removed 2 scans" in capsys.readouterr().err
    kept = scans(d, codes[0])
    assert [s.get("scanner") for s in kept] == ["pharmacy-7", "pharmacy-7"]
    assert scans(d, codes[3]) == []
    with LocalClient(tracecode.open(d)) as c:
        a0 = c.verify(codes[0], record=False)
        a3 = c.verify(codes[3], record=False)
    assert a0.scan_count == 2 + 1 and a3.scan_count == 0 + 1   # the count includes this scan
    records = read(d / "audit.log")
    purge = [r for r in records if r["event"].startswith("purge_scanner")]
    assert [r["event"] for r in purge] == ["purge_scanner_intent", "purge_scanner"]
    assert purge[1]["scans"] == 2 and purge[1]["codes"] == 2
    assert purge[0]["scanner"].startswith("scanner-") and "zhang" not in (d / "audit.log").read_text()
    assert verify(d / "audit.log", keys=load_keys(d)).status == 0


def test_purging_through_the_python_api_and_its_refusals(scanned):
    d, codes = scanned
    svc = Service(tracecode.open(d))
    try:
        assert purge_scanner(svc, "pharmacy-7") == {"scans": 4, "codes": 3}
        assert purge_scanner(svc, "pharmacy-7") == {"scans": 0, "codes": 0}
        for name in ("", "public"):
            with pytest.raises(ValueError, match="name a scanner"):
                purge_scanner(svc, name)
    finally:
        svc.close()
        svc.dd.close()


def test_scans_past_their_retention_are_purged_and_audited(scanned, capsys):
    d, codes = scanned
    assert main(["privacy", "purge", str(d), "--before", "2000-01-01", "--dry-run"]) == 0
    assert "0 scans recorded before 2000-01-01" in capsys.readouterr().err
    assert main(["privacy", "purge", str(d), "--before", "2999-01-01"]) == 0
    assert "removed 6 scans recorded before 2999-01-01" in capsys.readouterr().err
    assert all(scans(d, c) == [] for c in codes)
    done = [r for r in read(d / "audit.log") if r["event"] == "purge_scans_before"]
    assert len(done) == 1 and done[0]["scans"] == 6 and done[0]["before"] > 1e9
    for bad, why in ((["--before", "yesterday"], "give an ISO date"), ([], "--scanner ID or --before DATE"),
                     (["--before", "2000-01-01", "--scanner", "x"], "one of them")):
        assert main(["privacy", "purge", str(d), *bad]) == 1
        assert why in capsys.readouterr().err


def test_an_unauthenticated_callers_address_is_kept_only_as_a_pseudonym(tmp_path, capsys):
    d = tmp_path / "data"
    tracecode.init(d).close()
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    clients.add("line-3", ["issuer"], ["cn-drug-20:drug_id=8177322"])
    with ServerProcess(d, "--tokens", tmp_path / "clients.toml") as server:
        with Client(server.address, token="not-a-token", retry_timeout=5) as forged:
            for _ in range(3):
                with pytest.raises(ServiceError):
                    forged.whoami(retry=False)
    text = (d / "audit.log").read_text()
    assert "127.0.0.1" not in text
    refused = [r for r in read(d / "audit.log") if r["event"] == "unauthenticated"]
    assert len(refused) == 3 and len({r["peer"] for r in refused}) == 1
    assert refused[0]["peer"].startswith("anon-")
    assert main(["audit", "show", str(d), "--address", "127.0.0.1"]) == 0
    shown = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["event"] for r in shown] == ["unauthenticated"] * 3
    assert main(["audit", "show", str(d), "--address", "10.9.9.9"]) == 0
    assert capsys.readouterr().out == ""


def test_the_public_window_keeps_no_address_in_the_scan_log_or_the_audit_log(tmp_path):
    p = Platform(tmp_path, count=5)
    try:
        with serving(create_app(p.svc, base_url=BASE_URL)) as url:
            transport = httpx.HTTPTransport(local_address="127.0.0.77")
            with httpx.Client(base_url=url, timeout=30, transport=transport) as phone:
                for code in p.gs1[:3]:
                    assert phone.get(f"/api/v1/codes/{code}", params={"place": "330102"}).status_code == 200
                assert phone.get(f"/api/v1/codes/{p.gs1[0]}",
                                 headers={"authorization": "Bearer wrong"}).status_code == 401
        p.dd.index.store.flush_scans()
        with p.dd.index.store.reading() as view:
            txn = view._txn
            logged = [raw for _, raw in txn.cursor(db=p.dd.index.store.db_scans)]
        assert logged and not any(b"127.0.0" in raw for raw in logged)
        assert "127.0.0.77" not in (p.dd.path / "audit.log").read_text()
    finally:
        p.close()
