"""A data directory on a read-only disk: verification without recording works, in
Python and on the command line; issuing, events and recorded scans are one clear error."""
import json
import os
import subprocess
import sys

import pytest
import tracecode
from tracecode.index import IndexReadOnly, Verdict

DRUG = {"drug_id": "8177322"}


@pytest.fixture
def readonly_dir(tmp_path):
    """A data directory with issued and commissioned codes on a tmpfs remounted read-only."""
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root: the read-only mount must be tested there")
        pytest.skip("mounting a read-only tmpfs needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)]).returncode:
        if os.environ.get("CI") == "true":
            pytest.fail("mount -t tmpfs failed under CI")
        pytest.skip("mount -t tmpfs is not allowed here")
    try:
        with tracecode.init(mnt / "d") as d:
            codes = [c.decode() for c in d.issue("cn-drug-20", DRUG, 20).codes()]
            d.apply([{"id": "c1", "action": "commission", "codes": codes[:10]}])
            d.verify(codes[0], place="Hangzhou")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        yield mnt / "d", codes
    finally:
        subprocess.run(["umount", str(mnt)])


def test_verification_without_recording_works_on_a_read_only_disk(readonly_dir):
    path, codes = readonly_dir
    with pytest.raises(OSError):
        (path / "probe").write_text("x")   # really read-only
    with tracecode.open(path) as d:
        assert d.readonly
        batch = d.verify_many(codes, record=False)
        assert [a.verdict for a in batch] == [Verdict.GENUINE] * 10 + [Verdict.NOT_COMMISSIONED] * 10
        one = d.verify(codes[0], record=False)
        assert one.verdict == Verdict.GENUINE and one.first_scan_place == "Hangzhou"
        assert [(h["kind"], h.get("action") or h.get("place")) for h in d.history(codes[0])] == \
            [("event", "commission"), ("scan", "Hangzhou")]


@pytest.mark.parametrize("what", ["issue", "apply", "verify", "verify_many", "import"])
def test_writes_on_a_read_only_disk_are_one_clear_error(readonly_dir, what):
    path, codes = readonly_dir
    with tracecode.open(path) as d:
        call = {"issue": lambda: d.issue("cn-drug-20", DRUG, 5),
                "apply": lambda: d.apply([{"id": "c2", "action": "commission", "codes": codes[10:]}]),
                "verify": lambda: d.verify(codes[0]),
                "verify_many": lambda: d.verify_many(codes),
                "import": lambda: d.index.import_codes([codes[0]])}[what]
        with pytest.raises(IndexReadOnly, match="read-only") as info:
            call()
        assert "\n" not in str(info.value) and str(path / "index") in str(info.value)
        # still answering afterwards
        assert d.verify(codes[0], record=False).verdict == Verdict.GENUINE


def _cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_the_cli_on_a_read_only_disk(readonly_dir, tmp_path):
    path, codes = readonly_dir
    run = _cli("verify", path, codes[0], "--no-record")
    assert run.returncode == 0 and run.stdout.startswith("GENUINE"), run.stderr
    run = _cli("verify", path, "--no-record", stdin="\n".join(codes[:3]) + "\n")
    assert run.returncode == 0 and run.stdout.count("GENUINE") == 3, run.stderr
    for args in (("verify", path, codes[0]),
                 ("issue", path, "--scheme", "cn-drug-20", "-p", "8177322", "-n", "5")):
        run = _cli(*args)
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 1 and len(lines) == 1 and "read-only" in lines[0], run.stderr
        assert "Traceback" not in run.stderr
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"id": "c3", "action": "commission", "codes": codes[10:]}) + "\n")
    run = _cli("events", path, events)
    assert run.returncode == 1 and "read-only" in run.stderr and "Traceback" not in run.stderr
    # a backup reads only: it works from a read-only disk
    run = _cli("backup", path, tmp_path / "bk")
    assert run.returncode == 0 and (tmp_path / "bk" / "index" / "data.mdb").exists(), run.stderr


def test_registry_verbs_and_options_between_scans_on_a_read_only_disk(readonly_dir, tmp_path):
    """Review 11 #9: `registry show|import` gave an AttributeError traceback, and
    `verify DIR --no-record SCAN` was 'unrecognized arguments'."""
    path, codes = readonly_dir
    rows = tmp_path / "approvals.csv"
    rows.write_text("number,company\n")
    for args in (("registry", "show", path, "兽药字(2015)010012345"),
                 ("registry", "import", path, rows)):
        run = _cli(*args)
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 1 and len(lines) == 1 and "read-only" in lines[0], run.stderr
    run = _cli("verify", path, "--no-record", codes[0], "--place", "x", codes[1])
    assert run.returncode == 0 and run.stdout.count("GENUINE") == 2, run.stderr
    run = _cli("verify", path, "--no-record", codes[0], "--bogus")
    assert run.returncode == 2 and "unrecognized arguments: --bogus" in run.stderr


def test_serving_a_read_only_disk_verifies_and_audits_elsewhere(readonly_dir, tmp_path):
    """Review 11 #9: `tracecode serve` on a read-only directory exited ([Errno 30] audit.log)."""
    from tracecode.app.clients import ClientsFile
    from tracecode.v1 import Client, ServiceError
    from tracecode.v1.testing import ServerProcess
    path, codes = readonly_dir
    with ServerProcess(path, workers=1) as server:   # no --audit-log: issuance refused, one line
        c = Client(server.address, retry_timeout=5)
        assert c.verify(codes[0], record=False).verdict == Verdict.GENUINE
        with pytest.raises(ServiceError, match="--audit-log") as info:
            c.request_batch("cn-drug-20", DRUG, 1)
        assert info.value.reason == "AUDIT_LOG_FULL"
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    scanner = clients.add("pda-7", ["scanner"])
    audit = tmp_path / "elsewhere.log"
    with ServerProcess(path, "--tokens", tmp_path / "clients.toml", "--audit-log", audit,
                       workers=1) as server:
        c = Client(server.address, token=scanner, retry_timeout=5)
        with pytest.raises(ServiceError):
            c.request_batch("cn-drug-20", DRUG, 1)
    assert '"denied"' in audit.read_text() and '"pda-7"' in audit.read_text()
