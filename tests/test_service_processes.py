"""The server's processes: workers die with their parent (kill -9 of the parent leaves
nothing serving and the port free for the next server), and the test helper waits for
every worker, not only the parent."""
import os
import signal
import time

import pytest

import tracecode
from tracecode.v1 import Client
from tracecode.v1.testing import ServerProcess, live_group

DRUG = {"drug_id": "8177322"}


@pytest.fixture
def data(tmp_path):
    tracecode.init(tmp_path / "data").close()
    return tmp_path / "data"


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_workers_die_with_a_killed_parent_and_the_port_is_free_again(data):
    server = ServerProcess(data, workers=2).start()
    try:
        workers = server.worker_pids()
        assert len(workers) == 2, workers
        with Client(server.address) as c:
            assert c.request_batch("cn-drug-20", DRUG, 10).count == 10
        server.kill_parent()  # kill -9 of `tracecode serve`, not of its workers
        wait_until(lambda: not live_group(server.proc.pid), 20,
                   f"workers {live_group(server.proc.pid)} still running without their parent")
        server.start()  # same port: no "Address already in use"
        assert len(server.worker_pids()) == 2
        with Client(server.address) as c:
            assert c.request_batch("cn-drug-20", DRUG, 10).count == 10
        assert server.stop() == 0
        assert server.processes() == []  # stop() returned after the workers, not only the parent
    finally:
        server.kill()


def test_kill_returns_once_every_worker_is_gone(data):
    server = ServerProcess(data, workers=2).start()
    workers = server.worker_pids()
    assert len(workers) == 2
    server.kill()
    assert server.processes() == [] and not any(os.path.exists(f"/proc/{p}/stat") and
                                                 open(f"/proc/{p}/stat").read().split(") ")[1][0] != "Z"
                                                 for p in workers)
