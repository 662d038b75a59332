"""etcd for the lab: the command line of each member of a 3-member cluster on loopback, and a
small client of etcd's v3 JSON gateway (POST /v3/kv/...; keys and values base64) — enough for
health, the shard registry and the shard map, without a client library."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

from ..errors import TracecodeError

ETCD = "/usr/bin/etcd"


def member_cmd(name: str, data_dir, client_port: int, peer_port: int, cluster: str, token: str) -> list:
    """cluster: 'e0=http://127.0.0.1:P0,e1=...' (every member's peer URL)."""
    return [ETCD, "--name", name, "--data-dir", str(data_dir),
            "--listen-client-urls", f"http://127.0.0.1:{client_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", cluster, "--initial-cluster-token", token,
            "--initial-cluster-state", "new",
            # a lab on a loaded 2-core machine: a longer election timeout than the default
            # keeps a slow heartbeat from starting an election
            "--heartbeat-interval", "200", "--election-timeout", "2000",
            "--logger", "zap", "--log-outputs", "stderr"]


class EtcdUnavailable(TracecodeError):
    """No endpoint answered."""


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


class Etcd:
    """A client of the v3 gateway over every endpoint: a request goes to the first that
    answers (a stopped member is skipped)."""

    def __init__(self, endpoints: list[str], timeout: float = 3.0):
        self.endpoints = list(endpoints)
        self.timeout = timeout

    def _post(self, path: str, body: dict) -> dict:
        data = json.dumps(body).encode()
        last = None
        for ep in self.endpoints:
            req = urllib.request.Request(ep + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    return json.loads(r.read() or b"{}")
            except (urllib.error.URLError, OSError) as e:
                last = e
        raise EtcdUnavailable(f"no etcd endpoint answered ({last})")

    def healthy(self, endpoint: str) -> bool:
        try:
            with urllib.request.urlopen(endpoint + "/health", timeout=self.timeout) as r:
                return json.loads(r.read()).get("health") == "true"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def get(self, key: str) -> bytes | None:
        r = self._post("/v3/kv/range", {"key": _b64(key.encode())})
        kvs = r.get("kvs") or []
        return base64.b64decode(kvs[0].get("value", "")) if kvs else None

    def get_prefix(self, prefix: str) -> dict[str, bytes]:
        k = prefix.encode()
        end = k[:-1] + bytes([k[-1] + 1])
        r = self._post("/v3/kv/range", {"key": _b64(k), "range_end": _b64(end)})
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", ""))
                for kv in r.get("kvs") or []}

    def get_prefix_revisions(self, prefix: str) -> dict[str, tuple[bytes, int]]:
        """{key: (value, mod_revision)} of every key under prefix, in one read."""
        k = prefix.encode()
        end = k[:-1] + bytes([k[-1] + 1])
        r = self._post("/v3/kv/range", {"key": _b64(k), "range_end": _b64(end)})
        return {base64.b64decode(kv["key"]).decode(): (base64.b64decode(kv.get("value", "")),
                                                       int(kv.get("mod_revision", 0)))
                for kv in r.get("kvs") or []}

    def txn(self, compare: list, success: list, failure: list) -> dict:
        """One transaction of the v3 gateway (keys and values already base64): its answer."""
        return self._post("/v3/kv/txn", {"compare": compare, "success": success, "failure": failure})

    def put(self, key: str, value: bytes) -> None:
        self._post("/v3/kv/put", {"key": _b64(key.encode()), "value": _b64(value)})

    def create(self, key: str, value: bytes) -> bytes:
        """Put key = value unless key exists, in one transaction; return the value it holds
        afterwards (the existing one when another writer got there first)."""
        k = _b64(key.encode())
        r = self._post("/v3/kv/txn", {
            "compare": [{"key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
            "success": [{"request_put": {"key": k, "value": _b64(value)}}],
            "failure": [{"request_range": {"key": k}}]})
        if r.get("succeeded"):
            return value
        kvs = r["responses"][0]["response_range"].get("kvs") or []
        return base64.b64decode(kvs[0].get("value", "")) if kvs else value
