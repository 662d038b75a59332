"""`tracecode serve` in a child process for tests and benchmarks, whatever it serves: the
addresses read from its banner (ports 0 resolved), ready once every worker has started
and, for HTTP, /healthz answers; stopped with SIGTERM or killed with SIGKILL. Stopping and
killing return once every process of the server (its process group) is gone.

    with ServeProcess(datadir, "--http", "127.0.0.1:0", "--http-only") as server:
        httpx.get(server.http_url + "/healthz")

(tracecode.v1.testing.ServerProcess is the gRPC-only one, which waits on gRPC health; both
are a ServeChild: the process, its log, and stopping it with its whole group.)
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


class ServeChild:
    """`tracecode serve ARGS` in a session of its own (so kill() reaches the workers too, as a
    crash would), its output in a log; what the gRPC and the HTTP test servers share."""

    def __init__(self, datadir, args, workers: int, timeout: float):
        self.datadir, self.args, self.workers = str(datadir), [str(a) for a in args], workers
        self.timeout = timeout
        self.proc = None
        self.log = tempfile.NamedTemporaryFile("w+", prefix="tracecode-serve-", suffix=".log")

    def spawn(self, extra=(), env: dict | None = None) -> float:
        """Start the process (the log emptied first: a restart reads its own banner); the
        deadline of its start."""
        cmd = [sys.executable, "-m", "tracecode", "serve", self.datadir, *extra,
               "--workers", str(self.workers), *self.args]
        self.log.seek(0)
        self.log.truncate()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, **env} if env else None)
        return time.monotonic() + self.timeout

    def banner(self, pattern: re.Pattern, deadline: float) -> re.Match:
        """The first match of `pattern` in the output; killed and RuntimeError if the
        process ends or the deadline passes first."""
        while True:
            found = pattern.search(self.output())
            if found:
                return found
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"tracecode serve did not start:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def processes(self) -> list:
        """The live processes of this server's process group (parent and workers), pids."""
        return [] if self.proc is None else live_group(self.proc.pid)

    def worker_pids(self) -> list:
        return [pid for pid in self.processes() if pid != self.proc.pid]

    def wait_gone(self, timeout: float = 30.0) -> None:
        """Until no process of the server is left (workers too, not only the parent)."""
        deadline = time.monotonic() + timeout
        while self.processes():
            if time.monotonic() > deadline:
                raise RuntimeError(f"tracecode serve processes {self.processes()} still running "
                                   f"{timeout:.0f} s after the server stopped:\n{self.output()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an init system would; the exit status once every worker is gone too."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(timeout)
        self.wait_gone(timeout)
        return status

    def kill(self) -> None:
        """SIGKILL to the server and its workers at once: a crash."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.wait_gone()

    def kill_parent(self) -> None:
        """SIGKILL to the supervising parent only: its workers must follow it by
        themselves (see server.py); wait_gone() waits for them."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        status = self.stop()
        output = self.output()
        self.log.close()
        if status != 0 and exc[0] is None:
            raise RuntimeError(f"tracecode serve exited with {status}:\n{output}")


class ServeProcess(ServeChild):
    def __init__(self, datadir, *args, workers: int = 1, env: dict | None = None,
                 timeout: float = 60.0, ca: str | None = None, health: str | None = "/healthz"):
        super().__init__(datadir, args, workers, timeout)
        self.env, self.ca, self.health = env, ca, health
        self.grpc_address = self.http_address = None

    @property
    def tls(self) -> bool:
        return "--tls-cert" in self.args

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.http_address}"

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.ca) if self.ca else True

    def start(self) -> "ServeProcess":
        deadline = self.spawn(env=self.env)
        found = self.banner(BANNER, deadline)
        what = found.group(3)
        if "gRPC" in what:
            self.grpc_address = found.group(1)
        if "HTTP" in what:
            self.http_address = HTTP_LINE.search(self.output()).group(1)
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
