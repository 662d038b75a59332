"""The gRPC service over loopback, client and server processes on this machine, each
against grpcio doing nothing in the same run: the same services in a process of their
own, answering from pre-built messages (the same chunks, a typical Answer), called by
the same client code:

- issuance received by a client: reserve a batch, stream its codes, numpy chunks in hand;
- streamed batch verification, against the engine's in-process verify_many;
- unary verification, calls per second with median and p99 latency.

One server process (`--workers 1`): one client connection reaches one worker anyway,
and the client needs the other core.
"""
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest

import tracecode
from bench.conftest import size
from tracecode.index import Verdict
from tracecode.v1 import Client
from tracecode.v1 import limits
from tracecode.v1.testing import ServerProcess

N_ISSUE = size(2_000_000, 20_000_000)
N_ISSUED = size(1_000_000, 10_000_000)
N_SCANS = size(100_000, 1_000_000)
N_CALLS = size(500, 10_000)
CHUNK = limits.DEFAULT_CHUNK_CODES
DRUG = {"drug_id": "8177322"}

NULL_SERVER = """
import asyncio, sys, grpc
from grpc_health.v1 import health, health_pb2_grpc
from tracecode.v1 import common_pb2, issuance_pb2, issuance_pb2_grpc, limits
from tracecode.v1 import verification_pb2, verification_pb2_grpc

CHUNK, WIDTH = int(sys.argv[1]), 20
chunk = issuance_pb2.CodeChunk(count=CHUNK, width=WIDTH, codes=b"0" * (CHUNK * WIDTH))
answer = verification_pb2.Answer(verdict=common_pb2.VERDICT_GENUINE, scheme="cn-drug-20",
                                 code="81773223747426433653", product={"drug_id": "8177322"},
                                 batch_id=1, lot="L1", expiry="20301231",
                                 status=common_pb2.STATUS_COMMISSIONED, scan_count=1)

class Issuance(issuance_pb2_grpc.IssuanceServicer):
    async def RequestBatch(self, request, context):
        return common_pb2.Batch(id=1, count=request.count, product=request.product)

    async def DownloadCodes(self, request, context):
        for _ in range(0, request.count, CHUNK):
            yield chunk

class Verification(verification_pb2_grpc.VerificationServicer):
    async def Verify(self, request, context):
        return answer

async def main():
    server = grpc.aio.server(options=limits.GRPC_OPTIONS)
    issuance_pb2_grpc.add_IssuanceServicer_to_server(Issuance(), server)
    verification_pb2_grpc.add_VerificationServicer_to_server(Verification(), server)
    # the client checks once that a server answers (health): the baseline answers too
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()

asyncio.run(main())
"""


def run(benchmark, fn, codes, role="engine", note="", rounds=3):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A data directory with N_ISSUED codes, half commissioned, served by one process."""
    data = tmp_path_factory.mktemp("bench-service") / "data"
    d = tracecode.init(data)
    batch = d.issue("cn-drug-20", DRUG, N_ISSUED, lot="L1", expiry="20301231")
    step = max(1, N_ISSUED // N_SCANS)
    scans = batch.codes()[::step][:N_SCANS]
    d.apply([{"id": "c", "action": "commission", "codes": scans[: len(scans) // 2]}])
    d.close()
    with ServerProcess(data, workers=1) as server:
        with Client(server.address) as client:
            yield data, server, client, scans


@pytest.fixture(scope="module")
def null_server():
    """The do-nothing servicers, and a Client of them."""
    proc = subprocess.Popen([sys.executable, "-c", NULL_SERVER, str(CHUNK)], stdout=subprocess.PIPE)
    port = int(proc.stdout.readline())
    with Client(f"127.0.0.1:{port}") as client:
        client.whoami  # noqa: B018 - the channel connects on first use
        yield client
    proc.kill()
    proc.wait()


@pytest.mark.benchmark(group="service: issuance to a client")
def test_baseline_grpcio_streaming_prebuilt_chunks(benchmark, null_server):
    def receive():
        return sum(map(len, null_server.request_codes("cn-drug-20", DRUG, N_ISSUE)))
    n = run(benchmark, receive, N_ISSUE, "baseline",
            f"do-nothing servicer: pre-built chunks of {CHUNK:,} codes, same client")
    assert n >= N_ISSUE


@pytest.mark.benchmark(group="service: issuance to a client")
def test_service_request_codes(benchmark, served):
    _, _, client, _ = served

    def issue():
        return sum(map(len, client.request_codes("cn-drug-20", DRUG, N_ISSUE)))
    assert run(benchmark, issue, N_ISSUE,
               note="RequestBatch + DownloadCodes, cn-drug-20, numpy chunks") == N_ISSUE


@pytest.mark.benchmark(group="service: streamed verification")
def test_baseline_in_process_verify_many(benchmark, served):
    data, _, _, scans = served
    with tracecode.open(data) as d:
        run(benchmark, lambda: d.verify_many(scans.tolist(), record=False), len(scans), "baseline",
            "the engine in process, not recorded")


@pytest.mark.benchmark(group="service: streamed verification")
def test_service_verify_many(benchmark, served):
    _, _, client, scans = served
    res = run(benchmark, lambda: client.verify_many(scans, record=False), len(scans),
              note="VerifyStream, 16,384 scans a message, not recorded")
    assert (res.verdicts[: len(scans) // 2] == Verdict.GENUINE).all()


@pytest.mark.benchmark(group="service: streamed verification")
def test_service_verify_many_recorded(benchmark, served):
    _, _, client, scans = served
    run(benchmark, lambda: client.verify_many(scans, place="bench"), len(scans),
        note="VerifyStream, every scan recorded in the scan log")


def _latencies(call, items):
    lat = np.empty(len(items))
    for i, item in enumerate(items):
        t = time.perf_counter()
        call(item)
        lat[i] = time.perf_counter() - t
    return lat


def _note(benchmark, lat, what):
    benchmark.extra_info["note"] = (f"{what}; median {statistics.median(lat) * 1e6:.0f} us, "
                                    f"p99 {np.percentile(lat, 99) * 1e6:.0f} us")


@pytest.mark.benchmark(group="service: unary verification")
def test_baseline_grpcio_unary(benchmark, served, null_server):
    items = served[3][:N_CALLS].tolist()
    lat = []
    run(benchmark, lambda: lat.append(_latencies(lambda s: null_server.verify(s), items)), N_CALLS,
        "baseline")
    _note(benchmark, np.concatenate(lat), "do-nothing Verify (a pre-built Answer), same client")


@pytest.mark.benchmark(group="service: unary verification")
def test_service_verify_unary(benchmark, served, null_server):
    _, _, client, scans = served
    items = scans[: N_CALLS].tolist()
    lat = []
    run(benchmark, lambda: lat.append(_latencies(lambda s: client.verify(s, record=False), items)),
        N_CALLS)
    _note(benchmark, np.concatenate(lat), "Verify, one client thread, not recorded")
    # the machine's speed drifts between tests: the same comparison call by call, interleaved
    ours, theirs = np.empty(len(items)), np.empty(len(items))
    for i, s in enumerate(items):
        t0 = time.perf_counter()
        client.verify(s, record=False)
        t1 = time.perf_counter()
        null_server.verify(s, record=False)
        ours[i], theirs[i] = t1 - t0, time.perf_counter() - t1
    benchmark.extra_info["note"] += (
        f"; interleaved with the do-nothing call: {theirs.sum() / ours.sum():.2f}x its calls/s, "
        f"median {np.median(ours) * 1e6:.0f} vs {np.median(theirs) * 1e6:.0f} us")
