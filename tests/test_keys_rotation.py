"""Master-key versions: rotation, verification across versions, retirement, and the CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

import tracecode
from tracecode.errors import KeyStoreError
from tracecode.index.verdicts import Verdict
from tracecode.keyring import Keyring

P = {"drug_id": "8177322"}
Q = {"drug_id": "1000001"}


def _codes(batch):
    return [c.decode() for c in batch.codes()]


def _commission(d, batch, eid):
    results = d.apply([{"id": eid, "action": "commission", "codes": _codes(batch)}])
    assert all(r["ok"] for r in results), results


@pytest.mark.parametrize("suite", ["aes", "sm"])
def test_codes_of_every_version_keep_verifying(tmp_path, suite):
    path = tmp_path / "d"
    with tracecode.init(path, crypto=suite) as d:
        b1 = d.issue("cn-drug-20", P, 500)
        d.keyring.rotate()
        b2 = d.issue("cn-drug-20", P, 500)
        q2 = d.issue("cn-drug-20", Q, 300)   # a product first issued under version 2
        d.keyring.rotate()
        b3 = d.issue("cn-drug-20", P, 500)
    assert [b.record.key_version for b in (b1, b2, q2, b3)] == [1, 2, 2, 3]
    assert b2.start == 500 and b3.start == 1000          # counters go on across versions
    assert not set(_codes(b1)) & set(_codes(b2))
    with tracecode.open(path) as d:
        assert d.master_key.version == 3
        for b in (b1, b2, q2, b3):
            codes = _codes(b)
            assert d.verify(codes[17], record=False).batch == b.id          # the single path
            out = d.verify_many(codes, record=False)                        # the bulk path
            assert (out.records["batch"] == b.id).all()
            assert d.history(codes[3]) is not None
        mixed = _codes(b3)[:50] + _codes(b1)[:50] + _codes(q2)[:50] + _codes(b2)[:50]
        assert d.verify_many(mixed, record=False).records["batch"].tolist() == \
            [b3.id] * 50 + [b1.id] * 50 + [q2.id] * 50 + [b2.id] * 50
        # each batch re-renders under its own version
        assert (d.issuer("cn-drug-20", P, 1).codes(0, 500) == b1.codes()).all()
        assert (d.issuer("cn-drug-20", P, 2).codes(500, 500) == b2.codes()).all()


def test_a_code_of_one_version_is_not_taken_for_another(tmp_path):
    """A version-1 serial decrypted under version 2 gives a counter that must not count,
    even when it lands in a batch: only the version that made a batch may claim it."""
    with tracecode.init(tmp_path / "d") as d:
        d.issue("cn-drug-20", P, 1000)
        d.keyring.rotate()
        d.issue("cn-drug-20", P, 1000)
        v1 = d.issuer("cn-drug-20", P, 1)
        v2 = d.issuer("cn-drug-20", P, 2)
        # codes version 1 would give at version 2's counters: never issued
        forged = [c.decode() for c in v1.codes(1000, 1000)]
        out = d.verify_many(forged, record=False)
        assert (out.records["batch"] == 0).all()
        assert all(d.verify(c, record=False).verdict == Verdict.UNKNOWN for c in forged[:20])
        forged2 = [c.decode() for c in v2.codes(0, 1000)]
        assert (d.verify_many(forged2, record=False).records["batch"] == 0).all()


def test_a_rotation_by_another_process_is_used_by_the_next_batch(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        d.issue("cn-drug-20", P, 10)
        Keyring.load(path).rotate()                     # as `tracecode key rotate` elsewhere
        b = d.issue("cn-drug-20", P, 10)
        assert b.record.key_version == 2
        assert d.verify(_codes(b)[0], record=False).batch == b.id


@pytest.mark.parametrize("how", ["warn", "refuse"])
def test_a_retired_version_is_never_used_and_its_codes_warn_or_are_refused(tmp_path, how):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        b1 = d.issue("cn-drug-20", P, 100)
        _commission(d, b1, "c1")
        retired, fresh = d.keyring.retire(1, how)        # the current one: a rotation first
        assert retired.retired["codes"] == how and fresh.version == 2
        b2 = d.issue("cn-drug-20", P, 100)
        assert b2.record.key_version == 2 and b2.start == 100
        _commission(d, b2, "c2")
        one = d.verify(_codes(b1)[0], record=False)
        many = d.verify_many(_codes(b1) + _codes(b2), record=False)
        want = Verdict.SUSPICIOUS if how == "warn" else Verdict.UNKNOWN
        assert one.verdict == want and "master-key version 1 is retired" in one.reasons[-1]
        assert (many.records["verdict"][:100] == want).all()
        assert (many.records["verdict"][100:] == Verdict.GENUINE).all()
        assert many[0].verdict == want and "retired" in many[0].reasons[-1]
        assert many[150].reasons == []
    with tracecode.open(path) as d:   # kept in keys.json
        assert d.keyring.retired(1) == how and d.keyring.current == 2
        assert d.verify(_codes(b1)[5], record=False).verdict == want


def test_a_server_sees_a_retirement_made_elsewhere(tmp_path, monkeypatch):
    import tracecode.keyring as kr
    monkeypatch.setattr(kr, "REFRESH_SECONDS", 0.0)
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        b = d.issue("cn-drug-20", P, 10)
        _commission(d, b, "c")
        assert d.verify(_codes(b)[0], record=False).verdict == Verdict.GENUINE
        Keyring.load(path).retire(1, "refuse")
        assert d.verify(_codes(b)[0], record=False).verdict == Verdict.UNKNOWN
        assert d.issue("cn-drug-20", P, 5).record.key_version == 2


def test_key_problems_are_clear(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        with pytest.raises(KeyStoreError, match="no master-key version 7"):
            d.keyring.retire(7, "warn")
        with pytest.raises(KeyStoreError, match="warn or refuse"):
            d.keyring.retire(1, "ignore")
        d.keyring.rotate()
    (path / "master.v2.key").write_bytes(bytes(32))   # not the key keys.json names
    (path / "master.v2.key").chmod(0o600)
    with pytest.raises(KeyStoreError, match="is not master-key version 2"):
        tracecode.open(path)
    (path / "keys.json").write_text("{not json")
    with pytest.raises(KeyStoreError, match="keys.json is damaged"):
        tracecode.open(path)


def test_a_swapped_key_file_is_refused_every_time_not_only_the_first(tmp_path):
    path = tmp_path / "d"
    path.mkdir()
    Keyring.create(path).rotate()
    (path / "master.v2.key").write_bytes(bytes(32))   # another key in version 2's file
    ring = Keyring.load(path)
    for _ in range(2):   # a key that failed its fingerprint check is never cached
        with pytest.raises(KeyStoreError, match="is not master-key version 2"):
            ring.key(2)


def test_keys_json_holds_no_key_material(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        d.keyring.rotate()
        raws = [(path / n).read_bytes() for n in ("master.key", "master.v2.key")]
    text = (path / "keys.json").read_text()
    assert all(r.hex() not in text for r in raws)
    assert oct((path / "keys.json").stat().st_mode)[-3:] == "600"


def test_the_key_cli_rotates_lists_and_retires_with_audit(tmp_path):
    path = tmp_path / "d"
    run = [sys.executable, "-m", "tracecode"]
    subprocess.run(run + ["init", str(path)], check=True, capture_output=True)
    issue = run + ["issue", str(path), "--scheme", "cn-drug-20", "--product", "drug_id=8177322", "--count", "3"]
    first = subprocess.run(issue, check=True, capture_output=True, text=True).stdout.split()
    rot = subprocess.run(run + ["key", "rotate", str(path)], capture_output=True, text=True)
    assert rot.returncode == 0 and "version 2" in rot.stderr
    second = subprocess.run(issue, check=True, capture_output=True, text=True).stdout.split()
    listed = subprocess.run(run + ["key", "list", str(path)], capture_output=True, text=True).stdout
    assert "current version 2" in listed and "*current" in listed
    ret = subprocess.run(run + ["key", "retire", str(path), "1", "--codes", "warn"], capture_output=True, text=True)
    assert ret.returncode == 0 and "version 1 is retired" in ret.stderr
    ver = subprocess.run(run + ["verify", str(path), "--no-record", *first, *second], capture_output=True, text=True)
    assert ver.stdout.count("master-key version 1 is retired") == 3
    bad = subprocess.run(run + ["key", "retire", str(path), "9", "--codes", "warn"], capture_output=True, text=True)
    assert bad.returncode != 0 and "tracecode key retire: " in bad.stderr and "no master-key version 9" in bad.stderr
    events = [json.loads(line) for line in (path / "audit.log").read_text().splitlines()]
    kinds = [(e["event"], e.get("version")) for e in events if e["event"].startswith("key_")]
    assert kinds == [("key_rotate", 2), ("key_retire", 1)]
    raw = (path / "master.key").read_bytes().hex()
    assert raw not in (path / "audit.log").read_text()


def test_a_backup_carries_every_version(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        b1 = d.issue("cn-drug-20", P, 20)
        d.keyring.rotate()
        b2 = d.issue("cn-drug-20", P, 20)
    from tracecode.store.lmdb.backup import backup, restore
    bare = backup(path, tmp_path / "bare")
    assert "keys.json" in bare["files"] and not any(f.startswith("master") for f in bare["files"])
    full = backup(path, tmp_path / "full", with_key=True)
    assert {"master.key", "master.v2.key", "keys.json"} <= set(full["files"])
    restore(tmp_path / "full", tmp_path / "again", journals=[path / "reservations.journal"])
    with tracecode.open(tmp_path / "again") as d:
        assert d.keyring.current == 2
        out = d.verify_many(_codes(b1) + _codes(b2), record=False)
        assert (out.records["batch"] == np.array([b1.id] * 20 + [b2.id] * 20)).all()
