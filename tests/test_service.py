"""The gRPC service end to end: `tracecode serve` in its own processes, driven by the
client library over loopback: issuance, downloads, the lifecycle, verification,
errors with details, access control and the audit log."""
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection_pb2

import tracecode
from tracecode.index import Verdict
from tracecode.v1 import Client, ServiceError
from tracecode.v1 import verification_pb2 as vpb
from tracecode.v1 import verification_pb2_grpc
from tracecode.app.audit import read as read_audit
from tracecode.app.clients import ClientsFile
from tracecode.v1.testing import ServerProcess

from conftest import wait_until

DRUG = {"drug_id": "8177322"}
OTHER_DRUG = {"drug_id": "1234567"}
GTIN = {"gtin": "09521234543213"}
Code = grpc.StatusCode


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A data directory, a clients file with one client per role, and a server (2 workers)."""
    root = tmp_path_factory.mktemp("service")
    tracecode.init(root / "data").close()
    clients = ClientsFile.open_or_create(root / "clients.toml")
    tokens = {
        "admin": clients.add("ops", ["admin"]),
        "line": clients.add("line-3", ["issuer"], ["cn-drug-20:drug_id=8177322",
                                                   "gs1-sgtin:gtin=0952123*"]),
        "other": clients.add("line-9", ["issuer"], ["cn-drug-20:drug_id=1234567"]),
        "scanner": clients.add("pda-7", ["scanner"]),
        "regulator": clients.add("nmpa", ["regulator"]),
    }
    with ServerProcess(root / "data", "--tokens", root / "clients.toml", workers=2) as server:
        conns = {role: Client(server.address, token=t, retry_timeout=10) for role, t in tokens.items()}
        yield {"root": root, "data": root / "data", "server": server, "tokens": tokens,
               "clients_file": root / "clients.toml", **conns}
        for c in conns.values():
            c.close()


def refused(code, fn, *args, **kw) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        fn(*args, **kw)
    assert info.value.code == code, info.value
    return info.value


def test_issue_download_and_download_again(world):
    line = world["line"]
    dl = line.request_codes("cn-drug-20", DRUG, 150_000, lot="L1", expiry="20301231",
                            line="packing-3", chunk_codes=40_000)
    chunks = list(dl)
    assert [len(c) for c in chunks] == [40_000, 40_000, 40_000, 30_000]
    codes = np.concatenate(chunks)
    assert codes.dtype == np.dtype("S20") and len(np.unique(codes)) == 150_000
    assert tracecode.schemes.get("cn-drug-20").validate_many(codes).all()
    assert dl.batch.count == 150_000 and dl.batch.lot == "L1" and dl.batch.line == "packing-3"
    assert dl.batch.requester.startswith("line-3 request ")
    # any part again, in other chunk sizes: the same codes (FF1 of the same counters)
    again = line.download(dl.batch.id, offset=12_345, count=54_321, chunk_codes=7_000).all()
    assert (again == codes[12_345:12_345 + 54_321]).all()
    assert (line.download(dl.batch.id, offset=149_990).all() == codes[-10:]).all()
    with tracecode.open(world["data"]) as d:  # what the server issued is what the engine renders
        assert (d.issuer("cn-drug-20", DRUG).codes(dl.batch.start, 10) == codes[:10]).all()


def test_gs1_renders_and_writing_a_file(world, tmp_path):
    line = world["line"]
    dl = line.request_codes("gs1-sgtin", GTIN, 1000, render="element",
                            attributes={"expiry": "261231", "lot": "A1"})
    first = dl.all()
    assert first[0].startswith(b"0109521234543213" + b"17261231" + b"10A1\x1d21")
    hri = line.download(dl.batch.id, render="hri", count=3).all()
    assert hri[0].startswith(b"(01)09521234543213(17)261231(10)A1(21)")
    assert line.download(dl.batch.id, render="dl").write(tmp_path / "codes.txt") == 1000
    lines = (tmp_path / "codes.txt").read_bytes().split(b"\n")
    assert len(lines) == 1001 and lines[0].startswith(b"https://id.gs1.org/01/09521234543213/")
    refused(Code.INVALID_ARGUMENT, lambda: line.download(1, render="dl").all())  # not GS1


def test_a_retried_request_returns_the_same_batch(world):
    line = world["line"]
    first = line.request_batch("cn-drug-20", DRUG, 500, idempotency_key="order-17")
    for _ in range(3):
        again = line.request_batch("cn-drug-20", DRUG, 500, idempotency_key="order-17")
        assert again == first
    err = refused(Code.ALREADY_EXISTS, line.request_batch, "cn-drug-20", DRUG, 501,
                  idempotency_key="order-17")
    assert "different request" in err.message
    # keys belong to a client: another client's key of the same name is its own
    other = world["other"].request_batch("cn-drug-20", OTHER_DRUG, 500, idempotency_key="order-17")
    assert other.id != first.id
    issued = [r for r in read_audit(world["data"] / "audit.log")
              if r["event"] == "issue" and r["idempotency_key"] == "order-17"]
    assert [(r["client"], r["replayed"]) for r in issued] == [
        ("line-3", False), ("line-3", True), ("line-3", True), ("line-3", True), ("line-9", False)]


def test_lifecycle_over_the_service(world):
    line, scanner, regulator = world["line"], world["scanner"], world["regulator"]
    dl = line.request_codes("cn-drug-20", DRUG, 100, lot="LX", expiry="20301231")
    codes = [c.decode() for c in dl.all()]
    bid = dl.batch.id
    assert scanner.verify(codes[0]).verdict == Verdict.NOT_COMMISSIONED
    assert line.report_commissioned("c-1", batch_id=bid, ranges=[(0, 90)], place="plant")["ok"]
    assert line.report_spoiled("s-1", batch_id=bid, ranges=[(90, 10)], reason="misprint")["ok"]
    sscc = "(00)106141411234567897"
    results = line.send_events([
        {"id": "p-1", "action": "pack", "codes": codes[:24], "parent": sscc},
        {"id": "sh-1", "action": "ship", "codes": [sscc], "place": "Shanghai"},
        {"id": "rc-1", "action": "receive", "codes": codes[:24], "place": "Hangzhou"},
        {"id": "se-1", "action": "sell", "codes": [codes[0]], "place": "pharmacy"},
        {"id": "se-2", "action": "sell", "codes": [codes[0]], "place": "pharmacy"},
    ])
    assert [r["ok"] for r in results] == [True, True, True, True, False]
    assert "cannot sell" in results[4]["error"]
    a = scanner.verify(codes[1], place="Hangzhou", scanner="till-2")
    assert (a.verdict, a.status, a.batch, a.lot, a.product) == (Verdict.GENUINE, "received", bid,
                                                                "LX", DRUG)
    assert scanner.verify(codes[0]).verdict == Verdict.ALREADY_SOLD
    assert scanner.verify(codes[95]).verdict == Verdict.UNKNOWN  # spoiled: decommissioned
    # the regulator recalls the lot; every code of it answers RECALLED, even the packed ones
    ack = regulator.send_events([{"id": "recall-LX", "action": "recall", "scheme": "cn-drug-20",
                                  "product": DRUG, "lot": "LX", "reason": "contamination"}])
    assert ack[0]["ok"], ack
    verdicts = scanner.verify_many(codes[1:90])
    assert set(verdicts.verdicts.tolist()) == {Verdict.RECALLED}
    assert verdicts.batches[bid].lot == "LX"
    def scans_of(code):
        return [h for h in regulator.history(code) if h["kind"] == "scan"]
    wait_until(lambda: len(scans_of(codes[1])) == 2, what="the scans' group commit")
    history = regulator.history(codes[1])
    assert [(h["action"], h["via"]) for h in history if h["kind"] == "event"] == [
        ("commission", None), ("pack", None), ("ship", sscc),
        ("receive", None)]
    scans = [(h["scanner"], h["place"]) for h in history if h["kind"] == "scan"]
    assert scans == [("pda-7/till-2", "Hangzhou"), ("pda-7", None)]  # named by the server
    with tracecode.open(world["data"]) as d:  # the same history the engine gives
        assert d.history(codes[1]) == history
    audit = read_audit(world["data"] / "audit.log")
    assert any(r["event"] == "recall" and r["client"] == "nmpa" and r["lot"] == "LX" for r in audit)


def test_answers_never_make_a_reply_too_large_to_send(world):
    """100,000 scans with answers made a 39 MB reply (each Answer echoes the first scan's
    place): the server could not send it, after recording the scans. Now a batch asking for
    answers holds at most max_verify_answers_per_batch scans, refused before any work, and
    the client sends smaller batches when it asks for answers."""
    from tracecode.v1 import limits
    line, scanner, regulator = world["line"], world["scanner"], world["regulator"]
    dl = line.request_codes("cn-drug-20", DRUG, 20_000)
    codes = dl.all()
    line.report_commissioned("c-answers", batch_id=dl.batch.id, ranges=[(0, 20_000)])
    place = "P" * 250
    scanner.verify_many(codes, place=place)
    assert scanner.whoami().limits.max_verify_answers_per_batch == limits.MAX_VERIFY_ANSWERS
    n = limits.MAX_VERIFY_ANSWERS + 1
    with world["server"].channel() as ch:
        raw = verification_pb2_grpc.VerificationStub(ch).VerifyStream(iter([vpb.VerifyBatchRequest(
            sequence=1, data=codes[:n].tobytes(), lengths=np.full(n, 20, "<u4").tobytes(),
            answers=True)]), metadata=(("authorization", f"Bearer {world['tokens']['scanner']}"),))
        with pytest.raises(grpc.RpcError) as info:
            list(raw)
    assert info.value.code() == Code.INVALID_ARGUMENT and "with answers" in info.value.details()
    res = scanner.verify_many(codes, place=place, answers=True, batch_size=100_000)
    assert len(res.answers) == 20_000 and res[-1].first_scan_place == place
    # the refused batch recorded nothing: two recorded calls, two scans of the last code
    wait_until(lambda: sum(h["kind"] == "scan" for h in regulator.history(codes[0].decode())) == 2,
               what="the scans' group commit")
    assert sum(h["kind"] == "scan" for h in regulator.history(codes[0].decode())) == 2


def test_verify_many_packed_answers_and_offsets(world):
    line, scanner = world["line"], world["scanner"]
    dl = line.request_codes("cn-drug-20", DRUG, 3000)
    codes = dl.all()
    line.report_commissioned("c-many", batch_id=dl.batch.id, ranges=[(0, 1500)])
    scans = [c.decode() for c in codes[:20]] + ["nonsense", "8177322" + "0" * 13, ""]
    res = scanner.verify_many(scans, answers=True, place="Wuhan")
    assert [a.verdict for a in res][:20] == [Verdict.GENUINE] * 20
    assert res[20].verdict == Verdict.UNKNOWN and res[20].reasons[0].startswith("unreadable")
    assert res.records["fault"][20] != 0 and res.records["fault"][:20].tolist() == [0] * 20
    # an S array, and a packed buffer with offsets, in batches of 700 scans; scan counts
    # include committed scans, and the scan log commits every 5 ms (in order: when the last
    # scan of a call is in, all are)
    regulator = world["regulator"]

    def scanned(code, n):
        return sum(h["kind"] == "scan" for h in regulator.history(code.decode())) >= n
    wait_until(lambda: scanned(codes[19], 1), what="the scans' group commit")
    many = scanner.verify_many(codes, batch_size=700)
    assert (many.verdicts[:1500] == Verdict.GENUINE).all()
    assert (many.verdicts[1500:] == Verdict.NOT_COMMISSIONED).all()
    assert (many.records["scan_count"][:20] == 2).all() and (many.records["batch"] == dl.batch.id).all()
    packed = codes.tobytes()
    offsets = np.arange(0, len(packed) + 1, 20, dtype=np.int64)
    wait_until(lambda: scanned(codes[-1], 1), what="the scans' group commit")
    again = scanner.verify_many(packed, offsets)
    assert (again.verdicts == many.verdicts).all()
    assert (again.records["scan_count"] == many.records["scan_count"] + 1).all()
    with pytest.raises(TypeError):
        list(again)  # no answers asked for


def test_errors_carry_status_codes_and_details(world):
    admin, line, scanner = world["admin"], world["line"], world["scanner"]
    err = refused(Code.INVALID_ARGUMENT, scanner.verify, "81773220000000000000")
    assert err.reason == "SCAN_CHECK_MISMATCH" and err.violations[0][0] == "scan"
    assert err.metadata["scheme"] == "cn-drug-20" and err.metadata["scan_field"] == "check"
    assert refused(Code.INVALID_ARGUMENT, scanner.verify, "").metadata["fault"] == "EMPTY"
    err = refused(Code.NOT_FOUND, line.request_batch, "cn-nothing-9", DRUG, 10)
    assert err.metadata["resource"] == "scheme"
    err = refused(Code.INVALID_ARGUMENT, line.request_batch, "cn-drug-20", {"drug_id": "81773"}, 10)
    assert err.violations[0][0] == "product.fields.drug_id"
    err = refused(Code.INVALID_ARGUMENT, line.request_batch, "cn-drug-20", DRUG, 10, expiry="2030")
    assert err.violations[0][0] == "expiry"
    assert refused(Code.INVALID_ARGUMENT, line.request_batch, "cn-drug-20", DRUG, 0).violations[0][0] \
        == "count"
    assert refused(Code.NOT_FOUND, lambda: line.download(999_999).all()).metadata["resource"] == "batch"
    b = line.request_batch("cn-drug-20", DRUG, 10)
    refused(Code.INVALID_ARGUMENT, lambda: line.download(b.id, offset=5, count=6).all())
    line.report_commissioned("e-twice", batch_id=b.id, ranges=[(0, 5)])
    err = refused(Code.FAILED_PRECONDITION, line.report_commissioned, "e-again", batch_id=b.id,
                  ranges=[(0, 1)])
    assert "it is commissioned" in err.message and err.violations[0][0] == "e-again"
    refused(Code.ALREADY_EXISTS, line.report_commissioned, "e-twice", batch_id=b.id, ranges=[(5, 1)])
    # the guessing bound: a veterinary product has 999,999 codes; the 1,000,000th is refused
    vet = {"date": "20260101", "enterprise": "00002"}
    admin.request_batch("cn-vet-24", vet, 999_999)
    err = refused(Code.RESOURCE_EXHAUSTED, admin.request_batch, "cn-vet-24", vet, 1)
    assert err.reason == "CAPACITY_EXCEEDED" and err.metadata["remaining"] == "0"
    # malformed stream messages: INVALID_ARGUMENT naming the field
    with world["server"].channel() as ch:
        stub = verification_pb2_grpc.VerificationStub(ch)
        md = (("authorization", "Bearer " + world["tokens"]["scanner"]),)
        for req, field in [(vpb.VerifyBatchRequest(data=b"abc", lengths=b"\x04\x00\x00\x00"), "data"),
                           (vpb.VerifyBatchRequest(data=b"abc", lengths=b"\x03\x00"), "lengths"),
                           (vpb.VerifyBatchRequest(), "lengths")]:
            with pytest.raises(grpc.RpcError) as info:
                list(stub.VerifyStream(iter([req]), metadata=md))
            assert ServiceError.from_rpc_error(info.value).violations[0][0] == field
    # events: each rejection has its own status code
    with tracecode.open(world["data"]) as d:
        never = d.issuer("cn-drug-20", DRUG).codes(90_000_000, 1)[0].decode()
    fresh = line.download(b.id, offset=9).all()[0].decode()
    results = line.send_events([{"id": "", "action": "ship", "codes": [fresh]},
                                {"id": "u-1", "action": "ship", "codes": [never]},
                                {"id": "e-twice", "action": "decommission", "codes": [fresh]},
                                {"id": "u-2", "action": "ship", "codes": [fresh]},
                                {"id": "u-3", "action": "decommission", "codes": [fresh]}])
    assert [r.get("status") for r in results] == ["INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS",
                                                  "FAILED_PRECONDITION", None]
    results = line.send_events([{"id": "a-1", "action": "commission", "codes": [never]},
                                {"id": "a-2", "action": "destroy", "codes": [fresh]}], atomic=True)
    assert [r.get("status") for r in results] == ["NOT_FOUND", "ABORTED"]


def test_access_control_and_audit(world):
    line, other, scanner, regulator = world["line"], world["other"], world["scanner"], world["regulator"]
    b = line.request_batch("cn-drug-20", DRUG, 10)
    code = line.download(b.id, count=1).all()[0].decode()
    refused(Code.PERMISSION_DENIED, scanner.request_batch, "cn-drug-20", DRUG, 10)
    refused(Code.PERMISSION_DENIED, other.request_batch, "cn-drug-20", DRUG, 10)
    refused(Code.PERMISSION_DENIED, lambda: other.download(b.id).all())
    refused(Code.PERMISSION_DENIED, lambda: regulator.download(b.id).all())  # codes are secrets
    refused(Code.PERMISSION_DENIED, other.send_events, [{"id": "x-1", "action": "commission",
                                                         "codes": [code]}])
    refused(Code.PERMISSION_DENIED, regulator.send_events, [{"id": "x-2", "action": "commission",
                                                             "codes": [code]}])
    refused(Code.PERMISSION_DENIED, scanner.send_events, [{"id": "x-3", "action": "recall",
                                                           "codes": [code]}])
    refused(Code.PERMISSION_DENIED, scanner.verify, code, record=False)
    refused(Code.PERMISSION_DENIED, scanner.history, code)
    refused(Code.PERMISSION_DENIED, other.history, code)
    refused(Code.PERMISSION_DENIED, line.stats)
    assert regulator.verify(code, record=False).verdict == Verdict.NOT_COMMISSIONED
    assert regulator.stats().codes_issued >= 10
    assert {x.id for x in other.batches()}.isdisjoint({x.id for x in line.batches()})
    assert b.id in {x.id for x in regulator.batches()}
    who = line.whoami()
    assert (who.name, list(who.roles), who.authenticated_by) == ("line-3", ["issuer"], "token")
    assert who.limits.max_scans_per_batch == 100_000
    with Client(world["server"].address, token="tc_forged", retry_timeout=1) as forged:
        assert refused(Code.UNAUTHENTICATED, forged.whoami).reason == "UNAUTHENTICATED"
    with Client(world["server"].address, retry_timeout=1) as anonymous:
        refused(Code.UNAUTHENTICATED, anonymous.verify, code)
    audit = read_audit(world["data"] / "audit.log")
    denied = [(r["client"], r["method"]) for r in audit if r["event"] == "denied"]
    for entry in [("pda-7", "RequestBatch"), ("line-9", "RequestBatch"), ("line-9", "DownloadCodes"),
                  ("nmpa", "DownloadCodes"), ("line-9", "SendEvents"), ("nmpa", "SendEvents"),
                  ("pda-7", "SendEvents"), ("pda-7", "Verify"), ("pda-7", "History"),
                  ("line-9", "History"), ("line-3", "Stats")]:
        assert entry in denied
    assert sum(r["event"] == "unauthenticated" for r in audit) >= 2
    assert all(r["peer"] for r in audit)


def test_token_revocation_takes_effect_without_restart(world):
    clients = ClientsFile.load(world["clients_file"])
    token = clients.add("temp-scanner", ["scanner"])
    with Client(world["server"].address, token=token, retry_timeout=1) as c:
        deadline = time.monotonic() + 5
        while True:  # the server re-reads the file within a second
            try:
                assert c.whoami().name == "temp-scanner"
                break
            except ServiceError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        ClientsFile.load(world["clients_file"]).revoke("temp-scanner")
        deadline = time.monotonic() + 5
        while True:
            try:
                c.whoami()
                assert time.monotonic() < deadline
                time.sleep(0.2)
            except ServiceError as exc:
                assert exc.code == Code.UNAUTHENTICATED
                break
    text = world["clients_file"].read_text()
    assert token not in text and "token_sha256" in text


def test_health_and_reflection(world):
    with world["server"].channel() as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for name in ("", "tracecode.v1.Issuance", "tracecode.v1.Verification",
                     "tracecode.v1.Lifecycle", "tracecode.v1.Admin"):
            assert health.Check(health_pb2.HealthCheckRequest(service=name)).status == \
                health_pb2.HealthCheckResponse.SERVING
        for service in ("grpc.reflection.v1.ServerReflection",
                        "grpc.reflection.v1alpha.ServerReflection"):
            # v1 is what current grpcurl tries first; both names speak the same messages
            call = ch.stream_stream(f"/{service}/ServerReflectionInfo",
                                    request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                    response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
            reply = next(call(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
            names = {s.name for s in reply.list_services_response.service}
            assert {"tracecode.v1.Issuance", "tracecode.v1.Verification", "tracecode.v1.Lifecycle",
                    "tracecode.v1.Admin", "grpc.health.v1.Health",
                    "grpc.reflection.v1.ServerReflection",
                    "grpc.reflection.v1alpha.ServerReflection"} <= names, service
            for symbol in ("tracecode.v1.Issuance", service):
                reply = next(call(iter([reflection_pb2.ServerReflectionRequest(
                    file_containing_symbol=symbol)])))
                files = reply.file_descriptor_response.file_descriptor_proto
                assert files, (service, symbol, reply.error_response)
                pool = descriptor_pool.DescriptorPool()  # what a tool rebuilds: it must resolve
                todo = [descriptor_pb2.FileDescriptorProto.FromString(raw) for raw in files]
                while todo:  # dependencies first
                    ready = [f for f in todo if all(_in_pool(pool, d) for d in f.dependency)]
                    assert ready, [f.name for f in todo]
                    for f in ready:
                        pool.Add(f)
                        todo.remove(f)
                assert pool.FindServiceByName(symbol).full_name == symbol


def _in_pool(pool, name) -> bool:
    try:
        return bool(pool.FindFileByName(name))
    except KeyError:
        return False


def test_schemes_and_stats(world):
    schemes = {s.name: s for s in world["scanner"].schemes()}
    assert schemes["cn-drug-20"].capacity == 99_999_999
    assert [f.role for f in schemes["gs1-sgtin"].fields] == ["product", "serial", "attribute",
                                                            "attribute"]
    stats = world["admin"].stats()
    by_scheme = {s.scheme: s for s in stats.schemes}
    assert by_scheme["cn-drug-20"].products >= 2 and stats.events > 0 and stats.scans > 0
    assert stats.index_bytes > 0 and stats.map_bytes >= stats.index_bytes
    assert stats.server_version == tracecode.__version__


def test_an_issuer_cannot_reach_others_goods_through_an_sscc(world):
    line, other, scanner = world["line"], world["other"], world["scanner"]
    theirs = [c.decode() for c in other.request_codes("cn-drug-20", OTHER_DRUG, 30).all()]
    sscc = "(00)106141411234567880"
    assert all(r["ok"] for r in other.send_events([
        {"id": "o-c", "action": "commission", "codes": theirs},
        {"id": "o-p", "action": "pack", "codes": theirs[:20], "parent": sscc}]))
    for action in ("recall", "destroy", "ship"):
        refused(Code.PERMISSION_DENIED, line.send_events, [{"id": f"x-{action}", "action": action,
                                                            "codes": [sscc]}])
    refused(Code.PERMISSION_DENIED, line.report_spoiled, "x-spoil", codes=[sscc])
    refused(Code.PERMISSION_DENIED, line.history, sscc)
    mine = [c.decode() for c in line.request_codes("cn-drug-20", DRUG, 5).all()]
    assert all(r["ok"] for r in line.send_events([{"id": "m-c", "action": "commission", "codes": mine}]))
    refused(Code.PERMISSION_DENIED, line.send_events, [{"id": "x-into", "action": "pack",
                                                        "codes": mine, "parent": sscc}])
    assert scanner.verify(theirs[0]).verdict == Verdict.GENUINE  # nothing happened to them
    # an empty SSCC is anybody's; once it holds line-3's codes it is line-3's
    own = "(00)106141411234567873"
    assert all(r["ok"] for r in line.send_events([{"id": "m-p", "action": "pack", "codes": mine,
                                                   "parent": own}]))
    assert line.history(own)
    refused(Code.PERMISSION_DENIED, other.send_events, [{"id": "o-x", "action": "ship", "codes": [own]}])


def test_huge_reports_are_refused_before_any_code_is_built(world):
    line = world["line"]
    batch = line.request_batch("cn-drug-20", DRUG, 10)
    started = time.monotonic()
    err = refused(Code.INVALID_ARGUMENT, line.report_commissioned, "huge", batch_id=batch.id,
                  ranges=[(0, 10)] * 200_000)
    assert "at most" in err.message and time.monotonic() - started < 5


def test_scanners_see_only_what_a_label_shows_of_a_batch(world):
    line, scanner = world["line"], world["scanner"]
    dl = line.request_codes("cn-drug-20", DRUG, 10, lot="LB", line="secret-line-7")
    codes = [c.decode() for c in dl.all()]
    seen = scanner.verify_many(codes).batches[dl.batch.id]
    assert (seen.lot, seen.line, seen.requester, seen.count, seen.start) == ("LB", None, None, 0, 0)
    assert line.verify_many(codes).batches[dl.batch.id].line == "secret-line-7"


def wait_for(fn, timeout=10.0):
    """fn() once it is truthy, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
    return value


