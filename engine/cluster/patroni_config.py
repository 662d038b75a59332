"""The Patroni configuration of one lab member. Written as JSON, which is YAML (Patroni reads
YAML): no YAML writer needed. Every member of a shard is a Patroni node of the same scope;
synchronous_mode (strict) makes a commit wait for one synchronous standby, so an acknowledged
write is on two members, even while a standby is missing; primary_start_timeout 0 makes Patroni
fail over to that standby at once when the primary's postgres dies, instead of restarting it."""
from __future__ import annotations

import json

PG_BIN = "/usr/lib/postgresql/15/bin"


def member_config(*, scope: str, name: str, data_dir: str, pg_port: int, rest_port: int,
                  etcd_hosts: list[str], passwords: dict, pgpass: str,
                  archive_dir: str | None = None) -> dict:
    parameters = {
        "wal_level": "replica", "hot_standby": "on", "max_wal_senders": 10,
        "max_replication_slots": 10, "wal_keep_size": "256MB", "max_connections": 100,
        "shared_buffers": "64MB", "synchronous_commit": "on", "wal_log_hints": "on",
        # no unix socket: everything, Patroni's own connections too, goes over loopback TCP
        "unix_socket_directories": "",
    }
    if archive_dir:
        # WAL archiving for point-in-time restore: each segment copied once, never overwritten
        parameters.update({"archive_mode": "on", "archive_timeout": "60s",
                           "archive_command": f"test ! -f {archive_dir}/%f && cp %p {archive_dir}/%f"})
    hba = ["host replication replicator 127.0.0.1/32 scram-sha-256",
           # `tracecode backup` runs pg_basebackup as the store's user (the superuser here)
           "host replication postgres 127.0.0.1/32 scram-sha-256",
           "host all all 127.0.0.1/32 scram-sha-256"]
    return {
        "scope": scope,
        "namespace": "/tracecode-lab/",
        "name": name,
        "log": {"level": "INFO"},
        "restapi": {"listen": f"127.0.0.1:{rest_port}", "connect_address": f"127.0.0.1:{rest_port}"},
        "etcd3": {"hosts": etcd_hosts},
        "bootstrap": {
            "dcs": {
                # short leases: a dead primary loses its leader key within seconds
                "ttl": 10, "loop_wait": 1, "retry_timeout": 4,
                "maximum_lag_on_failover": 16 << 20,
                "synchronous_mode": True,
                # strict: with no synchronous standby left, commits wait for one to return
                # instead of being acknowledged on the primary alone
                "synchronous_mode_strict": True,
                "primary_start_timeout": 0,
                "postgresql": {"use_pg_rewind": True, "use_slots": True, "parameters": parameters},
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{pg_port}",
            "connect_address": f"127.0.0.1:{pg_port}",
            "data_dir": data_dir,
            "bin_dir": PG_BIN,
            "pgpass": pgpass,
            "pg_hba": hba,
            "authentication": {
                "superuser": {"username": "postgres", "password": passwords["postgres"]},
                "replication": {"username": "replicator", "password": passwords["replicator"]},
                "rewind": {"username": "postgres", "password": passwords["postgres"]},
            },
            "parameters": parameters,
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }


def dumps(config: dict) -> str:
    return json.dumps(config, indent=2) + "\n"
