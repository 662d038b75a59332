"""`tracecode cluster up|status|down`: the lab starts etcd and a shard under Patroni, reports
roles, and `down` stops exactly what it started — also after the lab's supervisors were
killed with -9 (their postmasters found by postmaster.pid)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cluster_lab import need_lab
from tracecode.cluster import Lab, LabError, procs


def tc(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def lab_dir():
    need_lab()
    root = tempfile.mkdtemp(prefix="tracecode-lab-", dir="/tmp")
    os.chmod(root, 0o711)
    yield Path(root) / "lab"
    lab = Lab(Path(root) / "lab")
    if lab.state:
        lab.down(timeout=20)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_up_status_down_and_down_after_a_crash(lab_dir):
    r = tc("cluster", "up", lab_dir, "--shards", "1", "--replicas", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("shard0\tpostgresql://postgres@")   # no password on stdout
    assert "target_session_attrs=read-write" in r.stdout
    st = tc("cluster", "status", lab_dir)
    assert st.returncode == 0, st.stderr
    roles = sorted(line.split("\t")[3] for line in st.stdout.splitlines() if line.startswith("shard0"))
    assert roles == ["leader", "sync_standby"], st.stdout
    assert st.stdout.count("healthy") == 3
    again = tc("cluster", "up", lab_dir)
    assert again.returncode == 1 and "runs a lab already" in again.stderr
    lab = Lab(lab_dir)
    postmasters = [lab.postmaster("shard0", m["name"]) for m in lab.shard("shard0")["members"]]
    assert all(postmasters)
    # the lab's supervisors die (-9): their postmasters live on, `down` still stops them
    for m in lab.shard("shard0")["members"]:
        os.kill(m["proc"]["pid"], signal.SIGKILL)
    procs.reap()
    assert all(procs.alive(pm) for pm in postmasters)
    d = tc("cluster", "down", lab_dir)
    assert d.returncode == 0, d.stderr
    assert not any(procs.alive(r) for r in lab.records() + postmasters)
    st = tc("cluster", "status", lab_dir)
    assert "stopped" in st.stdout


def test_up_refuses_a_directory_holding_a_stopped_lab(tmp_path):
    (tmp_path / "lab.json").write_text('{"version": 1, "etcd": [], "shards": []}')
    with pytest.raises(LabError, match="stopped lab"):
        Lab(tmp_path).up(1, 1)


def test_status_of_no_lab(tmp_path):
    r = tc("cluster", "status", tmp_path)
    assert r.returncode == 1 and "holds no lab" in r.stderr
    assert r.stderr.startswith("tracecode cluster status: "), r.stderr   # the verb, not "tracecode cluster:"


def test_up_prints_urls_without_the_password(tmp_path, monkeypatch, capsys):
    from tracecode.cli import main

    def fake_up(self, shards, replicas, **kw):   # the record a started lab of one shard leaves
        self.state = {"passwords": {"postgres": "s3cretPW"}, "etcd": [{"client_port": 2379}],
                      "shards": [{"name": "shard0", "members": [{"name": "m0", "pg_port": 5501},
                                                                 {"name": "m1", "pg_port": 5502}]}]}
    monkeypatch.setattr(Lab, "up", fake_up)
    assert main(["cluster", "up", str(tmp_path / "lab"), "--shards", "1"]) == 0
    out, err = capsys.readouterr()
    assert out == ("shard0\tpostgresql://postgres@127.0.0.1:5501,127.0.0.1:5502/postgres"
                   "?target_session_attrs=read-write&connect_timeout=2\n")
    assert "s3cretPW" not in out + err and "jq -r .passwords.postgres" in err
    lab = Lab(tmp_path / "lab")
    lab.state = {"passwords": {"postgres": "s3cretPW"},
                 "shards": [{"name": "shard0", "members": [{"name": "m0", "pg_port": 5501}]}]}
    assert "s3cretPW" in lab.dsn("shard0")   # what a program connects with keeps it