def sscc_with(digits17: str) -> str:
    return "(00)" + digits17 + tracecode.checks.GS1.calc(digits17)


def test_free_text_fields_are_bounded_over_the_service(world):
    """Issue 11: a place over 65,535 bytes wedged the worker's scan log; every stored text
    field is bounded by the engine and refused with INVALID_ARGUMENT naming the field."""
    line, scanner = world["line"], world["scanner"]
    codes = [c.decode() for c in line.request_codes("cn-drug-20", DRUG, 5).all()]
    assert all(r["ok"] for r in line.send_events([{"id": "b-c", "action": "commission", "codes": codes}]))
    for kw, field in [({"place": "x" * 70_000}, "place"), ({"scanner": "s" * 129}, "scanner"),
                      ({"place": "Hang\nzhou"}, "place")]:
        err = refused(Code.INVALID_ARGUMENT, scanner.verify, codes[0], **kw)
        assert err.violations[0][0] == field and len(err.message) < 300, err
        err = refused(Code.INVALID_ARGUMENT, lambda kw=kw: scanner.verify_many(codes, **kw).verdicts)
        assert err.violations[0][0] == field
    # the worker's scan log still commits: a good scan shows up in the code's history
    scanner.verify(codes[0], place="Hangzhou")
    wait_for(lambda: [h for h in line.history(codes[0]) if h["kind"] == "scan"])
    for lot in ("L" * 1_000_000, "A\nB", "A\x00", "L" * 21):
        err = refused(Code.INVALID_ARGUMENT, line.request_batch, "cn-drug-20", DRUG, 10, lot=lot)
        assert err.violations[0][0] == "lot" and len(err.message) < 300
    err = refused(Code.INVALID_ARGUMENT, line.request_batch, "gs1-sgtin", GTIN, 10, lot="批号")
    assert err.violations[0][0] == "lot"
    err = refused(Code.INVALID_ARGUMENT, line.request_batch, "cn-drug-20", DRUG, 10, line="l" * 200)
    assert err.violations[0][0] == "line"
    results = line.send_events([
        {"id": "b-p", "action": "ship", "codes": codes[:1], "place": "p" * 70_000},
        {"id": "b-r", "action": "ship", "codes": codes[1:2], "reason": "r" * 513},
        {"id": "b-t", "action": "ship", "codes": codes[2:3], "time": float("nan")},
        {"id": "b-ok", "action": "ship", "codes": codes[3:4], "place": "杭州"}])
    assert [r.get("status") for r in results] == ["INVALID_ARGUMENT"] * 3 + [None]
    assert "place" in results[0]["error"] and "reason" in results[1]["error"]
    assert "time" in results[2]["error"]
    assert [h["action"] for h in line.history(codes[3]) if h["kind"] == "event"] == ["commission", "ship"]
    limits = line.whoami().field_limits
    assert (limits.place_bytes, limits.scanner_id_bytes, limits.event_id_chars, limits.lot_chars,
            limits.reason_bytes) == (256, 128, 128, 20, 512)
    assert limits.earliest_time == tracecode.limits.EARLIEST_TIME


