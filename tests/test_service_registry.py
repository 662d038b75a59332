"""The counterfeit check over gRPC: Verification.Check, CheckStream and LookupApproval on a
real `tracecode serve` process, the clients (sync and asyncio), rights, and the command
line's `verify --server` and `registry show --server` printing what the local verbs print.

A small registry (veterinary approvals of two companies, one revoked, a pesticide
registration), codes of ours issued under them and national code data are written
into a data directory before the server starts. Scans are checked on the server's today.
"""
import asyncio
import datetime as dt
import subprocess
import sys
import time

import grpc
import numpy as np
import pytest

import tracecode
from tracecode.checks import DAMM
from tracecode.registry import CHECKS
from tracecode.v1 import AsyncClient, Client, ServiceError
from tracecode.app.clients import ClientsFile
from tracecode.v1.testing import ServerProcess

Code = grpc.StatusCode
COMPANY = "华东某某动物药业有限公司"
VALID = "兽药字(2015)010012345"
VALID2 = "兽药字(2016)010012346"
REVOKED = "兽药字(2017)010012347"
OTHER = "兽药字(2018)020070001"      # another company's: the national code data's approval
PEST = "PD20092927"
ENTERPRISE, OTHER_ENTERPRISE, GHOST = "00002", "00007", "99990"
ISSUED_ON = dt.date(2023, 3, 1)


def qr(code, approval, company=COMPANY):
    return ",".join([code, "兽用阿莫西林可溶性粉", approval, company, "0571-88888888"])


def damm(body):
    return body + DAMM.calc(body)


def tc(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], input=stdin,
                          capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("service-registry")
    w = {"data": root / "data"}
    with tracecode.init(w["data"]) as d:
        vet = dict(company=COMPANY, enterprise_id=ENTERPRISE, dosage_form="粉剂",
                   specification="100g", valid_until="2099-12-31")
        report = d.registry.import_rows([
            dict(vet, number=VALID, product="阿莫西林可溶性粉"),
            dict(vet, number=VALID2, product="恩诺沙星可溶性粉"),
            dict(vet, number=REVOKED, product="氟苯尼考粉", status="revoked", status_since="2024-01-01"),
            dict(number=OTHER, product="替米考星", company="西南某兽药有限公司",
                 enterprise_id=OTHER_ENTERPRISE, valid_until="2099-12-31"),
            dict(number=PEST, product="吡虫啉", company="某农化有限公司", spec_codes="001;002",
                 valid_until="2099-12-31")])
        assert report.ok and len(report.added) == 5

        def issue(number, n, **kw):
            b = d.issue_approved(number, n, date=kw.pop("date", ISSUED_ON), lot="L1",
                                 expiry="20991231", **kw)
            codes = [c.decode() for c in b.codes()]
            assert all(r["ok"] for r in d.apply([{"id": f"c{b.id}", "action": "commission",
                                                  "codes": codes}]))
            return codes
        w["ours"] = issue(VALID, 40)
        w["revoked"] = issue(REVOKED, 3, date=dt.date(2023, 6, 1))
        w["pest"] = issue(PEST, 3, spec="001")
        box, unit = f"20220101{OTHER_ENTERPRISE}{1:011d}", f"20220101{OTHER_ENTERPRISE}{2:011d}"
        rows = [{"code": box, "approval_number": OTHER, "lot": "N2", "production_date": "2022-01-01",
                 "expiry_date": "2098-01-01", "packaging_level": "box"},
                {"code": unit, "approval_number": OTHER, "lot": "N1", "production_date": "2022-01-01",
                 "expiry_date": "2098-01-01", "packaging_level": "unit", "parent_code": box}]
        assert d.registry.import_code_rows(rows).ok
        w["unit"] = unit
    w["ghost"] = damm(f"{ISSUED_ON:%Y%m%d}{GHOST}0123456789")   # our check digit, no such enterprise
    w["drug"] = "81773220000000000001"                          # another scheme: not covered
    clients = ClientsFile.open_or_create(root / "clients.toml")
    tokens = {"scanner": clients.add("pda-7", ["scanner"]),
              "issuer": clients.add("line-3", ["issuer"], ["cn-vet-24"]),
              "regulator": clients.add("moa", ["regulator"])}
    w["tokens"] = tokens
    with ServerProcess(w["data"], "--tokens", root / "clients.toml") as server:
        w["server"] = server
        conns = {role: Client(server.address, token=t, retry_timeout=5) for role, t in tokens.items()}
        w.update(conns)
        yield w
        for c in conns.values():
            c.close()


