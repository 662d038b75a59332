"""The cluster layout a capacity plan needs, written next to the report as files to adapt:
one Patroni configuration per PostgreSQL member (engine/cluster/patroni_config.py, the lab's,
with machine addresses instead of loopback) and the tracecode settings (shards, their members,
etcd, the shard map's keys, the serving workers).

On PostgreSQL a replica is not a whole index on its own machines: each shard (a set of products,
placed by the shard map) is one Patroni cluster whose members are the replicas, one machine each.
A plan that needs n machines per replica (disk, memory, cores or the single writer) is n shards,
each machine holding one shard's member, so the machine count is the plan's: shards x replicas.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..cluster import patroni_config

PG_PORT, REST_PORT, ETCD_CLIENT_PORT = 5432, 8008, 2379
ETCD_MEMBERS = 3
SHARDS_KEY = "/tracecode/shards/"    # as the lab registers them (engine/cluster/lab.py)
SHARD_MAP_KEY = "/tracecode/shardmap/"
NAMESPACE = "/tracecode/"
CHANGE_ME = "CHANGE-ME"              # passwords are never generated into a file meant to be copied


def host(shard: int, member: int) -> str:
    return f"shard{shard}-m{member}.db.example"


def shape(plan: dict, workload: dict) -> dict:
    """Shards, members per shard and machines of a plan."""
    shards = max(plan["shards"], plan["machines_per_replica"])
    return {"shards": shards, "replicas": workload["replicas"], "machines": shards * workload["replicas"]}


def member(shard: int, index: int, etcd_hosts: list, workload: dict) -> dict:
    """A Patroni member's configuration: the lab's settings on its machine's address."""
    addr = host(shard, index)
    c = patroni_config.member_config(
        scope=f"shard{shard}", name=f"shard{shard}-m{index}", data_dir="/var/lib/postgresql/15/tracecode",
        pg_port=PG_PORT, rest_port=REST_PORT, etcd_hosts=etcd_hosts,
        passwords={"postgres": CHANGE_ME, "replicator": CHANGE_ME},
        pgpass="/var/lib/postgresql/.pgpass-patroni",
        archive_dir=f"/var/lib/postgresql/wal-archive/shard{shard}")
    c["namespace"] = NAMESPACE
    c["restapi"] = {"listen": f"0.0.0.0:{REST_PORT}", "connect_address": f"{addr}:{REST_PORT}"}
    c["postgresql"]["listen"] = f"0.0.0.0:{PG_PORT}"
    c["postgresql"]["connect_address"] = f"{addr}:{PG_PORT}"
    # the machines' own network: adapt to the subnet the members and serving nodes share
    c["postgresql"]["pg_hba"] = ["host replication replicator samenet scram-sha-256",
                                 "host all all samenet scram-sha-256"]
    c["bootstrap"]["pg_hba"] = c["postgresql"]["pg_hba"]
    params = dict(c["postgresql"]["parameters"])
    # the usual quarter of memory for PostgreSQL's own cache; the rest is the kernel's page cache
    params["shared_buffers"] = f"{max(1, int(workload['machine_memory_gb'] / 4))}GB"
    params["max_connections"] = max(100, 4 * int(workload["machine_cores"]))
    params.pop("unix_socket_directories", None)  # the lab's loopback-only rule; a server keeps its socket
    c["postgresql"]["parameters"] = params
    c["bootstrap"]["dcs"]["postgresql"]["parameters"] = params
    if workload["replicas"] == 1:
        # no standby to wait for: strict synchronous mode would hold every commit for ever
        c["bootstrap"]["dcs"]["synchronous_mode"] = False
        c["bootstrap"]["dcs"]["synchronous_mode_strict"] = False
    return c


