"""`tracecode serve` in a child process, for tests (ours, and those of sub-platforms
built against the service): a free port, ready once the health service says SERVING,
stopped with SIGTERM or killed with SIGKILL, restartable on the same port. Stopping
and killing return once every process of the server (the parent and all its workers,
which share its process group) is gone, so the port is free for the next start.

    with ServerProcess(datadir, "--tokens", tokens) as server:
        client = Client(server.address, token=...)
"""
from __future__ import annotations

import re
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..serve.testing import ServeChild, live_group  # noqa: F401 - live_group: importable from here, as before

READY = re.compile(r"serving .* on (\S+) with")


class ServerProcess(ServeChild):
    def __init__(self, datadir, *args, workers: int = 1, address: str = "127.0.0.1:0",
                 credentials=None, server_name: str | None = None, timeout: float = 30.0):
        super().__init__(datadir, args, workers, timeout)
        self.address = address
        self.credentials, self.server_name = credentials, server_name

    def start(self) -> "ServerProcess":
        deadline = self.spawn(["--address", self.address])
        self.address = self.banner(READY, deadline).group(1)  # the port stays the same on a restart
        self.wait_serving(deadline)
        return self

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