def test_event_ids_are_per_client_and_a_refused_resend_is_not_success(world):
    line, other = world["line"], world["other"]
    mine = [c.decode() for c in line.request_codes("cn-drug-20", DRUG, 4).all()]
    theirs = [c.decode() for c in other.request_codes("cn-drug-20", OTHER_DRUG, 4).all()]
    first = line.send_events([{"id": "shared-1", "action": "commission", "codes": mine}])[0]
    # another client's same id is its own event: no squatting of ids
    assert other.send_events([{"id": "shared-1", "action": "commission", "codes": theirs}])[0]["ok"]
    # the same event again (its acknowledgement lost): acknowledged with the first seq
    again = line.send_events([{"id": "shared-1", "action": "commission", "codes": mine}])[0]
    assert first["ok"] and again == first
    # a different event under a used id: refused, and reported as refused
    r = line.send_events([{"id": "shared-1", "action": "ship", "codes": mine}])[0]
    assert not r["ok"] and r["status"] == "ALREADY_EXISTS"
    assert [h["action"] for h in line.history(mine[0])] == ["commission"]   # once, not shipped
    # a code report resent (its answer lost) is acknowledged with its seq, not ALREADY_EXISTS
    batch = line.request_batch("cn-drug-20", DRUG, 3)
    once = line.report_commissioned("r-1", batch_id=batch.id, ranges=[(0, 2)])
    assert line.report_commissioned("r-1", batch_id=batch.id, ranges=[(0, 2)]) == once
    refused(Code.ALREADY_EXISTS, line.report_commissioned, "r-1", batch_id=batch.id, ranges=[(2, 1)])