def refused(code, fn, *args, **kw) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        fn(*args, **kw)
    assert info.value.code == code, info.value
    return info.value


def test_one_scan_every_verdict(world):
    scanner = world["scanner"]
    code = world["ours"][0]
    a = scanner.check(qr(code, VALID), place="Hangzhou")
    assert (a.verdict, a.kind, a.code, a.scan_approval, a.level) == ("GENUINE", "vet", code, VALID, 1)
    assert [c.name for c in a.checks] == list(CHECKS) and all(c.ok for c in a.checks)
    assert "the QR payload and the code's record agree" in a.checks[2].detail
    assert (a.approval.number, a.approval.enterprise_id, a.approval.status) == (VALID, ENTERPRISE, "valid")
    assert [p.name for p in a.approval.products] == ["阿莫西林可溶性粉"]
    assert (a.index.verdict.name, a.index.lot, a.index.scan_count) == ("GENUINE", "L1", 1)
    # a forged approval number next to a real code: the code's record is what counts
    a = scanner.check(qr(world["ours"][1], VALID2))
    assert a.verdict == "NOT_GENUINE" and a.failed == ("approval_matches",)
    assert f"the QR payload says {VALID2}, the code's record {VALID}" in a.checks[2].detail
    assert str(a) == "NOT_GENUINE: failed approval_matches"
    # a code of a revoked approval
    a = scanner.check(world["revoked"][0])
    assert a.failed == ("approval_valid",) and a.checks[3].detail == f"{REVOKED} is revoked since 2024-01-01"
    # a valid-looking code of an enterprise holding no approval
    a = scanner.check(world["ghost"])
    assert a.failed == ("code_exists", "enterprise_matches") and a.approval is None
    assert a.checks[1].detail == f"enterprise {GHOST} holds no approval in the registry"
    assert a.unchecked == ("approval_matches", "approval_valid", "not_expired", "not_recalled",
                           "plausible_query_count")
    # national code data, a pesticide code, another scheme, an unreadable scan
    assert scanner.check(world["unit"]).genuine
    p = scanner.check(world["pest"][0])
    assert p.genuine and p.kind == "pesticide" and p.approval.code_prefix == "1092927"
    a = scanner.check(world["drug"])
    assert (a.verdict, a.kind, a.checks, a.index.verdict.name) == ("NOT_COVERED", None, (), "UNKNOWN")
    a = scanner.check("这不是一个码")
    assert a.verdict == "NOT_GENUINE" and a.failed == ("code_exists",)
    assert a.checks[0].detail == "unreadable: WRONG_LENGTH" and a.index.reasons == ["unreadable: WRONG_LENGTH"]
    err = refused(Code.INVALID_ARGUMENT, scanner.check, "")
    assert err.violations[0][0] == "scan" and err.metadata["fault"] == "EMPTY"


def test_a_real_code_copied_onto_many_packages(world):
    scanner, regulator = world["scanner"], world["regulator"]
    code = world["ours"][2]
    for k in range(1, 7):
        a = scanner.check(code, place="Hangzhou", scanner="till-1")
        deadline = time.monotonic() + 10
        while regulator.verify(code, record=False).scan_count <= k:  # counts this one; commits every 5 ms
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert a.failed == ("plausible_query_count",) and a.index.scan_count == 6
    assert "6 queries; a unit is plausibly queried at most 5 times: possible copy" in a.checks[6].detail
    # recorded under the client's identity, as Verify records
    scans = [h for h in regulator.history(code) if h["kind"] == "scan"]
    assert {(h["scanner"], h["place"]) for h in scans} == {("pda-7/till-1", "Hangzhou")}


