"""`tracecode serve` in a child process for tests and benchmarks, whatever it serves: the
addresses read from its banner (ports 0 resolved), ready once every worker has started
and, for HTTP, /healthz answers; stopped with SIGTERM or killed with SIGKILL. Stopping and
killing return once every process of the server (its process group) is gone.

    with ServeProcess(datadir, "--http", "127.0.0.1:0", "--http-only") as server:
        httpx.get(server.http_url + "/healthz")

(tracecode.v1.testing.ServerProcess is the gRPC-only one, which waits on gRPC health.)
"""
from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time

BANNER = re.compile(r"serving .* on (\S+) with (\d+) worker processes \(([^,)]+)")
HTTP_LINE = re.compile(r"HTTP on (\S+): open")


class ServeProcess:
    def __init__(self, datadir, *args, workers: int = 1, env: dict | None = None,
                 timeout: float = 60.0, ca: str | None = None, health: str | None = "/healthz"):
        self.datadir, self.args, self.workers = str(datadir), [str(a) for a in args], workers
        self.env = env
        self.timeout, self.ca, self.health = timeout, ca, health
        self.proc = None
        self.grpc_address = self.http_address = None
        self.log = tempfile.NamedTemporaryFile("w+", prefix="tracecode-serve-", suffix=".log")

    @property
    def tls(self) -> bool:
        return "--tls-cert" in self.args

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.http_address}"

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.ca) if self.ca else True

    def start(self) -> "ServeProcess":
        cmd = [sys.executable, "-m", "tracecode", "serve", self.datadir,
               "--workers", str(self.workers), *self.args]
        self.log.seek(0)
        self.log.truncate()
        env = {**os.environ, **self.env} if self.env else None
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.monotonic() + self.timeout
        while True:
            out = self.output()
            found = BANNER.search(out)
            if found:
                what = found.group(3)
                if "gRPC" in what:
                    self.grpc_address = found.group(1)
                if "HTTP" in what:
                    self.http_address = HTTP_LINE.search(out).group(1)
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"tracecode serve did not start:\n{self.output()}")
            time.sleep(0.05)
        if self.http_address and self.health:
            self.wait_http(deadline)
        return self

    def wait_http(self, deadline: float) -> None:
        import httpx
        while True:
            try:
                if httpx.get(self.http_url + self.health, verify=self.ssl_context(),
                             timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.http_url}{self.health} did not answer 200:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def processes(self) -> list:
        return [] if self.proc is None else live_group(self.proc.pid)

    def worker_pids(self) -> list:
        return [pid for pid in self.processes() if pid != self.proc.pid]

    def wait_gone(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.processes():
            if time.monotonic() > deadline:
                raise RuntimeError(f"tracecode serve processes {self.processes()} still running "
                                   f"{timeout:.0f} s after the server stopped:\n{self.output()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM; the exit status once every worker is gone too."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(timeout)
        self.wait_gone(timeout)
        return status

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.wait_gone()

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        status = self.stop()
        output = self.output()
        self.log.close()
        if status != 0 and exc[0] is None:
            raise RuntimeError(f"tracecode serve exited with {status}:\n{output}")


def live_group(pgid: int) -> list:
    """Pids of the processes in process group `pgid` that are not zombies (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(b")") + 2:].split()  # after "pid (comm) "
        if int(fields[2]) == pgid and fields[0] != b"Z":
            out.append(int(entry))
    return out