def test_an_sscc_is_bound_to_its_company_prefix_or_its_first_user(world):
    line, other = world["line"], world["other"]
    mine = [c.decode() for c in line.request_codes("cn-drug-20", DRUG, 4).all()]
    theirs = [c.decode() for c in other.request_codes("cn-drug-20", OTHER_DRUG, 4).all()]
    assert all(r["ok"] for r in line.send_events([{"id": "s-c", "action": "commission", "codes": mine}]))
    assert all(r["ok"] for r in other.send_events([{"id": "s-c9", "action": "commission",
                                                    "codes": theirs}]))
    # line-3's GS1 company prefix (gs1-sgtin:gtin=0952123*): only line-3 packs into its SSCCs
    prefixed = sscc_with("0952123" + "0000000001")
    err = refused(Code.PERMISSION_DENIED, other.send_events, [
        {"id": "s-squat", "action": "pack", "codes": theirs[:1], "parent": prefixed}])
    assert "line-3" in err.message
    assert line.send_events([{"id": "s-p", "action": "pack", "codes": mine[:2],
                              "parent": prefixed}])[0]["ok"]
    # an SSCC of no client's prefix: bound to the first client that packs into it, for good
    free = sscc_with("3061414" + "1000000001")
    assert all(r["ok"] for r in other.send_events([
        {"id": "s-p1", "action": "pack", "codes": theirs[:2], "parent": free},
        {"id": "s-u1", "action": "unpack", "codes": theirs[:2], "parent": free}]))
    err = refused(Code.PERMISSION_DENIED, line.send_events, [
        {"id": "s-p2", "action": "pack", "codes": mine[2:], "parent": free}])
    assert "line-9" in err.message
    assert other.send_events([{"id": "s-p3", "action": "pack", "codes": theirs[2:],
                               "parent": free}])[0]["ok"]