def test_batches_carry_the_engines_columns(world):
    w, regulator = world, world["regulator"]
    scans = [qr(w["ours"][10], VALID), qr(w["ours"][11], VALID2), w["revoked"][1], w["ghost"],
             w["unit"], w["pest"][1], w["drug"], "garbage", w["ours"][12]]
    with tracecode.open(w["data"]) as d:
        local = d.check_many(scans, record=False)
        local_answers = list(local)
    for answers in (False, True):
        got = regulator.check_many(scans, record=False, answers=answers, batch_size=4)
        rec = got.records
        assert len(got) == len(scans) and got.checks == CHECKS
        assert got.genuine.tolist() == local.genuine.tolist() == [True, False, False, False, True,
                                                                  True, False, False, True]
        for name in ("kind", "failed", "unchecked", "source", "level", "expiry"):
            assert rec[name].tolist() == local.records[name].tolist(), name
        assert rec["verdict"].tolist() == [1, 2, 2, 2, 1, 1, 3, 2, 1]
        assert [got.names(m) for m in rec["failed"][:4]] == [(), ("approval_matches",),
                                                             ("approval_valid",),
                                                             ("code_exists", "enterprise_matches")]
        numbers = [got.approvals[i].number if i >= 0 else None for i in rec["approval"]]
        assert numbers == [VALID, VALID, REVOKED, None, OTHER, PEST, None, None, VALID]
        assert len(got.approvals) == 4  # each once, across the batches of the stream
        assert got.index.verdicts.tolist() == local.index.records["verdict"].tolist()
        assert got.index.batches[got.index.records["batch"][0]].lot == "L1"
        if answers:
            for a, b in zip(got, local_answers):
                assert (a.verdict, a.failed, a.unchecked, a.code) == (b.verdict, b.failed, b.unchecked, b.code)
                assert a.checks == b.checks and a.approval == b.approval
        else:
            with pytest.raises(TypeError):
                got[0]
    # a packed buffer with offsets, as verify_many takes
    packed = "".join(w["ours"][20:30]).encode()
    got = world["scanner"].check_many(packed, np.arange(0, len(packed) + 1, 24))
    assert got.genuine.all() and len(got) == 10


def test_manual_entry_of_a_number(world):
    for role in ("scanner", "issuer", "regulator"):  # every client may look a number up
        info = world[role].lookup_approval(" 兽药字（2015） 010012345 ")
        assert info.valid and info.record.number == VALID and info.validity == "valid until 2099-12-31"
        assert [p.name for p in info.products] == ["阿莫西林可溶性粉"] and info.companies == (COMPANY,)
        assert info.on == dt.date.today()
    info = world["scanner"].lookup_approval(REVOKED)
    assert not info.valid and info.validity == "revoked since 2024-01-01"
    assert world["scanner"].lookup_approval(REVOKED, dt.date(2023, 12, 31)).valid
    pest = world["scanner"].lookup_approval("pd-2009 2927")
    assert pest.record.kind == "pesticide" and pest.record.spec_codes == ("001", "002")
    err = refused(Code.NOT_FOUND, world["scanner"].lookup_approval, "兽药字(2015)990011234")
    assert err.reason == "APPROVAL_NOT_FOUND" and err.metadata["name"] == "兽药字(2015)990011234"
    err = refused(Code.INVALID_ARGUMENT, world["scanner"].lookup_approval, "兽药字(2015)99001")
    assert err.violations == [("number", "an approval number has 9 digits after the year, got 5")]
    assert refused(Code.INVALID_ARGUMENT, world["scanner"].lookup_approval, VALID,
                   "2024-13-01").violations[0][0] == "date"