def settings(plan: dict, workload: dict, etcd_hosts: list, result: dict) -> dict:
    """The tracecode side: shards and members (the registry the lab writes to etcd), the map."""
    s = shape(plan, workload)
    return {
        "version": 1,
        "store": "postgresql",
        "etcd": etcd_hosts,
        "shard_map": {"in": "etcd", "key": SHARD_MAP_KEY,
                      "placement": "a new product goes to the shard with the fewest products"},
        "shards": [{"name": f"shard{i}", "registry_key": SHARDS_KEY + f"shard{i}",
                    "hosts": [f"{host(i, m)}:{PG_PORT}" for m in range(s["replicas"])],
                    "dbname": "postgres", "synchronous_standbys": 1 if s["replicas"] > 1 else 0}
                   for i in range(s["shards"])],
        "serving": {"machines": s["machines"], "workers_per_machine": workload["machine_cores"],
                    "cores_needed_per_replica": plan["cores"]},
        "plan": {**s, "figures": "postgresql" if "postgres_plan" in result else "lmdb (no --postgres-rates)",
                 "limited_by": plan["limited_by"], "disk_bytes_per_member": plan["disk_bytes"] / s["shards"],
                 "memory_bytes_per_member": plan["memory_bytes"] / s["shards"]},
    }


def readme(s: dict, stem: str) -> str:
    lab = (f"tracecode cluster up LABDIR --shards {s['shards']} --replicas {s['replicas']}"
           if s["shards"] * s["replicas"] <= 16 else
           f"(the lab runs at most 16 members on one machine; this plan has {s['shards'] * s['replicas']})")
    alone = ("\nOne member per shard: no standby, no failover, an acknowledged write is on one machine "
             "only (synchronous mode off). Plan 2 replicas for that.\n" if s["replicas"] == 1 else "")
    etcd = f"{ETCD_MEMBERS} members" if s["machines"] >= ETCD_MEMBERS else "1 member"
    return f"""# Cluster layout of {stem}

{s['shards']} shard{'s' if s['shards'] != 1 else ''} by product x {s['replicas']} members each (a primary and
{s['replicas'] - 1} synchronous standby{'s' if s['replicas'] != 2 else ''}) = {s['machines']} machines, with etcd
({etcd}) on the first machines. Files to adapt, not to run as they are:

- `patroni-shardN-mM.yaml`: one Patroni member per machine (JSON, which is YAML). Replace the
  host names (`*.db.example`), the `{CHANGE_ME}` passwords, `samenet` in pg_hba, the data and
  WAL archive directories.
- `tracecode-cluster.json`: the shards and their members, etcd, where the shard map lives. Register
  each shard as the lab does: `etcdctl put /tracecode/shards/shardN '{{"hosts": [...], "dbname": "postgres"}}'`.

Not loaded by `tracecode cluster up` (the lab picks its own loopback ports); the same shape on
one machine: `{lab}`.
{alone}"""


def write(result: dict, out: Path, stem: str) -> dict:
    """DIR/STEM-cluster/: the Patroni members, tracecode-cluster.json, README.md; their paths.
    The plan on the PostgreSQL store's figures when the result has one, else the LMDB plan's."""
    plan, w = result.get("postgres_plan") or result["plan"], result["workload"]
    s = shape(plan, w)
    folder = out / f"{stem}-cluster"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("patroni-*.yaml"):  # a smaller plan written over a bigger one
        old.unlink()
    members = [(i, m) for i in range(s["shards"]) for m in range(s["replicas"])]
    # three etcd members where there are three machines; else one (two would need both up)
    etcd_hosts = [f"{host(i, m)}:{ETCD_CLIENT_PORT}"
                  for i, m in members[:ETCD_MEMBERS if len(members) >= ETCD_MEMBERS else 1]]
    paths = {}
    for i, m in members:
        p = folder / f"patroni-shard{i}-m{m}.yaml"
        p.write_text(patroni_config.dumps(member(i, m, etcd_hosts, w)))
        paths[p.stem] = p
    paths["settings"] = folder / "tracecode-cluster.json"
    paths["settings"].write_text(json.dumps(settings(plan, w, etcd_hosts, result), indent=1) + "\n")
    paths["readme"] = folder / "README.md"
    paths["readme"].write_text(readme(s, stem))
    return paths
