"""`tracecode cluster up|down|status DIR`: the local cluster lab (tracecode.cluster): a
3-member etcd and per shard a PostgreSQL primary and synchronous standbys under Patroni, on
loopback only. `down` stops exactly what `up` started (DIR/lab.json)."""
from __future__ import annotations

import json
import sys
import time


def cmd_up(args) -> int:
    from .cluster import Lab
    t0 = time.monotonic()
    lab = Lab(args.dir)
    lab.up(args.shards, args.replicas, archive=not args.no_archive, timeout=args.timeout,
           serve=args.serve)
    print(f"cluster up in {time.monotonic() - t0:.1f} s: etcd {', '.join(lab.etcd_endpoints())}",
          file=sys.stderr)
    for name in lab.shard_names():
        print(f"{name}\t{lab.dsn(name, password=False)}")   # not the superuser's password on stdout
    for w in lab.state.get("workers", []):
        print(f"{w['name']}\tgRPC {w['grpc']}\tHTTP http://{w['http']}/\t{w['datadir']}")
    print(f"(the postgres password: jq -r .passwords.postgres {lab.root / 'lab.json'}; "
          f"stop with: tracecode cluster down {args.dir})",
          file=sys.stderr)
    return 0


def cmd_down(args) -> int:
    from .cluster import Lab
    lab = Lab(args.dir)
    killed = lab.down(timeout=args.timeout)
    print("cluster down" + (f" ({', '.join(killed)} killed after {args.timeout:g} s)" if killed else ""),
          file=sys.stderr)
    return 0


def cmd_status(args) -> int:
    from .cluster import Lab
    st = Lab(args.dir).status()
    if args.json:
        print(json.dumps(st, indent=1))
        return 0
    for e in st["etcd"]:
        print(f"etcd {e['name']}\t{e['endpoint']}\t"
              f"{'healthy' if e['healthy'] else 'running' if e['running'] else 'stopped'}")
    for sh in st["shards"]:
        for m in sh["members"]:
            print(f"{sh['name']}\t{m['name']}\t127.0.0.1:{m['port']}\t{m['role']}\t{m['state']}\t"
                  f"lag {m['lag']}\ttimeline {m['timeline']}")
    for w in st["workers"]:
        print(f"{w['name']}\tgRPC {w['grpc']}\tHTTP {w['http']}\t{'running' if w['running'] else 'stopped'}")
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser("cluster", help="a local cluster lab: etcd, PostgreSQL under Patroni, by shard",
                              description="The local cluster lab, on one machine and loopback only.")
    sub = p.add_subparsers(dest="cluster_command", metavar="up|down|status", required=True)
    s = sub.add_parser("up", help="start etcd (3 members) and per shard a Patroni scope")
    s.add_argument("dir", help="the lab's directory (made; must not hold a lab)")
    s.add_argument("--shards", type=int, default=2, help="PostgreSQL clusters, by product (default 2)")
    s.add_argument("--replicas", type=int, default=2,
                   help="members per shard: a primary and synchronous standbys (default 2)")
    s.add_argument("--no-archive", action="store_true", help="no WAL archive (DIR/archive/SHARD)")
    s.add_argument("--serve", type=int, default=0, metavar="WORKERS",
                   help="also a serving node per shard: `tracecode serve DIR/nodes/SHARD` (its index "
                        "the shard) with WORKERS worker processes, gRPC and HTTP on loopback (default 0: none)")
    s.add_argument("--timeout", type=float, default=180, help="seconds to wait for every shard (180)")
    s.set_defaults(func=cmd_up)
    s = sub.add_parser("down", help="stop every process the lab started")
    s.add_argument("dir")
    s.add_argument("--timeout", type=float, default=60, help="seconds before SIGKILL (60)")
    s.set_defaults(func=cmd_down)
    s = sub.add_parser("status", help="etcd members and each shard's members: role, state, lag")
    s.add_argument("dir")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)
