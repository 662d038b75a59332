"""The audit log: whole lines or none, a reader that survives torn and garbled lines,
issuance and recalls audited before they happen, unauthenticated calls rate-limited,
and a full disk under a real server (tracecode serve on loopback)."""
from __future__ import annotations

import json
import os
import subprocess
import time

import grpc
import pytest

import tracecode
from tracecode.v1 import Client, ServiceError
from tracecode.app.audit import AuditError, AuditLog, read
from tracecode.app.auditchain import load_keys, seal
from tracecode.app.clients import ClientsFile
from tracecode.v1.testing import ServerProcess

from test_full_disk import Filler, small_disk, use_up_free_pages, wait_for

DRUG = {"drug_id": "8177322"}
Code = grpc.StatusCode


def test_the_reader_skips_torn_and_garbled_lines_and_says_where(tmp_path):
    path = tmp_path / "audit.log"
    good = [{"time": 1.5 + i, "event": "issue", "client": "c", "method": "RequestBatch",
             "peer": "", "note": 'has {"time": inside'} for i in range(4)]
    lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in good]
    path.write_bytes((lines[0] + "\n"                      # whole
                      + lines[1][:30] + lines[2] + "\n"    # a torn record, another glued to it
                      + "\x00\x00garbage\n"                # garbage
                      + lines[3] + "\n"
                      + '{"time":9.0,"event":"is').encode())  # a torn tail, no newline
    records = read(path)
    assert records == [good[0], good[2], good[3]]   # only the torn one is lost
    assert [(d.line, d.tail) for d in records.damaged] == [(2, False), (3, False), (5, True)]
    assert records.damaged[0].text == lines[1][:30]


def test_a_write_the_disk_cuts_short_is_an_error_and_the_next_line_is_whole(tmp_path):
    with small_disk(tmp_path / "disk", "1m") as disk:
        log = AuditLog(disk / "audit.log")
        log.write("issue", "c", "RequestBatch", batch=1)
        filler = Filler(disk).fill()
        # the file's last page has room for part of a big record: a short write
        with pytest.raises(AuditError, match=r"took \d+ of a record's \d+ bytes"):
            log.write("issue", "c", "RequestBatch", batch=2, note="x" * 8000)
        with pytest.raises(AuditError, match="took no record"):
            log.write("issue", "c", "RequestBatch", batch=3)
        filler.free()
        log.write("issue", "c", "RequestBatch", batch=4)
        log.close()
        records = read(disk / "audit.log")
        assert [r["batch"] for r in records] == [1, 4]
        assert len(records.damaged) == 1 and not records.damaged[0].tail
        assert os.path.getsize(disk / "audit.log") > 4096   # the torn part is kept, not truncated


def test_a_line_another_process_tore_is_not_glued_to_the_next_record(tmp_path):
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.write("issue", "c", "RequestBatch", batch=1)
    with open(path, "ab") as other:   # another server process, cut short by the disk
        other.write(b'{"time":2.0,"event":"iss')
    log.write("issue", "c", "RequestBatch", batch=3)
    log.close()
    assert path.read_bytes().split(b"\n")[1] == b'{"time":2.0,"event":"iss'
    records = read(path)
    assert [r["batch"] for r in records] == [1, 3]
    assert [(d.line, d.tail) for d in records.damaged] == [(2, False)]


def test_unauthenticated_records_are_rate_limited_with_a_summary(tmp_path):
    log = AuditLog(tmp_path / "audit.log", unauthenticated_burst=5, unauthenticated_rate=0.001)
    written = [log.write_unauthenticated("WhoAmI", "ipv4:127.0.0.1:1", "no credentials")
               for _ in range(50)]
    assert written == [True] * 5 + [False] * 45
    log.write("issue", "c", "RequestBatch")   # others are not limited
    log.close()
    records = read(tmp_path / "audit.log")
    assert [r["event"] for r in records] == ["unauthenticated"] * 5 + ["issue", "suppressed"]
    assert records[-1]["count"] == 45 and "45 refused unauthenticated calls suppressed" in \
        records[-1]["reason"]


@pytest.fixture
def clients(tmp_path):
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    return tmp_path / "clients.toml", {"line": clients.add("line-3", ["issuer"],
                                                           ["cn-drug-20:drug_id=8177322"]),
                                       "admin": clients.add("ops", ["admin"])}


def test_a_flood_of_unauthenticated_calls_writes_a_bounded_log(tmp_path, clients):
    tokens_file, _ = clients
    tracecode.init(tmp_path / "data").close()
    with ServerProcess(tmp_path / "data", "--tokens", tokens_file) as server:
        anonymous = Client(server.address, retry_timeout=5)
        t0 = time.monotonic()
        for _ in range(400):
            with pytest.raises(ServiceError) as info:
                anonymous.whoami(retry=False)
            assert info.value.code == Code.UNAUTHENTICATED
        elapsed = time.monotonic() - t0
        anonymous.close()
    records = read(tmp_path / "data" / "audit.log")   # the server stopped: summary written
    logged = sum(r["event"] == "unauthenticated" for r in records)
    suppressed = sum(r["count"] for r in records if r["event"] == "suppressed")
    assert logged + suppressed == 400
    assert logged <= 100 + 10 * elapsed + 1, (logged, elapsed)
    assert suppressed > 0 and not records.damaged


