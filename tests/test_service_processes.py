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


def vm_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def test_stalled_downloads_are_capped_and_hold_bounded_memory(data):
    import grpc

    from tracecode.app.clients import ClientsFile
    from tracecode.v1 import issuance_pb2 as ipb
    from tracecode.v1 import issuance_pb2_grpc
    from tracecode.v1 import limits

    # one client over 20 connections (an open server caps per connection: review 11 #6)
    token = ClientsFile.open_or_create(data.parent / "clients.toml").add("ops", ["admin"])
    server = ServerProcess(data, "--tokens", data.parent / "clients.toml", workers=1).start()
    channels = []
    try:
        (worker,) = server.worker_pids()
        with Client(server.address, token=token) as c:
            batch = c.request_batch("cn-drug-20", DRUG, 10_000_000)  # 200 MB of codes
            assert c.whoami().limits.max_streams_per_client == limits.MAX_STREAMS_PER_CLIENT
        before = vm_rss_mb(worker)

        def open_download():  # its own connection, never read: the client's window fills
            ch = grpc.insecure_channel(server.address, [("grpc.use_local_subchannel_pool", 1)])
            channels.append(ch)
            return issuance_pb2_grpc.IssuanceStub(ch).DownloadCodes(
                ipb.DownloadCodesRequest(batch_id=batch.id),
                metadata=[("authorization", f"Bearer {token}")])

        cap = limits.MAX_STREAMS_PER_CLIENT
        calls = [open_download() for _ in range(20)]
        wait_until(lambda: sum(c.done() for c in calls) == 20 - cap, 20,
                   f"{sum(c.done() for c in calls)} of 20 downloads refused, expected {20 - cap}")
        refused = [c for c in calls if c.done()]
        assert {c.code() for c in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert "at most" in refused[0].details() and "streams open" in refused[0].details()
        open_calls = [c for c in calls if not c.done()]
        assert len(open_calls) == cap
        # each open stream holds about one chunk (1.3 MB) and its copies, not its 200 MB:
        # the server makes the next chunk only when the client takes one
        samples = []
        for _ in range(10):
            time.sleep(0.2)
            samples.append(vm_rss_mb(worker))
        chunk_mb = limits.DEFAULT_CHUNK_CODES * 20 / 2**20
        assert max(samples) - before < cap * 6 * chunk_mb, (before, samples)
        assert samples[-1] - samples[4] < 2 * chunk_mb, samples  # flat, not growing
        # a cancelled stream gives its slot back
        open_calls[0].cancel()

        def one_more_admitted():
            call = open_download()
            try:
                next(call)  # a chunk: admitted; RESOURCE_EXHAUSTED: not yet
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                return False
            call.cancel()
            return True
        wait_until(one_more_admitted, 20, "no slot freed by a cancelled stream")
        for call in open_calls:
            call.cancel()
    finally:
        for ch in channels:
            ch.close()
        server.kill()


HOLDER = r"""
import sys, threading, grpc
from tracecode.v1 import verification_pb2 as vpb, verification_pb2_grpc
ch = grpc.insecure_channel(sys.argv[1])
stub = verification_pb2_grpc.VerificationStub(ch)
never = threading.Event()

def requests():  # one batch, then nothing more: a quiet stream
    yield vpb.VerifyBatchRequest(sequence=1, data=b"x", lengths=(1).to_bytes(4, "little"),
                                 no_record=True)
    never.wait()
md = [("authorization", "Bearer " + sys.argv[3])]
calls = [stub.VerifyStream(requests(), metadata=md) for _ in range(int(sys.argv[2]))]
for call in calls:
    next(call)  # each stream is open and answered once
print("open", flush=True)
sys.stdin.read()
"""


def test_a_vanished_client_gives_its_stream_slots_back(data):
    import subprocess
    import sys

    import grpc

    from tracecode.app.clients import ClientsFile
    from tracecode.v1 import issuance_pb2 as ipb
    from tracecode.v1 import issuance_pb2_grpc
    from tracecode.v1 import limits

    # one client (an open server caps per connection: review 11 #6)
    token = ClientsFile.open_or_create(data.parent / "clients.toml").add("ops", ["admin"])
    server = ServerProcess(data, "--keepalive", "1", "--tokens", data.parent / "clients.toml",
                           workers=1).start()
    holder = None
    try:
        with Client(server.address, token=token) as c:
            batch = c.request_batch("cn-drug-20", DRUG, 10_000_000)
        cap = limits.MAX_STREAMS_PER_CLIENT
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, server.address, str(cap), token],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert holder.stdout.readline() == b"open\n"

        def ninth_admitted():
            with grpc.insecure_channel(server.address,
                                       [("grpc.use_local_subchannel_pool", 1)]) as ch:
                call = issuance_pb2_grpc.IssuanceStub(ch).DownloadCodes(
                    ipb.DownloadCodesRequest(batch_id=batch.id),
                    metadata=[("authorization", f"Bearer {token}")])
                try:
                    next(call)
                except grpc.RpcError as exc:
                    assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, exc
                    return False
                call.cancel()
                return True
        wait_until(lambda: not ninth_admitted(), 10, "the holder's streams were not counted")
        # a client that vanished with its streams open and quiet: no ping is answered
        holder.send_signal(signal.SIGSTOP)
        wait_until(ninth_admitted, 30, "the vanished client's streams still hold their slots")
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
        server.kill()


def test_on_an_open_server_one_connections_streams_do_not_lock_out_another(data):
    """Review 11 #6: without a clients file every caller is LOCAL; one caller holding 8
    idle downloads made every other caller's streams TOO_MANY_STREAMS."""
    import grpc

    from tracecode.v1 import issuance_pb2 as ipb
    from tracecode.v1 import issuance_pb2_grpc
    from tracecode.v1 import limits

    server = ServerProcess(data, workers=1).start()
    channels = []
    try:
        with Client(server.address) as c:
            batch = c.request_batch("cn-drug-20", DRUG, 5_000_000)

        def channel():
            ch = grpc.insecure_channel(server.address, [("grpc.use_local_subchannel_pool", 1)])
            channels.append(ch)
            return issuance_pb2_grpc.IssuanceStub(ch)
        hog = channel()
        held = [hog.DownloadCodes(ipb.DownloadCodesRequest(batch_id=batch.id))
                for _ in range(limits.MAX_STREAMS_PER_CLIENT)]
        for call in held:
            next(call)
        with pytest.raises(grpc.RpcError) as info:   # the hog's own ninth is refused
            next(hog.DownloadCodes(ipb.DownloadCodesRequest(batch_id=batch.id)))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        other = channel().DownloadCodes(ipb.DownloadCodesRequest(batch_id=batch.id, count=10))
        assert sum(chunk.count for chunk in other) == 10   # another connection's is not
        for call in held:
            call.cancel()
    finally:
        for ch in channels:
            ch.close()
        server.kill()
