"""The audit log's hash chain, MACs and signed checkpoints: a log written by several real
processes verifies; each way of rewriting it (edit, delete, reorder, insert, truncate,
a forged tail, a forged checkpoint, a restarted chain) is found and the first broken
record named; torn writes and logs from before the chain are handled honestly; local
commands audit like the server does; `tracecode audit verify|show` as a user runs them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

import tracecode
from tracecode.app.audit import AuditLog, read
from tracecode.app.auditchain import chain_hash, chained, digest, load_keys, seal
from tracecode.app.auditverify import verify
from tracecode.cli import main
from tracecode.errors import KeyStoreError

DRUG = {"drug_id": "8177322"}


def write_log(path, n=10, *, every=4, **kw):
    log = AuditLog(path, checkpoint_every=every, **kw)
    for i in range(n):
        log.write("issue", "line-3", "RequestBatch", "ipv4:10.0.0.7:5000", batch=i)
    log.close()
    return load_keys(path.parent)


def lines(path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def put(path, rows) -> None:
    path.write_bytes(b"".join(rows))


def numbered(path):
    """{batch number: 0-based line index} of the issue records."""
    return {json.loads(r)["batch"]: i for i, r in enumerate(lines(path)) if b'"event":"issue"' in r}


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "audit.log"
    keys = write_log(path)
    return path, keys


def test_a_whole_log_verifies_and_its_end_is_signed(log):
    path, keys = log
    rep = verify(path, keys=keys)
    assert rep.status == 0 and rep.broken is None and rep.macs_checked
    assert rep.records == 10 + 3 and rep.checkpoints == 3   # at 4, 8 and on close
    assert rep.chain == "sha256" and rep.start_line == 1 and rep.before == 0
    assert [r["batch"] for r in read(path)] == list(range(10))   # checkpoints are not events
    assert sum(r["event"] == "checkpoint" for r in read(path, checkpoints=True)) == 3
    assert verify(path, public=keys.public).status == 0          # an auditor with the public key only


def test_an_edited_record_is_named_with_and_without_the_key(log):
    path, keys = log
    rows = lines(path)
    at = numbered(path)[5]
    rows[at] = rows[at].replace(b'"batch":5', b'"batch":6')   # still valid JSON, still "chained"
    put(path, rows)
    rep = verify(path, keys=keys)
    assert rep.status == 1 and rep.broken.line == at + 1 and "MAC does not match" in rep.broken.what
    rep = verify(path, public=keys.public)          # no MAC key: the next record's prev says it
    assert rep.status == 1 and rep.broken.line == at + 2
    assert f"line {at + 1}" in rep.broken.what and "changed" in rep.broken.what


def test_an_edited_record_whose_chain_fields_are_recomputed_is_caught_by_the_mac(log):
    """A forger rewrites a record and recomputes every later prev: without the audit key
    the MACs (and the checkpoint's signature) cannot be made again."""
    path, keys = log
    rows = [r.rstrip(b"\n") for r in lines(path)]
    at = numbered(path)[1]
    rec = json.loads(rows[at])
    body = rows[at][:rows[at].index(b',"seq":')].replace(b'"batch":1', b'"batch":99')
    (path.parent / "elsewhere").mkdir()
    forger = load_keys(path.parent / "elsewhere")
    rows[at] = seal(body, seq=rec["seq"], prev=rec["prev"], name="sha256", keys=forger)
    for i in range(at + 1, len(rows)):
        r = json.loads(rows[i])
        head = digest("sha256", rows[i - 1])
        rows[i] = seal(rows[i][:rows[i].index(b',"seq":')], seq=r["seq"], prev=head, name="sha256",
                       keys=forger, sign=r["event"] == "checkpoint")
    put(path, [r + b"\n" for r in rows])
    assert verify(path, keys=keys).broken.line == at + 1
    rep = verify(path, public=keys.public)           # the first checkpoint after it is forged
    assert rep.status == 1 and "signature does not verify" in rep.broken.what


def test_a_deleted_record_is_named(log):
    path, keys = log
    rows = lines(path)
    at = numbered(path)[2]
    del rows[at]
    put(path, rows)
    rep = verify(path, keys=keys)
    assert rep.status == 1 and rep.broken.line == at + 1
    assert "1 record before it missing" in rep.broken.what


def test_reordered_records_are_named(log):
    path, keys = log
    rows = lines(path)
    a, b = numbered(path)[1], numbered(path)[2]
    rows[a], rows[b] = rows[b], rows[a]
    put(path, rows)
    rep = verify(path, keys=keys)
    assert rep.status == 1 and rep.broken.line == a + 1 and "missing" in rep.broken.what


def test_an_inserted_line_and_a_broken_record_are_named(log):
    path, keys = log
    rows = lines(path)
    put(path, rows[:3] + [b'{"time":5.0,"event":"issue","client":"x","method":"-","peer":""}\n'] + rows[3:])
    rep = verify(path, keys=keys)
    assert rep.status == 1 and rep.broken.line == 4 and "no record" in rep.broken.what
    rows[6] = rows[6][:40] + b"\n"                       # a record's JSON cut in the middle
    put(path, rows)
    assert verify(path, keys=keys).broken.line == 7
    rows = lines(path)
    put(path, rows[:-1] + [rows[-1][:50] + b"\n"])       # the last one, with its newline: not a torn write
    assert verify(path, keys=keys).status == 1


def test_truncation_shows_as_an_unsealed_end_or_against_an_anchor(log):
    path, keys = log
    full = verify(path, keys=keys)
    _, seq, head = full.last_checkpoint
    rows = lines(path)
    put(path, rows[:-2])                 # cut after a plain record: its end is not signed
    rep = verify(path, keys=keys)
    assert rep.status == 3 and rep.unsealed == 1 and rep.broken is None
    put(path, rows[:-1] + [rows[-1][:30]])   # cut inside the last record: a torn tail
    rep = verify(path, keys=keys)
    assert rep.status == 3 and rep.torn_tail[0] == len(rows)
    cut = next(i for i in range(len(rows) - 2, 0, -1) if b'"checkpoint"' in rows[i])
    put(path, rows[:cut + 1])            # cut exactly at an earlier checkpoint: whole from inside
    assert verify(path, keys=keys).status == 0
    rep = verify(path, keys=keys, head=(seq, head))   # but not against the anchor kept elsewhere
    assert rep.status == 1 and f"seq {seq} is not in the log" in rep.broken.what
    put(path, rows)
    assert verify(path, keys=keys, head=(seq, head)).status == 0


def test_a_forged_tail_after_the_last_checkpoint(log):
    """Records appended by someone with write access but without the audit key: chained
    correctly, they fail the MAC; with only the public key they are reported unsealed."""
    path, keys = log
    rows = [r.rstrip(b"\n") for r in lines(path)]
    forger_dir = path.parent / "forger"
    forger_dir.mkdir()
    forger = load_keys(forger_dir)
    last = json.loads(rows[-1])
    body = b'{"time":9.0,"event":"issue","client":"line-3","method":"RequestBatch","peer":"","batch":77'
    rows.append(seal(body, seq=last["seq"] + 1, prev=digest("sha256", rows[-1]), name="sha256", keys=forger))
    put(path, [r + b"\n" for r in rows])
    rep = verify(path, keys=keys)
    assert rep.status == 1 and rep.broken.line == len(rows) and "MAC" in rep.broken.what
    rep = verify(path, public=keys.public)
    assert rep.status == 3 and rep.unsealed == 1


def test_a_restarted_chain_is_named(log):
    path, keys = log
    rows = lines(path)
    other = path.parent / "other.log"
    AuditLog(other, keys=keys).write("issue", "x", "-", batch=1)
    put(path, rows + lines(other))
    rep = verify(path, keys=keys)
    assert rep.status == 1 and rep.broken.line == len(rows) + 1 and "second chain" in rep.broken.what


def test_a_torn_write_is_named_by_the_next_record_and_bound_into_the_chain(tmp_path):
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.write("issue", "c", "RequestBatch", batch=1)
    with open(path, "ab") as other:   # another process, cut short by a full disk
        other.write(b'{"time":2.0,"event":"iss')
    log.write("issue", "c", "RequestBatch", batch=3)   # from a process that had not seen it
    AuditLog(path).write("issue", "c", "RequestBatch", batch=4)
    log.close()
    keys = load_keys(tmp_path)
    rep = verify(path, keys=keys)
    assert rep.status == 0, rep.broken
    rec = chained(lines(path)[2].rstrip(b"\n"))
    assert rec["gap"]["at"] == len(lines(path)[0]) and rec["gap"]["bytes"] == len(b'{"time":2.0,"event":"iss') + 1
    data = path.read_bytes().replace(b'"event":"iss\n', b'"event":"isX\n')   # the torn bytes changed
    path.write_bytes(data)
    rep = verify(path, keys=keys)
    assert rep.status == 1 and rep.broken.line == 2


def test_a_log_from_before_the_chain_says_where_the_chain_starts(tmp_path):
    path = tmp_path / "audit.log"
    old = [{"time": 1.0 + i, "event": "issue", "client": "c", "method": "RequestBatch", "peer": "", "batch": i}
           for i in range(3)]
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in old))
    keys = write_log(path, 2)
    rep = verify(path, keys=keys)
    assert rep.status == 0 and rep.start_line == 4 and rep.before == 3
    assert [r["batch"] for r in read(path)] == [0, 1, 2, 0, 1]
    path.write_bytes(path.read_bytes().replace(b'"batch":1}', b'"batch":7}', 1))   # an old line edited
    rep = verify(path, keys=keys)
    assert rep.status == 1 and rep.broken.line == 1 and "does not name them" in rep.broken.what