def test_no_batch_is_issued_when_its_intent_cannot_be_audited(tmp_path, clients):
    tokens_file, tokens = clients
    tracecode.init(tmp_path / "data").close()
    os.symlink("/dev/full", tmp_path / "data" / "audit.log")   # every write: ENOSPC
    with ServerProcess(tmp_path / "data", "--tokens", tokens_file) as server:
        line = Client(server.address, token=tokens["line"], retry_timeout=5)
        with pytest.raises(ServiceError) as info:
            line.request_batch("cn-drug-20", DRUG, 1000, idempotency_key="k-1")
        assert (info.value.code, info.value.reason) == (Code.RESOURCE_EXHAUSTED, "AUDIT_LOG_FULL")
        assert "nothing issued" in info.value.message
        admin = Client(server.address, token=tokens["admin"], retry_timeout=5)
        assert admin.batches() == []
        line.close()
        admin.close()


def _record_length(keys, **fields) -> int:
    """A log's first chained record, after a pre-chain line of 4-digit length (its gap)."""
    record = {"time": round(time.time(), 6), **fields}
    body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()[:-1]
    return len(seal(body, seq=1, prev="", name="sha256", keys=keys, gap=(0, 8000, "0" * 64))) + 1


def test_a_batch_whose_audit_line_is_lost_is_said_so_and_a_retry_audits_it(tmp_path, clients):
    """audit.log on a tmpfs of two pages, filled so that an issuance's intent fits and its
    outcome does not: the reply says the batch is committed and the line not written."""
    tokens_file, tokens = clients
    tracecode.init(tmp_path / "data").close()
    with small_disk(tmp_path / "audit", "8k") as disk:
        os.symlink(disk / "audit.log", tmp_path / "data" / "audit.log")
        intent = _record_length(load_keys(tmp_path / "data"), event="issue_intent", client="line-3",
                                method="RequestBatch",
                                peer="ipv4:127.0.0.1:65535", scheme="cn-drug-20", product=DRUG,
                                count=1000, idempotency_key="k-2")
        pad_to = 8192 - intent - 24   # room for the intent and 24 bytes: not for the outcome
        pad = {"time": 0.0, "event": "padding", "client": None, "method": "-", "peer": "", "x": ""}
        pad["x"] = "x" * (pad_to - len(json.dumps(pad, separators=(",", ":"))) - 1)
        (disk / "audit.log").write_text(json.dumps(pad, separators=(",", ":")) + "\n")
        assert os.path.getsize(disk / "audit.log") == pad_to
        with ServerProcess(tmp_path / "data", "--tokens", tokens_file) as server:
            line = Client(server.address, token=tokens["line"], retry_timeout=5)
            with pytest.raises(ServiceError) as info:
                line.request_batch("cn-drug-20", DRUG, 1000, idempotency_key="k-2")
            err = info.value
            assert (err.code, err.reason) == (Code.RESOURCE_EXHAUSTED, "AUDIT_INCOMPLETE")
            assert f"batch {err.metadata['batch']} committed, audit line not written" in err.message
            subprocess.run(["mount", "-o", "remount,size=1m", str(disk)], check=True)
            again = line.request_batch("cn-drug-20", DRUG, 1000, idempotency_key="k-2")
            assert again.id == int(err.metadata["batch"])
            line.close()
        records = read(disk / "audit.log")
        assert [r["event"] for r in records] == ["padding", "issue_intent", "issue_intent", "issue"]
        assert records[-1]["replayed"] is True and records[-1]["batch"] == again.id
        assert len(records.damaged) == 1   # the outcome line the disk cut short


