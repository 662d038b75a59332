"""`tracecode serve` in a child process, for tests (ours, and those of sub-platforms
built against the service): a free port, ready once the health service says SERVING,
stopped with SIGTERM or killed with SIGKILL, restartable on the same port. Stopping
and killing return once every process of the server (the parent and all its workers,
which share its process group) is gone, so the port is free for the next start.

    with ServerProcess(datadir, "--tokens", tokens) as server:
        client = Client(server.address, token=...)
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..serve.testing import live_group  # importable from here too, as before serve/ existed

READY = re.compile(r"serving .* on (\S+) with")


class ServerProcess:
    def __init__(self, datadir, *args, workers: int = 1, address: str = "127.0.0.1:0",
                 credentials=None, server_name: str | None = None, timeout: float = 30.0):
        self.datadir, self.args, self.workers = str(datadir), [str(a) for a in args], workers
        self.address = address
        self.credentials, self.server_name, self.timeout = credentials, server_name, timeout
        self.proc = None
        self.log = tempfile.NamedTemporaryFile("w+", prefix="tracecode-serve-", suffix=".log")

    def start(self) -> "ServerProcess":
        cmd = [sys.executable, "-m", "tracecode", "serve", self.datadir, "--address", self.address,
               "--workers", str(self.workers), *self.args]
        self.log.seek(0)
        self.log.truncate()
        # a session of its own: kill() reaches the workers too, as a crash would
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while True:
            found = READY.search(self.output())
            if found:
                self.address = found.group(1)  # the port stays the same on a restart
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"tracecode serve did not start:\n{self.output()}")
            time.sleep(0.05)
        self.wait_serving(deadline)
        return self

    def output(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def channel(self):
        options = [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []
        return grpc.secure_channel(self.address, self.credentials, options) if self.credentials \
            else grpc.insecure_channel(self.address, options)

    def wait_serving(self, deadline: float) -> None:
        with self.channel() as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while True:
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2,
                                       wait_for_ready=True)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)

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
        """SIGTERM, as an init system would; returns the exit status once every worker
        is gone too."""
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
        if self.stop() != 0 and exc[0] is None:
            raise RuntimeError(f"tracecode serve exited with {self.proc.returncode}:\n{self.output()}")
        self.log.close()