def test_event_times_with_offsets_over_the_service(world):
    line = world["line"]
    codes = [c.decode() for c in line.request_codes("cn-drug-20", DRUG, 3).all()]
    results = line.send_events([
        {"id": "t-c", "action": "commission", "codes": codes, "time": "2026-11-30T09:15:00+08:00"},
        {"id": "t-s", "action": "ship", "codes": codes, "time": "yesterday"},
        {"id": "t-s2", "action": "ship", "codes": codes, "time": 1e20}])
    assert results[0]["ok"] and [r.get("status") for r in results[1:]] == ["INVALID_ARGUMENT"] * 2
    (event,) = line.history(codes[0])
    assert (event["time"], event["time_offset"]) == (1796001300.0, "+08:00")


def test_refusals_echo_at_most_a_bounded_part_of_what_was_sent(world):
    """Review 11 #4: a long code, parent, field name, scheme, attribute key, approval or
    report code reached the client as RESOURCE_EXHAUSTED 'metadata size exceeds ...'."""
    line = world["line"]
    b = line.request_batch("cn-drug-20", DRUG, 2)
    code = line.download(b.id).all()[0].decode()
    good = {"id": "echo-g", "action": "ship", "codes": [code]}
    cases = [
        (Code.PERMISSION_DENIED, line.send_events, [good, {"id": "echo-1", "action": "ship",
                                                           "codes": ["9" * 20000]}]),
        (Code.PERMISSION_DENIED, line.send_events, [good, {"id": "echo-2", "action": "pack",
                                                           "codes": [code], "parent": "9" * 5000}]),
        (Code.INVALID_ARGUMENT, line.request_batch, "cn-drug-20", {"d" * 17000: "8177322"}, 1),
        (Code.NOT_FOUND, line.request_batch, "s" * 17000, DRUG, 1),
        (Code.INVALID_ARGUMENT, lambda: line.request_batch("cn-drug-20", DRUG, 1,
                                                           attributes={"k" * 17000: "v"})),
        (Code.INVALID_ARGUMENT, line.lookup_approval, "兽" * 6000),
        (Code.PERMISSION_DENIED, lambda: line.report_commissioned("echo-3", codes=["9" * 17000])),
    ]
    for code_, fn, *args in cases:
        err = refused(code_, fn, *args)
        assert "characters)" in err.message and len(err.message.encode()) <= 1100, err.message
        assert all(len(v) < 200 for v in err.metadata.values()), err.metadata