@pytest.mark.parametrize("leave", [0, 4096], ids=["enospc", "short-write"])
def test_a_full_disk_under_a_server_is_resource_exhausted_and_passes(tmp_path, clients, leave):
    """The data directory on a full tmpfs (the audit log elsewhere): every write path
    answers RESOURCE_EXHAUSTED, nothing half-done, whether LMDB sees ENOSPC or a short
    write (EIO); once space is freed the same server issues, applies and records again."""
    tokens_file, tokens = clients
    with small_disk(tmp_path / "disk", "32m") as disk:
        d = tracecode.init(disk / "data")
        batch = d.issue("cn-drug-20", DRUG, 10_000)
        codes = [c.decode() for c in batch.codes()]
        use_up_free_pages(d)
        d.close()
        os.symlink(tmp_path / "audit.log", disk / "data" / "audit.log")
        with ServerProcess(disk / "data", "--tokens", tokens_file) as server:
            line = Client(server.address, token=tokens["line"], retry_timeout=5)
            line.whoami()  # the server's own start-up writes are done
            filler = Filler(disk).fill(leave=leave)
            with pytest.raises(ServiceError) as info:
                line.request_batch("cn-drug-20", DRUG, 1000, idempotency_key="full-1")
            assert (info.value.code, info.value.reason) == (Code.RESOURCE_EXHAUSTED, "INDEX_FULL")
            assert "disk under the index" in info.value.message
            with pytest.raises(ServiceError) as info:
                line.report_commissioned("c-1", batch_id=batch.id, ranges=[(0, 5000)])
            assert info.value.code == Code.RESOURCE_EXHAUSTED
            with pytest.raises(ServiceError) as info:
                line.send_events([{"id": "c-2", "action": "commission", "codes": codes[:3000]}])
            assert info.value.code == Code.RESOURCE_EXHAUSTED
            # recorded scans: the first batch is queued, then the queue is at its bound
            line.verify_many(codes[:4000])
            with pytest.raises(ServiceError) as info:
                for _ in range(3):
                    line.verify_many(codes[:4000])
            assert (info.value.code, info.value.reason) == (Code.RESOURCE_EXHAUSTED, "INDEX_FULL")
            filler.free()
            again = line.request_batch("cn-drug-20", DRUG, 1000, idempotency_key="full-1")
            assert again.start == 10_000   # no counter was taken by the refused attempt
            assert line.report_commissioned("c-1", batch_id=batch.id, ranges=[(0, 5000)])["ok"]
            assert line.send_events([{"id": "c-2", "action": "commission",
                                      "codes": codes[5000:8000]}])[0]["ok"]
            admin = Client(server.address, token=tokens["admin"], retry_timeout=5)
            wait_for(lambda: admin.verify(codes[0], record=False).scan_count >= 2,
                     "the queued scans to be committed")
            line.close()
            admin.close()
        audit = read(tmp_path / "audit.log")
        issued = [r for r in audit if r["event"] == "issue"]
        assert [(r["batch"], r["replayed"]) for r in issued] == [(again.id, False)]
        assert [r["event"] for r in audit if r.get("idempotency_key") == "full-1"] == [
            "issue_intent", "issue_refused", "issue_intent", "issue"]


def test_stopping_on_a_full_disk_says_so_and_still_closes_the_audit_log(tmp_path, clients):
    """SIGTERM while recorded scans cannot be committed: the server exits non-zero naming
    the full disk, and the audit log still gets its last record (the suppressed count)."""
    tokens_file, tokens = clients
    with small_disk(tmp_path / "disk", "16m") as disk:
        d = tracecode.init(disk / "data")
        codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 2000).codes()]
        use_up_free_pages(d)
        d.close()
        os.symlink(tmp_path / "audit.log", disk / "data" / "audit.log")
        server = ServerProcess(disk / "data", "--tokens", tokens_file).start()
        try:
            line = Client(server.address, token=tokens["line"], retry_timeout=5)
            line.whoami()
            filler = Filler(disk).fill()
            line.verify_many(codes)   # queued; its commit fails
            anonymous = Client(server.address, retry_timeout=5)
            for _ in range(300):
                with pytest.raises(ServiceError):
                    anonymous.whoami(retry=False)
            line.close()
            anonymous.close()
            assert server.stop() != 0
            assert "disk under the index" in server.output()
        finally:
            server.kill()
            filler.free()
        audit = read(tmp_path / "audit.log")
        assert sum(r["event"] == "unauthenticated" for r in audit) + \
            sum(r["count"] for r in audit if r["event"] == "suppressed") == 300
        assert audit[-1]["event"] == "suppressed"


def test_refusals_of_a_known_client_are_rate_limited_per_client_and_bounded(tmp_path):
    """Review 11 #5: five refused calls with 8 MiB codes grew the audit log by 40 MiB."""
    from tracecode.app.audit import VALUE_CHARS
    log = AuditLog(tmp_path / "audit.log", denied_burst=3, denied_rate=0.001)
    written = [log.write_denied("pda-7", "SendEvents", "ipv4:127.0.0.1:1", "x" * (8 << 20))
               for _ in range(10)]
    assert written == [True] * 3 + [False] * 7
    assert log.write_denied("line-3", "SendEvents", "", "not its product")   # per client
    log.close()
    assert (tmp_path / "audit.log").stat().st_size < 8 * VALUE_CHARS
    records = read(tmp_path / "audit.log")
    assert [r["event"] for r in records] == ["denied"] * 4 + ["suppressed"]
    assert records[0]["reason"].endswith("(8,388,608 characters)")
    assert records[-1]["client"] == "pda-7" and records[-1]["count"] == 7