def test_processes_and_threads_appending_at_once_make_one_chain(tmp_path):
    path = tmp_path / "audit.log"
    load_keys(tmp_path)
    script = ("import sys; from tracecode.app.audit import AuditLog\n"
              "log = AuditLog(sys.argv[1], checkpoint_every=37)\n"
              "for i in range(300): log.write('issue', sys.argv[2], 'RequestBatch', sync=i % 50 == 0, n=i)\n"
              "log.close()\n")
    env = dict(os.environ, TRACECODE_ALLOW_STALE="1")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), f"p{k}"], env=env) for k in range(4)]
    shared = AuditLog(path, checkpoint_every=11)

    def burst(name):
        for i in range(200):
            shared.write("issue", name, "RequestBatch", sync=False, n=i)
    threads = [threading.Thread(target=burst, args=(f"t{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared.close()
    assert [p.wait(120) for p in procs] == [0] * 4
    rep = verify(path, keys=load_keys(tmp_path))
    assert rep.status == 0, rep.broken
    records = read(path)
    assert len(records) == 4 * 300 + 3 * 200 and not records.damaged
    assert rep.records == len(records) + rep.checkpoints


def test_the_sm_suite_chains_with_sm3(tmp_path):
    (tmp_path / "index.stamp").write_text(json.dumps({"index": "0b7e6a3c-4d56-4f1e-9d3c-1a2b3c4d5e6f",
                                                      "format": "x", "crypto": "sm"}))
    assert chain_hash(tmp_path) == "sm3"
    assert chain_hash(tmp_path / "nowhere") == "sha256"
    path = tmp_path / "audit.log"
    keys = write_log(path, 3, chain="sm3")
    rep = verify(path, keys=keys)
    assert rep.status == 0 and rep.chain == "sm3"
    second = chained(lines(path)[1].rstrip(b"\n"))
    assert second["prev"] == digest("sm3", lines(path)[0].rstrip(b"\n"))


def test_the_audit_key_is_held_like_the_master_key(tmp_path):
    keys = load_keys(tmp_path)
    assert oct((tmp_path / "audit.key").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "audit.pub").read_text().strip() == keys.public
    assert "audit" not in repr(keys) or keys.public[:16] in repr(keys)
    assert (tmp_path / "audit.key").read_bytes().hex() not in repr(keys)
    assert load_keys(tmp_path).public == keys.public           # made once, then loaded
    os.chmod(tmp_path / "audit.key", 0o644)
    with pytest.raises(KeyStoreError, match="readable by others"):
        load_keys(tmp_path)


# -- local commands audit, and the CLI as a user runs it -------------------------------------
def test_local_issuance_and_recalls_are_audited_and_verify(tmp_path, capsys):
    d = tmp_path / "data"
    assert main(["init", str(d)]) == 0
    out = tmp_path / "codes.txt"
    assert main(["issue", str(d), "--scheme", "cn-drug-20", "--product", "8177322", "--count", "5",
                 "--out", str(out)]) == 0
    code = out.read_text().split()[0]
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"id": "r-1", "action": "recall", "codes": [code], "reason": "lot test"}) + "\n")
    assert main(["events", str(d), str(events)]) == 0
    records = read(d / "audit.log")
    assert [r["event"] for r in records] == ["issue_intent", "issue", "recall_intent", "recall"]
    assert records[1]["batch"] == 1 and records[1]["count"] == 5 and records[1]["client"] == "local"
    assert all(r["user"] for r in records) and records[3]["ok"] is True
    capsys.readouterr()
    assert main(["audit", "verify", str(d)]) == 0
    said = capsys.readouterr().out
    assert "OK: the chain is whole and its end is signed" in said and "--head " in said
    assert main(["audit", "show", str(d), "--event", "recall"]) == 0
    shown = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["event_id"] for r in shown] == ["r-1"] and "mac" not in shown[0]
    assert main(["audit", "show", str(d), "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == ""


def test_the_python_api_s_local_client_audits(tmp_path):
    from tracecode.app.local import LocalClient
    tracecode.init(tmp_path / "data").close()
    with LocalClient(tracecode.open(tmp_path / "data")) as c:
        c.issue("cn-drug-20", DRUG, 3)
    assert [r["event"] for r in read(tmp_path / "data" / "audit.log")] == ["issue_intent", "issue"]


def test_verify_on_the_command_line_names_the_first_broken_record(tmp_path, capsys):
    path = tmp_path / "audit.log"
    write_log(path)
    rows = lines(path)
    del rows[3]
    put(path, rows)
    assert main(["audit", "verify", str(tmp_path)]) == 1
    said = capsys.readouterr().out
    assert "BROKEN at line 4 (byte " in said and "missing" in said
    assert main(["audit", "verify", str(tmp_path), "--public-key", str(tmp_path / "audit.pub")]) == 1
    assert "MACs not checked" in capsys.readouterr().out
    assert main(["audit", "verify", str(tmp_path), "--head", "nonsense"]) == 1
    assert "give SEQ:HASH" in capsys.readouterr().err
    assert main(["audit", "verify", str(tmp_path / "none")]) == 1
    assert "no audit log" in capsys.readouterr().err


def test_an_audit_key_others_can_read_refuses_issuance_and_says_why(tmp_path, capsys):
    d = tmp_path / "data"
    assert main(["init", str(d)]) == 0
    assert main(["issue", str(d), "--scheme", "cn-drug-20", "--product", "8177322", "--count", "2"]) == 0
    os.chmod(d / "audit.key", 0o644)
    capsys.readouterr()
    assert main(["issue", str(d), "--scheme", "cn-drug-20", "--product", "8177322", "--count", "2"]) == 1
    err = capsys.readouterr().err
    assert "nothing issued" in err and "audit key is refused" in err and "chmod 600" in err
    assert main(["batches", str(d)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1   # the first batch only


def test_a_large_log_from_before_the_chain_is_taken_in_once_and_linearly(tmp_path):
    path = tmp_path / "audit.log"
    line = json.dumps({"time": 1.0, "event": "issue", "client": "c", "method": "-", "peer": "", "x": "y" * 200},
                      separators=(",", ":")) + "\n"
    path.write_text(line * 40_000)                      # ~9 MB, no chained record: read back to its start
    keys = write_log(path, 3)
    rep = verify(path, keys=keys)
    assert rep.status == 0 and rep.before == 40_000 and rep.start_line == 40_001
    assert chained(lines(path)[40_000].rstrip(b"\n"))["gap"] == {
        "at": 0, "bytes": len(line) * 40_000, "hash": digest("sha256", line.encode() * 40_000)}
