"""`tracecode backup` and `tracecode restore`: a consistent online copy, and a restore
that never hands out again a counter issued after the backup was taken."""
import itertools
import json
import os
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tracecode
from tracecode.index import Verdict
from tracecode.store.lmdb import journal, stamp
from tracecode.store.lmdb.backup import BackupError, backup, restore

DRUG = {"drug_id": "8177322"}
OTHER = {"drug_id": "1234567"}


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def _wait(cond, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _codes(d, product, n):
    return d.issue("cn-drug-20", product, n).codes()


def test_issue_backup_issue_restore_issue_every_code_stays_unique(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        before = _codes(d, DRUG, 1000)
    run = _cli("backup", path, tmp_path / "bk")
    assert run.returncode == 0, run.stderr
    assert "master.key NOT included" in run.stderr
    with tracecode.open(path) as d:
        after = np.concatenate([_codes(d, DRUG, 700), _codes(d, OTHER, 300)])  # OTHER: new product
    (path / "index" / "data.mdb").unlink()          # the disk under the index failed
    run = _cli("restore", tmp_path / "bk", path)
    assert run.returncode == 0, run.stderr
    with tracecode.open(path) as d:
        again = np.concatenate([_codes(d, DRUG, 1000), _codes(d, OTHER, 1000)])
        everything = np.concatenate([before, after, again])
        assert len(np.unique(everything)) == len(everything)
        # the batches issued after the backup came back from the journal: still ours
        verdicts = {a.verdict for a in d.verify_many(after, record=False)}
        assert verdicts == {Verdict.NOT_COMMISSIONED}
        ids = [b.id for b in d.index.batches.list()]
        assert ids == sorted(set(ids)) and len(ids) == 5
    # the replaced index is kept aside, never deleted
    assert [p.name for p in path.iterdir() if p.name.startswith("index-before-restore-")]


def test_restore_into_a_new_directory_needs_the_journal_and_the_key(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        before = _codes(d, DRUG, 100)
    backup(path, tmp_path / "bk")
    assert not (tmp_path / "bk" / "master.key").exists()
    with tracecode.open(path) as d:
        after = _codes(d, DRUG, 100)
    new = tmp_path / "new"
    with pytest.raises(BackupError, match="could be issued again"):
        restore(tmp_path / "bk", new)                   # no journal newer than the backup
    with pytest.raises(BackupError, match="no master key"):
        restore(tmp_path / "bk", new, journals=[path / journal.NAME])
    (tmp_path / "wrong.key").write_bytes(os.urandom(32))
    with pytest.raises(BackupError, match="not the master key"):
        restore(tmp_path / "bk", new, journals=[path / journal.NAME], key_file=tmp_path / "wrong.key")
    assert not new.exists()                              # refused: nothing written
    restore(tmp_path / "bk", new, journals=[path / journal.NAME], key_file=path / "master.key")
    with tracecode.open(new) as d:
        again = _codes(d, DRUG, 100)
        assert d.verify_many(after, record=False)[0].verdict == Verdict.NOT_COMMISSIONED
    assert stat.S_IMODE((new / "master.key").stat().st_mode) == 0o600
    everything = np.concatenate([before, after, again])
    assert len(np.unique(everything)) == len(everything)


def test_a_backup_with_its_key_and_a_damaged_backup(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        _codes(d, DRUG, 10)
    run = _cli("backup", path, tmp_path / "bk", "--with-key")
    assert run.returncode == 0 and "master.key included" in run.stderr
    assert (tmp_path / "bk" / "master.key").read_bytes() == (path / "master.key").read_bytes()
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in (tmp_path / "bk").rglob("*"))
    # explicitly the backup's own journal: "nothing was issued since"
    restore(tmp_path / "bk", tmp_path / "new", journals=[tmp_path / "bk" / journal.NAME])
    with tracecode.open(tmp_path / "new") as d:
        assert d.issue("cn-drug-20", DRUG, 1).start == 10
    with open(tmp_path / "bk" / "index" / "data.mdb", "r+b") as f:
        f.seek(5000)
        f.write(b"\x00\x01")
    with pytest.raises(BackupError, match="SHA-256 differs"):
        restore(tmp_path / "bk", tmp_path / "new2", journals=[tmp_path / "bk" / journal.NAME])
    run = _cli("backup", path, tmp_path / "bk")
    assert run.returncode == 1 and "not empty" in run.stderr and "Traceback" not in run.stderr


def test_a_backup_of_another_index_is_refused(tmp_path):
    tracecode.init(tmp_path / "a").close()
    tracecode.init(tmp_path / "b").close()
    backup(tmp_path / "a", tmp_path / "bk")
    with pytest.raises(BackupError, match="is index .* the backup is of index"):
        restore(tmp_path / "bk", tmp_path / "b")
    with pytest.raises(BackupError, match="journal of index"):
        restore(tmp_path / "bk", tmp_path / "new", journals=[tmp_path / "b" / journal.NAME],
                key_file=tmp_path / "a" / "master.key")


def test_backup_while_the_server_issues(tmp_path):
    """An online backup while `tracecode serve` keeps issuing; restored from it and the
    journal, the index hands out nothing twice and knows every batch the server gave out."""
    from tracecode.v1 import Client
    from tracecode.app.clients import ClientsFile
    from tracecode.v1.testing import ServerProcess
    path = tmp_path / "d"
    tracecode.init(path).close()
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    token = clients.add("line-3", ["issuer"], ["cn-drug-20:drug_id=8177322"])
    handed_out, stop = [], threading.Event()
    with ServerProcess(path, "--tokens", tmp_path / "clients.toml") as server:
        client = Client(server.address, token=token, retry_timeout=10)

        def issue():
            while not stop.is_set():
                b = client.request_batch("cn-drug-20", DRUG, 5000)
                handed_out.append((b.id, b.start, b.count))
        worker = threading.Thread(target=issue)
        worker.start()
        try:
            _wait(lambda: len(handed_out) >= 5 or not worker.is_alive())
            run = _cli("backup", path, tmp_path / "bk")
            at_backup = len(handed_out)
            _wait(lambda: len(handed_out) >= at_backup + 10 or not worker.is_alive())
        finally:
            stop.set()
            worker.join()
            client.close()
        with pytest.raises(BackupError, match="open in another process"):
            restore(tmp_path / "bk", path)    # the server still has it open
    assert run.returncode == 0, run.stderr
    assert len(handed_out) >= at_backup + 10, "the server stopped issuing"
    manifest = json.loads((tmp_path / "bk" / "backup.json").read_text())
    assert manifest["index"] == stamp.read(path)["index"]
    restore(tmp_path / "bk", tmp_path / "new", journals=[path / journal.NAME],
            key_file=path / "master.key")
    with tracecode.open(tmp_path / "new") as d:
        recorded = {b.id: (b.start, b.count) for b in d.index.batches.list()}
        for bid, start, count in handed_out:
            assert recorded[bid] == (start, count)
        nxt = d.issue("cn-drug-20", DRUG, 1).start
    assert nxt >= max(s + c for _, s, c in handed_out)
    spans = sorted(recorded.values())
    assert all(a + n <= b for (a, n), (b, _) in itertools.pairwise(spans))


def test_restore_into_a_directory_that_lost_its_key_too(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        _codes(d, DRUG, 10)
    backup(path, tmp_path / "bk")
    (path / "master.key").rename(tmp_path / "kept.key")   # the operator kept it apart
    (path / "index" / "data.mdb").unlink()
    with pytest.raises(BackupError, match="give the data directory's key with --key"):
        restore(tmp_path / "bk", path)
    run = _cli("restore", tmp_path / "bk", path, "--key", tmp_path / "kept.key")
    assert run.returncode == 0, run.stderr
    with tracecode.open(path) as d:
        assert d.issue("cn-drug-20", DRUG, 1).start == 10


def test_restore_takes_the_counters_and_batches_of_the_index_it_replaces(tmp_path):
    """The journal lost, the live index intact, a restore told "nothing since" (--journal
    BACKUP/...): the index set aside still knows the batches issued after the backup, so
    they are taken over, never issued again (review 11, #3)."""
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        before = _codes(d, DRUG, 5)
    backup(path, tmp_path / "bk")
    with tracecode.open(path) as d:
        after = _codes(d, DRUG, 5)
    (path / journal.NAME).unlink()
    r = restore(tmp_path / "bk", path)   # the live index alone is enough: no --journal needed
    assert r["replaced_index_entries"] >= 2
    with tracecode.open(path) as d:
        again = _codes(d, DRUG, 5)
        assert {a.verdict for a in d.verify_many(after, record=False)} == {Verdict.NOT_COMMISSIONED}
        assert [b.id for b in d.index.batches.list()] == [1, 2, 3]
    everything = np.concatenate([before, after, again])
    assert len(np.unique(everything)) == len(everything)
    # with --journal BACKUP/... as the review's operator did: the same
    with tracecode.open(path) as d:
        after2 = _codes(d, DRUG, 5)
    (path / journal.NAME).unlink()
    restore(tmp_path / "bk", path, journals=[tmp_path / "bk" / journal.NAME])
    with tracecode.open(path) as d:
        assert d.issue("cn-drug-20", DRUG, 1).start == 20
        assert d.verify_many(after2, record=False)[0].verdict == Verdict.NOT_COMMISSIONED


def test_backup_of_a_directory_open_in_this_process(tmp_path):
    """LMDB opens an environment once per process: backup() says so in one line (not a raw
    lmdb.Error), and DataDir.backup copies through the open one (review 11, #11)."""
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        _codes(d, DRUG, 5)
        with pytest.raises(BackupError, match="open in this process.*backup\\(DEST\\)"):
            backup(path, tmp_path / "bk")
        d.backup(tmp_path / "bk")
        assert d.issue("cn-drug-20", DRUG, 1).start == 5     # still open and writable
        with pytest.raises(BackupError, match="open in this process: close it"):
            restore(tmp_path / "bk", path)
    restore(tmp_path / "bk", tmp_path / "new", journals=[path / journal.NAME],
            key_file=path / "master.key")
    with tracecode.open(tmp_path / "new") as d:
        assert d.issue("cn-drug-20", DRUG, 1).start == 6


def test_backup_onto_a_full_disk_says_so(tmp_path):
    """The backup's disk fills: one line naming it and that the data directory is fine,
    not "the index failed ... restore a backup" (review 11, #11)."""
    from test_full_disk import small_disk
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        for i in range(400):
            d.issue("cn-drug-20", {"drug_id": str(8170000 + i)}, 3, lot=f"L{i}")
    with small_disk(tmp_path / "small", "64k") as disk:
        run = _cli("backup", path, disk / "bk")
        assert run.returncode == 1 and run.stdout == "", run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "is full" in lines[0] and "data directory is unchanged" in lines[0]
        assert "restore" not in lines[0] and list(disk.iterdir()) == []
    with tracecode.open(path) as d:
        assert d.issue("cn-drug-20", DRUG, 1).start == 0


def test_restore_over_a_damaged_index_still_works_from_the_journal(tmp_path):
    """The index a restore replaces is read only if it can be: a truncated one (why one
    restores) is set aside unread, and the journal brings the later batches back."""
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        _codes(d, DRUG, 5)
    backup(path, tmp_path / "bk")
    with tracecode.open(path) as d:
        after = _codes(d, DRUG, 5)
    data = path / "index" / "data.mdb"
    os.truncate(data, 8192)
    r = restore(tmp_path / "bk", path)
    assert r["replaced_index_entries"] == 0
    with tracecode.open(path) as d:
        assert d.issue("cn-drug-20", DRUG, 1).start == 10
        assert d.verify_many(after, record=False)[0].verdict == Verdict.NOT_COMMISSIONED
    # neither a journal nor a readable index: refused, saying why the index was no help
    os.truncate(path / "index" / "data.mdb", 8192)
    (path / journal.NAME).unlink()
    with pytest.raises(BackupError, match="could be issued again.*could not be read.*truncated"):
        restore(tmp_path / "bk", path)


SETTINGS = 'base_url = "https://trace.example.gov.cn"\n\n[web]\nper_address = 120\n'


def test_backup_carries_settings_toml_and_restore_puts_it_back(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path, base_url="https://trace.example.gov.cn") as d:
        _codes(d, DRUG, 10)
    (path / "settings.toml").write_text(SETTINGS)
    run = _cli("backup", path, tmp_path / "bk", "--with-key")
    assert run.returncode == 0, run.stderr
    assert "settings.toml" in run.stderr and "reservations.journal" in run.stderr   # what it copied
    assert (tmp_path / "bk" / "settings.toml").read_text() == SETTINGS             # whole, as written
    assert stat.S_IMODE((tmp_path / "bk" / "settings.toml").stat().st_mode) == 0o600
    assert "settings.toml" in json.loads((tmp_path / "bk" / "backup.json").read_text())["files"]
    run = _cli("restore", tmp_path / "bk", tmp_path / "r1", "--journal", path / journal.NAME)
    assert run.returncode == 0, run.stderr
    assert "settings.toml restored" in run.stderr
    shown = _cli("settings", tmp_path / "r1")
    assert shown.stdout.splitlines() == ["base_url = https://trace.example.gov.cn", "web.per_address = 120"]
    with tracecode.open(tmp_path / "r1") as d:   # labels point at the platform, not at GS1
        assert d.settings.base_url == "https://trace.example.gov.cn"


def test_restore_keeps_a_different_settings_toml_in_place_and_says_so(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path, base_url="https://old.example.gov.cn") as d:
        _codes(d, DRUG, 10)
    backup(path, tmp_path / "bk")
    newer = 'base_url = "https://new.example.gov.cn"\n'
    (path / "settings.toml").write_text(newer)        # changed after the backup
    r = restore(tmp_path / "bk", path)
    assert (path / "settings.toml").read_text() == newer
    assert r["settings"] == "kept"
    run = _cli("restore", tmp_path / "bk", path)
    assert run.returncode == 0, run.stderr
    assert f"{path / 'settings.toml'} kept (it differs from the backup's" in run.stderr
    (path / "settings.toml").unlink()                 # lost with the disk: the backup's comes back
    assert restore(tmp_path / "bk", path)["settings"] == "restored"
    assert "old.example.gov.cn" in (path / "settings.toml").read_text()


def test_a_backup_without_settings_restores_without_them(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        _codes(d, DRUG, 10)
    run = _cli("backup", path, tmp_path / "bk")
    assert run.returncode == 0 and "settings.toml" not in run.stderr, run.stderr
    r = restore(tmp_path / "bk", tmp_path / "r", journals=[path / journal.NAME], key_file=path / "master.key")
    assert r["settings"] is None and not (tmp_path / "r" / "settings.toml").exists()


def _tamper_keyring(bk, change):
    """What an attacker with write access to a backup can do: edit keys.json and re-hash it
    in backup.json (the manifest's digests prove integrity against accidents, not intent)."""
    ring = json.loads((bk / "keys.json").read_text())
    change(ring)
    (bk / "keys.json").write_text(json.dumps(ring))
    manifest = json.loads((bk / "backup.json").read_text())
    import hashlib
    manifest["files"]["keys.json"] = hashlib.sha256((bk / "keys.json").read_bytes()).hexdigest()
    (bk / "backup.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["/etc/passwd", "../../outside.key", "master.v2.key", "sub/master.key"])
def test_a_backup_whose_keys_json_names_another_key_file_is_refused(tmp_path, name):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        _codes(d, DRUG, 10)
    backup(path, tmp_path / "bk", with_key=True)
    _tamper_keyring(tmp_path / "bk", lambda ring: ring["versions"][0].update(file=name))
    with pytest.raises(BackupError, match="tampered backup"):
        restore(tmp_path / "bk", tmp_path / "new", journals=[path / journal.NAME])
    assert not (tmp_path / "new").exists()


def test_a_backup_naming_an_hsm_module_restores_only_when_the_operator_names_it(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        _codes(d, DRUG, 10)
    backup(path, tmp_path / "bk", with_key=True)
    evil = str(tmp_path / "evil.so")   # a library a tampered backup would have tracecode load
    _tamper_keyring(tmp_path / "bk", lambda ring: ring.update(
        hsm={"module": evil, "token": "t", "key_label": "k", "pin_env": "X", "pin_file": None}))
    new = tmp_path / "new"
    with pytest.raises(BackupError, match="--pkcs11-module"):
        restore(tmp_path / "bk", new, journals=[path / journal.NAME])
    with pytest.raises(BackupError, match="you named"):
        restore(tmp_path / "bk", new, journals=[path / journal.NAME], pkcs11_module=tmp_path / "other.so")
    assert not new.exists()
    out = _cli("restore", tmp_path / "bk", new, "--journal", path / journal.NAME)
    assert out.returncode != 0 and "evil.so" in out.stderr and not new.exists()
    restore(tmp_path / "bk", new, journals=[path / journal.NAME], pkcs11_module=evil)   # named: accepted
    assert json.loads((new / "keys.json").read_text())["hsm"]["module"] == evil
