"""A data directory whose index is in PostgreSQL, end to end: init with a store URL, issue,
verify, an event, verify again; through the Python API and the CLI; the index's identity."""
import json
import subprocess
import sys

import pytest

import tracecode
from tracecode.errors import KeyStoreError
from tracecode.index import Verdict

DRUG = {"drug_id": "8177322"}


def test_issue_verify_commission_verify_through_the_api(tmp_path, pg_dsn):
    dd = tracecode.init(tmp_path / "dd", store=pg_dsn)
    try:
        codes = list(dd.issue("cn-drug-20", DRUG, 10_000).codes())
        assert len(set(codes)) == 10_000
        got = dd.verify_many(codes)
        assert (got.records["verdict"] == Verdict.NOT_COMMISSIONED).all()
        forged = codes[0][:10] + (b"0" if codes[0][10:11] != b"0" else b"1") + codes[0][11:]
        assert dd.verify(forged).verdict not in (Verdict.GENUINE, Verdict.NOT_COMMISSIONED)
        res = dd.apply([{"id": "c1", "action": "commission", "codes": [c.decode() for c in codes[:6000]]}])
        assert res[0]["ok"], res
        got = dd.verify_many(codes)
        assert (got.records["verdict"][:6000] == Verdict.GENUINE).all()
        assert (got.records["verdict"][6000:] == Verdict.NOT_COMMISSIONED).all()
        assert dd.verify(codes[1]).scan_count == 3   # two verify_many calls and this one
        assert dd.apply([{"id": "c1", "action": "commission", "codes": [codes[0].decode()]}])[0]["ok"] is False
    finally:
        dd.close()
    again = tracecode.open(tmp_path / "dd")   # settings.toml names the store
    try:
        assert again.store_url == pg_dsn and again.issued("cn-drug-20", DRUG) == 10_000
        assert again.verify(codes[0]).verdict == Verdict.GENUINE
        assert not (tmp_path / "dd" / "index").exists()   # no LMDB index made
    finally:
        again.close()
    by_url = tracecode.open(pg_dsn, keys=tmp_path / "dd")
    try:
        assert by_url.issue("cn-drug-20", DRUG, 5).record.start == 10_000   # counters go on
    finally:
        by_url.close()


def test_a_database_serves_one_data_directory(tmp_path, pg_dsn):
    tracecode.init(tmp_path / "a", store=pg_dsn).close()
    with pytest.raises(KeyStoreError, match="another"):
        tracecode.init(tmp_path / "b", store=pg_dsn)
    other = tracecode.init(tmp_path / "c")   # an LMDB data directory pointed at a's database
    other.close()
    dd = tracecode.open(tmp_path / "c", store=pg_dsn)
    with pytest.raises(KeyStoreError, match="not this data directory"):
        dd.index
    with pytest.raises(KeyStoreError, match="keys="):
        tracecode.open(pg_dsn)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tracecode.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env)


def test_the_cli_with_a_store(tmp_path, pg_dsn):
    d = tmp_path / "dd"
    r = _cli("init", d, "--store", pg_dsn)
    assert r.returncode == 0, r.stderr
    assert "store = " in (d / "settings.toml").read_text()
    out = tmp_path / "codes.txt"
    r = _cli("issue", d, "--scheme", "cn-drug-20", "--product", "drug_id=8177322", "--count", 200, "--out", out)
    assert r.returncode == 0, r.stderr
    codes = out.read_text().split()
    events = tmp_path / "ev.jsonl"
    events.write_text(json.dumps({"id": "c1", "action": "commission", "codes": codes[:100]}) + "\n")
    r = _cli("events", d, events)
    assert r.returncode == 0 and "1 events applied" in r.stderr, r.stderr
    r = _cli("verify", d, codes[0])
    assert r.returncode == 0 and r.stdout.startswith("GENUINE"), (r.stdout, r.stderr)
    r = _cli("verify", d, codes[150])
    assert r.stdout.startswith("NOT_COMMISSIONED")