def test_rights(world):
    issuer, scanner = world["issuer"], world["scanner"]
    code = world["ours"][30]
    err = refused(Code.PERMISSION_DENIED, issuer.check, code)
    assert "it needs one of: admin, regulator, scanner" in err.message
    refused(Code.PERMISSION_DENIED, issuer.check_many, [code])
    refused(Code.PERMISSION_DENIED, scanner.check, code, record=False)  # regulators and admins only
    assert issuer.verify(code).verdict.name == "GENUINE"  # issuers still verify
    assert scanner.whoami().registry and scanner.whoami().limits.max_check_answers_per_batch == 10_000
    with Client(world["server"].address, token="tc_forged", retry_timeout=1) as forged:
        refused(Code.UNAUTHENTICATED, forged.lookup_approval, VALID)


def test_asyncio_client(world):
    async def run():
        async with AsyncClient(world["server"].address, token=world["tokens"]["scanner"]) as c:
            one = await c.check(qr(world["ours"][31], VALID))
            many = await c.check_many(world["ours"][32:36], answers=True)
            info = await c.lookup_approval(VALID)
            return one, many, info
    one, many, info = asyncio.run(run())
    assert one.genuine and many.genuine.all() and [a.verdict for a in many] == ["GENUINE"] * 4
    assert info.valid and info.record.number == VALID


def test_a_server_without_a_registry(tmp_path):
    tracecode.init(tmp_path / "data").close()
    with ServerProcess(tmp_path / "data") as server, Client(server.address) as c:
        err = refused(Code.FAILED_PRECONDITION, c.check, "20230301000020123456789")
        assert err.reason == "NO_REGISTRY"
        assert not c.whoami().registry
        assert refused(Code.FAILED_PRECONDITION, c.lookup_approval, VALID).reason == "NO_REGISTRY"
        # `verify --server` then prints the index's verdicts, as `verify DIR` does
        r = tc("verify", "--server", server.address, "--no-record", "81773220000000000001")
        assert r.stdout == b"UNKNOWN cn-drug-20 81773220000000000001 scans=0 (never issued)\n"


def test_the_command_line(world):
    w, address = world, world["server"].address
    scans = "\n".join([qr(w["ours"][37], VALID), qr(w["ours"][38], VALID2), w["revoked"][2],
                       w["ghost"], w["drug"], w["unit"]]).encode()
    remote = tc("verify", "--server", address, "--token", w["tokens"]["regulator"], "--no-record",
                stdin=scans)
    local = tc("verify", w["data"], "--no-record", stdin=scans)
    assert remote.returncode == local.returncode == 1, remote.stderr
    assert remote.stdout == local.stdout
    lines = remote.stdout.decode().splitlines()
    assert lines[0].startswith(f"GENUINE cn-vet-24 {w['ours'][37]} batch=") and f"approval={VALID}" in lines[0]
    assert "failed=approval_matches (approval_matches: the QR payload says" in lines[1]
    assert "failed=approval_valid" in lines[2] and "failed=code_exists,enterprise_matches" in lines[3]
    assert lines[4] == f"UNKNOWN cn-drug-20 {w['drug']} scans=0 (never issued)"
    # an issuer may verify but not check: the index's verdicts
    r = tc("verify", "--server", address, "--token", w["tokens"]["issuer"], w["ours"][39])
    assert r.returncode == 0 and r.stdout.decode().startswith(f"GENUINE cn-vet-24 {w['ours'][39]} batch=")
    assert "approval=" not in r.stdout.decode()
    remote = tc("registry", "show", "--server", address, "--token", w["tokens"]["scanner"], REVOKED)
    local = tc("registry", "show", w["data"], REVOKED)
    assert remote.returncode == local.returncode == 1 and remote.stdout == local.stdout
    assert remote.stdout.decode().startswith(f"{REVOKED}  veterinary drug approval  NOT VALID on ")
    r = tc("registry", "show", "--server", address, "--token", w["tokens"]["scanner"], "兽药字(2015)99001")
    assert r.returncode == 1 and r.stderr.startswith(b"tracecode registry show: INVALID_ARGUMENT: number:")