def test_a_clients_refusals_are_rate_limited_and_bounded_in_the_audit_log(world):
    """Review 11 #5: five refused ship calls with 8 MiB codes grew audit.log by 40 MiB."""
    scanner = world["scanner"]
    before = (world["data"] / "audit.log").stat().st_size
    for i in range(5):
        refused(Code.PERMISSION_DENIED, scanner.send_events,
                [{"id": f"amp-{i}", "action": "ship", "codes": ["8" * (4 << 20)]}])
    assert (world["data"] / "audit.log").stat().st_size - before < 20_000


def test_event_times_no_message_can_carry_are_each_events_own_refusal(world):
    """Review 11 #8: 10**400 or [1] as a time failed the client's whole send_events."""
    line = world["line"]
    codes = [c.decode() for c in line.request_codes("cn-drug-20", DRUG, 3).all()]
    results = line.send_events([
        {"id": "tt-g", "action": "commission", "codes": codes[:1]},
        {"id": "tt-big", "action": "commission", "codes": codes[1:2], "time": 10**400},
        {"id": "tt-list", "action": "commission", "codes": codes[1:2], "time": [1]},
        {"id": "tt-batch", "action": "commission", "batch": "no number"},
        {"id": "tt-g2", "action": "commission", "codes": codes[2:]}])
    assert [r["ok"] for r in results] == [True, False, False, False, True], results
    assert [r["id"] for r in results] == ["tt-g", "tt-big", "tt-list", "tt-batch", "tt-g2"]
    assert {r["status"] for r in results[1:4]} == {"INVALID_ARGUMENT"}
    results = line.send_events([{"id": "tt-a", "action": "ship", "codes": codes[:1]},
                                {"id": "tt-b", "action": "ship", "batch": "x"}], atomic=True)
    assert [r["status"] for r in results] == ["ABORTED", "INVALID_ARGUMENT"]


