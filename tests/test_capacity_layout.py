"""The cluster layout a plan writes: shards x members, Patroni files Patroni's own validator
accepts (but for the example host names it cannot resolve), the tracecode settings."""
import json
import os
import shutil
import subprocess

import pytest
import yaml

from tracecode.capacity import layout

WORKLOAD = {"replicas": 2, "machine_cores": 32, "machine_memory_gb": 256.0}


def plan(shards=1, machines_per_replica=5):
    return {"shards": shards, "machines_per_replica": machines_per_replica, "cores": 4,
            "limited_by": "disk", "disk_bytes": 66e12, "memory_bytes": 319e9}


def test_machines_per_replica_become_shards_each_with_a_member_per_replica(tmp_path):
    paths = layout.write({"plan": plan(), "workload": WORKLOAD}, tmp_path, "capacity")
    folder = tmp_path / "capacity-cluster"
    members = sorted(p.name for p in folder.glob("patroni-*.yaml"))
    assert members == [f"patroni-shard{s}-m{m}.yaml" for s in range(5) for m in range(2)]
    s = json.loads(paths["settings"].read_text())
    assert [sh["name"] for sh in s["shards"]] == [f"shard{i}" for i in range(5)]
    assert s["shards"][3]["hosts"] == ["shard3-m0.db.example:5432", "shard3-m1.db.example:5432"]
    assert s["shards"][0]["registry_key"] == "/tracecode/shards/shard0" and len(s["etcd"]) == 3
    assert s["plan"]["machines"] == 10 and s["plan"]["disk_bytes_per_member"] == pytest.approx(66e12 / 5)
    c = yaml.safe_load((folder / "patroni-shard3-m1.yaml").read_text())
    assert c["scope"] == "shard3" and c["name"] == "shard3-m1"
    assert c["postgresql"]["connect_address"] == "shard3-m1.db.example:5432"
    assert c["bootstrap"]["dcs"]["synchronous_mode_strict"] is True
    assert c["postgresql"]["parameters"]["shared_buffers"] == "64GB"
    assert "lab" in (folder / "README.md").read_text() and "--shards 5 --replicas 2" in paths["readme"].read_text()
    # a smaller plan written over it leaves no stale member behind
    layout.write({"plan": plan(machines_per_replica=1), "workload": WORKLOAD}, tmp_path, "capacity")
    assert len(list(folder.glob("patroni-*.yaml"))) == 2


def test_the_single_writer_can_set_the_shards(tmp_path):
    layout.write({"plan": plan(shards=3, machines_per_replica=2), "workload": {**WORKLOAD, "replicas": 3}},
                 tmp_path, "p")
    assert len(list((tmp_path / "p-cluster").glob("patroni-*.yaml"))) == 9


def test_patroni_validates_a_member_but_for_the_example_hosts(tmp_path):
    if shutil.which("patroni") is None:
        why = "patroni is not installed (apt-get install patroni)"
        if os.environ.get("CI") == "true":
            pytest.fail(why + ": CI must have it (.ci/run installs it)")
        pytest.skip(why)
    paths = layout.write({"plan": plan(), "workload": WORKLOAD}, tmp_path, "capacity")
    r = subprocess.run(["patroni", "--validate-config", str(paths["patroni-shard0-m0"])],
                       capture_output=True, text=True, timeout=60)
    problems = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert problems, "the validator resolves etcd hosts: the example names must fail that only"
    assert all(p.startswith("etcd3.hosts.") and "db.example" in p for p in problems), problems


def test_one_replica_has_no_synchronous_standby_to_wait_for(tmp_path):
    paths = layout.write({"plan": plan(machines_per_replica=2), "workload": {**WORKLOAD, "replicas": 1}},
                         tmp_path, "one")
    c = yaml.safe_load(paths["patroni-shard1-m0"].read_text())
    assert c["bootstrap"]["dcs"]["synchronous_mode"] is False
    assert c["bootstrap"]["dcs"]["synchronous_mode_strict"] is False
    assert "no failover" in paths["readme"].read_text()
    settings = json.loads(paths["settings"].read_text())
    assert settings["shards"][0]["synchronous_standbys"] == 0
    assert len(settings["etcd"]) == 1  # two machines: one etcd member (two would need both up)
