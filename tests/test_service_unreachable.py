"""A server that is not there is said at once, in one line; one that restarts is
waited for with a visible line per retry, never in silence."""
import asyncio
import socket
import subprocess
import sys
import threading
import time

import pytest

import tracecode
from tracecode.v1 import AsyncClient, Client, Unreachable
from tracecode.v1.testing import ServerProcess

DRUG = {"drug_id": "8177322"}
CODE = "81773220000000000001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tc(*args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "tracecode", *args], input=stdin,
                          capture_output=True, timeout=60)


@pytest.mark.parametrize("verb", [
    ["issue", "--scheme", "cn-drug-20", "-p", "8177322", "-n", "10"],
    ["verify", CODE],
    ["events"],
    ["history", CODE],
    ["registry", "show", "兽药字(2015)010012345"],
], ids=lambda v: " ".join(v[:2]))
def test_the_command_line_says_at_once_that_nothing_listens(verb):
    address = f"127.0.0.1:{free_port()}"  # bound and closed: nothing listens there
    args = [*verb[:2], "--server", address, *verb[2:]] if verb[0] == "registry" \
        else [verb[0], "--server", address, *verb[1:]]
    t0 = time.monotonic()
    out = tc(*args, stdin=b'{"id": "e1", "action": "commission", "codes": ["%s"]}\n' % CODE.encode())
    elapsed = time.monotonic() - t0
    err = out.stderr.decode()
    assert out.returncode == 1, err
    assert err.count("\n") == 1 and f"cannot reach {address}: connection refused" in err, err
    assert elapsed < 10, f"{elapsed:.1f} s"  # the interpreter's start-up included


def test_the_library_raises_unreachable_at_once():
    address = f"127.0.0.1:{free_port()}"
    with Client(address) as c:
        t0 = time.monotonic()
        with pytest.raises(Unreachable) as info:
            c.history(CODE)
        assert time.monotonic() - t0 < 2
        assert str(info.value) == f"cannot reach {address}: connection refused"
        assert info.value.reason == "UNREACHABLE"
        for call in (lambda: c.verify_many([CODE]), lambda: c.send_events([]),
                     lambda: c.download(1).all(), lambda: c.verify(CODE)):
            with pytest.raises(Unreachable):
                call()

    async def asynchronous():
        async with AsyncClient(address) as ac:
            with pytest.raises(Unreachable):
                await ac.history(CODE)
            with pytest.raises(Unreachable):
                await ac.verify_many([CODE])
    asyncio.run(asynchronous())


def test_an_unknown_host_is_said_so():
    with Client("nosuchhost.invalid:50051") as c:
        with pytest.raises(Unreachable, match="cannot reach nosuchhost.invalid:50051: unknown host$"):
            c.schemes()


def test_a_server_that_never_answers_is_unreachable_after_connect_timeout():
    with socket.socket() as silent:  # accepts TCP connections, never speaks HTTP/2
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        with Client(address, connect_timeout=1.0) as c:
            t0 = time.monotonic()
            with pytest.raises(Unreachable) as info:
                c.schemes()
            assert 0.9 < time.monotonic() - t0 < 5
            assert "no answer within 1 s" in str(info.value)


def test_a_restart_is_waited_for_with_one_message_per_retry(tmp_path):
    tracecode.init(tmp_path / "data").close()
    server = ServerProcess(tmp_path / "data").start()
    try:
        heard = []
        with Client(server.address, retry_timeout=30, on_retry=heard.append) as c:
            batch = c.request_batch("cn-drug-20", DRUG, 10)
            server.kill()
            restarted = threading.Event()

            def restart():
                deadline = time.monotonic() + 60  # a client that gave up must not hang the run
                while len(heard) < 2 and time.monotonic() < deadline:  # retried (visibly) twice
                    time.sleep(0.01)
                server.start()
                restarted.set()
            t = threading.Thread(target=restart)
            t.start()
            assert [b.id for b in c.batches()] == [batch.id]  # waited across the restart
            t.join()
            assert restarted.is_set()
        assert len(heard) >= 2
        assert all(server.address in m and "retrying in" in m for m in heard), heard
    finally:
        server.kill()


def test_the_command_line_prints_each_retry():
    """A server that answers its health check but is unavailable for the call twice (a
    restart under way): two lines saying so, then the answer."""
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2_grpc

    from tracecode.v1 import lifecycle_pb2 as lpb
    from tracecode.v1 import lifecycle_pb2_grpc

    class Flaky(lifecycle_pb2_grpc.LifecycleServicer):
        calls = 0

        def History(self, request, context):
            Flaky.calls += 1
            if Flaky.calls <= 2:
                context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
            return lpb.HistoryReply()

    server = grpc.server(futures.ThreadPoolExecutor(2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    lifecycle_pb2_grpc.add_LifecycleServicer_to_server(Flaky(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        out = tc("history", "--server", f"127.0.0.1:{port}", CODE)
    finally:
        server.stop(None)
    lines = out.stderr.decode().splitlines()
    assert out.returncode == 0 and Flaky.calls == 3, out.stderr
    assert len(lines) == 2 and all(f"127.0.0.1:{port}: " in x and "retrying in" in x for x in lines), lines


@pytest.mark.slow  # waits out a stream timeout for each client: about 10 s
def test_streaming_calls_to_a_hung_server_fail_after_stream_timeout(tmp_path):
    """Review 11 #7: with the server stopped (SIGSTOP) after the first contact,
    send_events and verify_many hung silently; now Stalled after stream_timeout."""
    import os
    import signal

    from tracecode.v1 import Stalled
    tracecode.init(tmp_path / "d").close()
    with ServerProcess(tmp_path / "d", workers=1) as server:
        c = Client(server.address, stream_timeout=1.5)
        b = c.request_batch("cn-drug-20", {"drug_id": "8177322"}, 5)
        codes = [x.decode() for x in c.download(b.id).all()]
        for pid in server.processes():
            os.kill(pid, signal.SIGSTOP)
        try:
            calls = [lambda: c.send_events([{"id": "e1", "action": "commission", "codes": codes}]),
                     lambda: c.verify_many(codes), lambda: c.download(b.id).all()]
            for call in calls:
                t0 = time.monotonic()
                with pytest.raises(Stalled, match="no reply for 1.5 s"):
                    call()
                assert time.monotonic() - t0 < 10

            async def run():
                a = AsyncClient(server.address, stream_timeout=1.5)
                a._reached = True   # its first contact was made before the stop
                for call in [lambda: a.send_events([{"id": "e1", "action": "commission",
                                                     "codes": codes}]),
                             lambda: a.verify_many(codes), lambda: a.download(b.id).all()]:
                    with pytest.raises(Stalled):
                        await asyncio.wait_for(call(), 10)
                await a.close()
            asyncio.run(run())
        finally:
            for pid in server.processes():
                os.kill(pid, signal.SIGCONT)
