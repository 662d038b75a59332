"""The lab: start, record, inspect and stop a cluster on one machine, loopback only.

DIR/lab.json records every process started (pid and kernel start time), every port and the
lab's passwords (mode 0600); it is rewritten after each start, so `down` stops exactly what
an `up` started, even one that crashed half way. DIR/etcd/ holds the etcd members' data,
DIR/pg/ the PostgreSQL members' (owned by the postgres user when run as root: PostgreSQL
refuses root), DIR/archive/SHARD/ the archived WAL, DIR/logs/ every process's output."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import TracecodeError
from . import procs
from .etcd import Etcd, EtcdUnavailable, member_cmd
from .patroni_config import dumps, member_config
from .ports import free_ports

PATRONI = "/usr/bin/patroni"
STATE = "lab.json"
SHARDS_KEY = "/tracecode/shards/"   # shard name -> its members (the shard registry)
ETCD_MEMBERS = 3


class LabError(TracecodeError):
    """The lab cannot do what was asked (said why)."""


def missing_tools() -> list[str]:
    """What the lab needs and this machine lacks (the tests skip, or fail under CI, naming it)."""
    need = ("/usr/bin/etcd", PATRONI, "/usr/lib/postgresql/15/bin/postgres")
    return [p for p in need if not os.access(p, os.X_OK)]


def _get_json(url: str, timeout: float = 2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


class Lab:
    def __init__(self, root):
        self.root = Path(root).absolute()
        self.state: dict = {}
        p = self.root / STATE
        if p.exists():
            self.state = json.loads(p.read_text())

    # -- the record -------------------------------------------------------------------------
    def _save(self) -> None:
        p = self.root / STATE
        tmp = p.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.state, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)

    def records(self) -> list[dict]:
        """Every process record of the lab, workers first, etcd last (the order `down` stops)."""
        s = self.state
        out = [w["proc"] for w in s.get("workers", []) if w.get("proc")]
        out += [m["proc"] for sh in s.get("shards", []) for m in sh["members"] if m.get("proc")]
        out += [e["proc"] for e in s.get("etcd", []) if e.get("proc")]
        return out

    def running(self) -> list[dict]:
        return [r for r in self.records() if procs.alive(r)]

    # -- addresses ---------------------------------------------------------------------------
    def etcd_endpoints(self) -> list[str]:
        return [f"http://127.0.0.1:{e['client_port']}" for e in self.state.get("etcd", [])]

    def etcd(self) -> Etcd:
        return Etcd(self.etcd_endpoints())

    def shard(self, name: str) -> dict:
        for sh in self.state.get("shards", []):
            if sh["name"] == name:
                return sh
        raise LabError(f"the lab has no shard {name!r}")

    def shard_names(self) -> list[str]:
        return [sh["name"] for sh in self.state.get("shards", [])]

    def dsn(self, shard: str, *, read_write: bool = True, connect_timeout: int = 2,
            password: bool = True) -> str:
        """A libpq URL naming every member of the shard: the client finds the primary itself
        (target_session_attrs=read-write), before and after a failover. password=False: the URL
        to show (DIR/lab.json holds the password; libpq reads it from PGPASSWORD)."""
        sh = self.shard(shard)
        hosts = ",".join(f"127.0.0.1:{m['pg_port']}" for m in sh["members"])
        user = "postgres:" + self.state["passwords"]["postgres"] if password else "postgres"
        tsa = "read-write" if read_write else "any"
        return (f"postgresql://{user}@{hosts}/postgres"
                f"?target_session_attrs={tsa}&connect_timeout={connect_timeout}")

    def member_dsn(self, shard: str, member: str) -> str:
        m = self.member(shard, member)
        pw = self.state["passwords"]["postgres"]
        return f"postgresql://postgres:{pw}@127.0.0.1:{m['pg_port']}/postgres?connect_timeout=2"

    def member(self, shard: str, name: str) -> dict:
        for m in self.shard(shard)["members"]:
            if m["name"] == name:
                return m
        raise LabError(f"shard {shard!r} has no member {name!r}")

    # -- what Patroni says ------------------------------------------------------------------
    def members_view(self, shard: str) -> list[dict]:
        """Patroni's view of the shard (GET /cluster from the first member that answers):
        name, role (leader, sync_standby, replica), state, lag."""
        for m in self.shard(shard)["members"]:
            code, body = _get_json(f"http://127.0.0.1:{m['rest_port']}/cluster")
            if code == 200 and body:
                return body.get("members", [])
        return []

    def primary(self, shard: str) -> dict | None:
        """The member Patroni names leader and that runs as primary, None during a failover."""
        for v in self.members_view(shard):
            if v.get("role") == "leader" and v.get("state") == "running":
                return self.member(shard, v["name"])
        return None

    def postmaster(self, shard: str, member: str) -> dict | None:
        return procs.postmaster_of(Path(self.member(shard, member)["data_dir"]))

    def kill_primary_postgres(self, shard: str) -> str:
        """kill -9 the primary's postmaster (Patroni on that member lives on); its name."""
        # Patroni's view may trail a restart by a loop: look again for a few seconds
        deadline = time.monotonic() + 10
        while True:
            p = self.primary(shard)
            pm = procs.postmaster_of(Path(p["data_dir"])) if p else None
            if pm is not None:
                os.kill(pm["pid"], signal.SIGKILL)
                return p["name"]
            if time.monotonic() > deadline:
                raise LabError(f"shard {shard} has no primary with a running postmaster now"
                               + (f" (Patroni names {p['name']})" if p else ""))
            time.sleep(0.1)

    def shard_ready(self, shard: str) -> bool:
        """A running leader, and with two or more members a synchronous standby streaming."""
        view = self.members_view(shard)
        n = len(self.shard(shard)["members"])
        roles = [v.get("role") for v in view if v.get("state") in ("running", "streaming")]
        if "leader" not in roles:
            return False
        return n < 2 or "sync_standby" in roles

    def wait_ready(self, shards=None, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        todo = list(shards or self.shard_names())
        while todo:
            todo = [s for s in todo if not self.shard_ready(s)]
            if not todo:
                return
            if time.monotonic() > deadline:
                raise LabError(f"shards {', '.join(todo)} not ready after {timeout:g} s "
                               f"(see {self.root / 'logs'})")
            procs.reap()
            time.sleep(0.2)

    # -- up -----------------------------------------------------------------------------------
    def up(self, shards: int = 2, replicas: int = 2, *, archive: bool = True,
           timeout: float = 180.0, serve: int = 0) -> None:
        """serve: also a serving node per shard (`tracecode serve` with that many workers)."""
        if shards < 1 or replicas < 1:
            raise LabError("--shards and --replicas must be at least 1")
        if shards * replicas > 16:
            raise LabError("the lab runs at most 16 PostgreSQL members on one machine")
        if (self.root / STATE).exists():
            if self.running():
                raise LabError(f"{self.root} runs a lab already (tracecode cluster down {self.root})")
            raise LabError(f"{self.root} holds a stopped lab; remove it or choose another DIR")
        if missing_tools():
            raise LabError(f"missing: {', '.join(missing_tools())} (apt-get install etcd-server "
                           f"patroni postgresql)")
        self.root.mkdir(parents=True, exist_ok=True)
        uid, gid = procs.owner()
        for sub in ("etcd", "pg", "archive", "logs"):
            (self.root / sub).mkdir(exist_ok=True)
            os.chown(self.root / sub, uid, gid)
            os.chmod(self.root / sub, 0o700)
        self._check_reachable(self.root / "pg")
        ports = free_ports(2 * ETCD_MEMBERS + 2 * shards * replicas)
        self.state = {"version": 1, "created": time.time(), "shards_wanted": shards,
                      "replicas": replicas,
                      "passwords": {"postgres": secrets.token_urlsafe(18),
                                    "replicator": secrets.token_urlsafe(18)},
                      "etcd": [], "shards": [], "workers": []}
        for i in range(ETCD_MEMBERS):
            self.state["etcd"].append({"name": f"e{i}", "client_port": ports.pop(0),
                                       "peer_port": ports.pop(0), "proc": None})
        for s in range(shards):
            members = []
            for r in range(replicas):
                name = f"shard{s}-m{r}"
                members.append({"name": name, "pg_port": ports.pop(0), "rest_port": ports.pop(0),
                                "data_dir": str(self.root / "pg" / name), "proc": None})
            self.state["shards"].append({"name": f"shard{s}", "members": members,
                                         "archive": str(self.root / "archive" / f"shard{s}")
                                         if archive else None})
        self._save()
        try:
            self._start_etcd()
            self._start_patroni()
            self.wait_ready(timeout=timeout)
            self._register_shards()
            if serve:
                self._start_nodes(serve, timeout)
        except BaseException:
            self.down()
            raise

    def _check_reachable(self, path: Path) -> None:
        """The postgres user must reach DIR (root's tmp directories are 0700)."""
        r = subprocess.run(["/usr/bin/test", "-w", str(path)], **procs.run_as())
        if r.returncode != 0:
            raise LabError(f"the user the lab runs PostgreSQL as cannot write {path}: choose a "
                           f"DIR whose parents it may enter")

    def _start_etcd(self) -> None:
        token = "tracecode-lab-" + secrets.token_hex(6)
        cluster = ",".join(f"{e['name']}=http://127.0.0.1:{e['peer_port']}" for e in self.state["etcd"])
        for e in self.state["etcd"]:
            cmd = member_cmd(e["name"], self.root / "etcd" / e["name"], e["client_port"],
                             e["peer_port"], cluster, token)
            e["proc"] = procs.spawn(f"etcd {e['name']}", cmd, self.root / "logs" / f"etcd-{e['name']}.log")
            self._save()
        client = self.etcd()
        deadline = time.monotonic() + 60
        while not all(client.healthy(ep) for ep in self.etcd_endpoints()):
            if time.monotonic() > deadline:
                raise LabError(f"etcd not healthy after 60 s (see {self.root / 'logs'})")
            self._check_started()
            time.sleep(0.1)

    def _start_patroni(self) -> None:
        uid, gid = procs.owner()
        hosts = [f"127.0.0.1:{e['client_port']}" for e in self.state["etcd"]]
        for sh in self.state["shards"]:
            if sh["archive"]:
                Path(sh["archive"]).mkdir(exist_ok=True)
                os.chown(sh["archive"], uid, gid)
            for m in sh["members"]:
                cfg = member_config(scope=f"tracecode-{sh['name']}", name=m["name"],
                                    data_dir=m["data_dir"], pg_port=m["pg_port"],
                                    rest_port=m["rest_port"], etcd_hosts=hosts,
                                    passwords=self.state["passwords"],
                                    pgpass=str(self.root / "pg" / f"{m['name']}.pgpass"),
                                    archive_dir=sh["archive"])
                path = self.root / "pg" / f"{m['name']}.yml"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(dumps(cfg))
                os.chown(path, uid, gid)
                m["config"] = str(path)
                env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root / "pg"), "LC_ALL": "C.UTF-8"}
                m["proc"] = procs.spawn(f"patroni {m['name']}", [PATRONI, path],
                                        self.root / "logs" / f"{m['name']}.log", env=env,
                                        cwd=self.root / "pg")
                self._save()

    def _start_nodes(self, workers: int, timeout: float) -> None:
        """Per shard a data directory DIR/nodes/SHARD whose index is the shard (its multi-host
        URL in settings.toml, the password from PGPASSWORD) and `tracecode serve` on it, gRPC
        and HTTP on free loopback ports, as this user; up once its banner is in its log."""
        import sys

        from ..datadir import init
        env = {**os.environ, "PGPASSWORD": self.state["passwords"]["postgres"]}
        (self.root / "nodes").mkdir(exist_ok=True)
        for sh in self.state["shards"]:
            datadir = self.root / "nodes" / sh["name"]
            saved = os.environ.get("PGPASSWORD")
            os.environ["PGPASSWORD"] = env["PGPASSWORD"]
            try:
                init(datadir, store=self.dsn(sh["name"], password=False)).close()
            finally:
                if saved is None:
                    del os.environ["PGPASSWORD"]
                else:
                    os.environ["PGPASSWORD"] = saved
            grpc_port, http_port = free_ports(2)
            node = {"name": f"node-{sh['name']}", "shard": sh["name"], "datadir": str(datadir),
                    "grpc": f"127.0.0.1:{grpc_port}", "http": f"127.0.0.1:{http_port}"}
            cmd = [sys.executable, "-m", "tracecode", "serve", datadir, "--listen", node["grpc"],
                   "--http", node["http"], "--workers", str(workers)]
            node["proc"] = procs.spawn(node["name"], cmd, self.root / "logs" / f"{node['name']}.log",
                                       env=env, as_postgres=False)
            self.state["workers"].append(node)
            self._save()
        deadline = time.monotonic() + timeout
        for node in self.state["workers"]:
            log = Path(node["proc"]["log"])
            while "tracecode: serving " not in log.read_text(errors="replace"):
                if not procs.alive(node["proc"]) or time.monotonic() > deadline:
                    raise LabError(f"{node['name']} did not start (see {log})")
                time.sleep(0.1)

    def _check_started(self) -> None:
        dead = [r["name"] for r in self.records() if r and not procs.alive(r)]
        if dead:
            raise LabError(f"exited at start: {', '.join(dead)} (see {self.root / 'logs'})")

    def _register_shards(self) -> None:
        """The shard registry in etcd: each shard's members, where a ShardedStore finds them."""
        client = self.etcd()
        for sh in self.state["shards"]:
            hosts = [f"127.0.0.1:{m['pg_port']}" for m in sh["members"]]
            client.put(SHARDS_KEY + sh["name"], json.dumps({"hosts": hosts, "dbname": "postgres"}).encode())

    # -- status ----------------------------------------------------------------------------------
    def status(self) -> dict:
        if not self.state:
            raise LabError(f"{self.root} holds no lab (tracecode cluster up {self.root})")
        client = self.etcd()
        out = {"dir": str(self.root), "etcd": [], "shards": [], "workers": []}
        for e, ep in zip(self.state["etcd"], self.etcd_endpoints()):
            out["etcd"].append({"name": e["name"], "endpoint": ep,
                                "running": bool(e["proc"]) and procs.alive(e["proc"]),
                                "healthy": client.healthy(ep)})
        for sh in self.state["shards"]:
            view = {v["name"]: v for v in self.members_view(sh["name"])}
            members = []
            for m in sh["members"]:
                v = view.get(m["name"], {})
                members.append({"name": m["name"], "port": m["pg_port"],
                                "patroni": bool(m["proc"]) and procs.alive(m["proc"]),
                                "role": v.get("role", "-"), "state": v.get("state", "-"),
                                "lag": v.get("lag", "-"), "timeline": v.get("timeline", "-")})
            out["shards"].append({"name": sh["name"], "members": members,
                                  # without the password (DIR/lab.json holds it)
                                  "dsn": self.dsn(sh["name"], password=False)})
        for w in self.state.get("workers", []):
            out["workers"].append({"name": w["name"], "running": procs.alive(w["proc"]),
                                   "grpc": w.get("grpc"), "http": w.get("http"),
                                   "datadir": w.get("datadir")})
        return out

    # -- down ----------------------------------------------------------------------------------
    def down(self, timeout: float = 60.0) -> list[str]:
        """Stop every recorded process (workers, Patroni and the postmasters it started, etcd)
        and return what had to be killed (did not stop on SIGTERM within timeout)."""
        if not self.state:
            raise LabError(f"{self.root} holds no lab")
        s = self.state
        killed = procs.stop([w["proc"] for w in s.get("workers", []) if w.get("proc")], timeout)
        # Patroni stops its postgres on SIGTERM; a postmaster whose Patroni died (-9) is
        # found by its data directory's postmaster.pid
        killed += procs.stop([m["proc"] for sh in s.get("shards", []) for m in sh["members"]
                              if m.get("proc")], timeout)
        leftover = [pm for sh in s.get("shards", []) for m in sh["members"]
                    if (pm := procs.postmaster_of(Path(m["data_dir"])))]
        # SIGINT: PostgreSQL's fast shutdown
        for pm in leftover:
            procs.signal_rec(pm, signal.SIGINT)
        killed += procs.stop(leftover, timeout)
        killed += procs.stop([e["proc"] for e in s.get("etcd", []) if e.get("proc")], timeout)
        s["stopped"] = time.time()
        self._save()
        return killed


def members_online(lab: Lab, shard: str) -> int:
    return sum(1 for v in lab.members_view(shard) if v.get("state") in ("running", "streaming"))


__all__ = ["Lab", "LabError", "EtcdUnavailable", "missing_tools", "members_online"]