def test_streams_on_an_open_server_are_capped_per_connection():
    """Review 11 #6: on a server without a clients file every caller is LOCAL, and one
    caller holding 8 streams refused every other machine's."""
    from types import SimpleNamespace

    from tracecode.app import LOCAL
    from tracecode.v1.servicers import stream_owner
    open_svc = SimpleNamespace(clients=SimpleNamespace(open=True))
    closed = SimpleNamespace(clients=SimpleNamespace(open=False))
    def at(peer):
        return SimpleNamespace(peer=lambda: peer)
    assert stream_owner(open_svc, LOCAL, at("ipv4:127.0.0.1:1")) != \
        stream_owner(open_svc, LOCAL, at("ipv4:127.0.0.1:2"))
    assert stream_owner(closed, LOCAL, at("ipv4:127.0.0.1:1")) == \
        stream_owner(closed, LOCAL, at("ipv4:127.0.0.1:2")) == LOCAL.name


def test_the_services_verbs_refuse_values_of_the_wrong_type_by_field(tmp_path):
    """Review 11 #11, through tracecode.app: verify(None) is the scan's EMPTY, not a
    TypeError; a count that is no whole number and attributes that are no mapping are
    invalid_argument naming the field, before anything is reserved."""
    from tracecode.app import Refusal
    from tracecode.app.local import LocalClient
    from tracecode.datadir import DataDir
    tracecode.init(tmp_path / "d").close()
    c = LocalClient(DataDir(tmp_path / "d"))
    with pytest.raises(Refusal) as info:
        c.verify(None, record=False)
    assert (info.value.reason, info.value.facts.get("fault")) == ("unreadable_scan", "EMPTY")
    for kw, field in [({"count": True}, "count"), ({"count": 1.5}, "count"),
                      ({"count": 1, "attributes": ["x"]}, "attributes")]:
        with pytest.raises(Refusal) as info:
            c.issue("cn-drug-20", DRUG, **kw)
        assert (info.value.reason, info.value.field) == ("invalid_argument", field)
    assert c.batches() == []


def test_a_recalls_intent_audits_at_most_a_bounded_reason(world):
    """Like review 11 #5: a recall's intent is audited before the engine bounds its text,
    so a megabyte reason was fsynced into the audit log whole."""
    line, regulator = world["line"], world["regulator"]
    code = line.request_codes("cn-drug-20", DRUG, 1).all()[0].decode()
    before = (world["data"] / "audit.log").stat().st_size
    (r,) = regulator.send_events([{"id": "big-recall", "action": "recall", "codes": [code],
                                   "reason": "r" * (1 << 20)}])
    assert not r["ok"] and r["status"] == "INVALID_ARGUMENT", r
    assert (world["data"] / "audit.log").stat().st_size - before < 5_000


def test_a_refusal_bounds_what_it_echoes_at_the_source():
    """Review 11 #4, without a server: the sentence, the field and the facts of a Refusal."""
    from tracecode.app import Refusal
    from tracecode.app.refusal import DETAIL_BYTES, FACT_CHARS, QUOTE_CHARS
    r = Refusal("permission_denied", "f" * 1000, f"a may not ship {'9' * 20000}: not its product",
                code="9" * 20000, remaining=5)
    assert r.detail == f"a may not ship {'9' * QUOTE_CHARS}…(20,000 characters): not its product"
    assert r.field.endswith("…(1,000 characters)") and len(r.field) < 160
    assert r.facts["code"] == "9" * FACT_CHARS + "…(20,000 characters)" and r.facts["remaining"] == "5"
    spaced = Refusal("invalid_argument", "number", " ".join(["兽"] * 6000))
    assert len(spaced.detail.encode()) <= DETAIL_BYTES and spaced.detail.endswith("characters in all)")
    assert Refusal("invalid_argument", "lot", "lot is 21 characters; at most 20").detail == \
        "lot is 21 characters; at most 20"   # short sentences are untouched


def test_the_client_sends_a_scan_that_is_no_text_as_that_scans_fault(world):
    """Like review 11 #11, in the client: verify(None) and verify_many([None, code]) raised
    TypeError before anything was sent (and bytes(5) sent five NULs)."""
    code = world["line"].request_codes("cn-drug-20", DRUG, 1).all()[0].decode()
    regulator = world["regulator"]
    assert refused(Code.INVALID_ARGUMENT, regulator.verify, None, record=False).reason == "SCAN_EMPTY"
    v = regulator.verify_many([None, code, 5], record=False, answers=True)
    assert [a.verdict for a in v] == [Verdict.UNKNOWN, Verdict.NOT_COMMISSIONED, Verdict.UNKNOWN]
    assert v[0].reasons == v[2].reasons == ["unreadable: EMPTY"], v[0]
