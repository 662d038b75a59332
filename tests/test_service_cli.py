"""The command line with --server gives what the local verbs give; `tracecode token`;
the asyncio client; SIGTERM drains in-flight calls and commits; startup refusals."""
import asyncio
import json
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import tracecode
from tracecode.index import Verdict
from tracecode.v1 import AsyncClient, Client
from tracecode.app.clients import ClientsFile, token_hash
from tracecode.serve.config import Config, ServeError, check
from tracecode.v1.testing import ServerProcess

from conftest import wait_until

DRUG = {"drug_id": "8177322"}


def tc(*args, stdin=None, env=None):
    args = [a.decode() if isinstance(a, bytes) else str(a) for a in args]
    return subprocess.run([sys.executable, "-m", "tracecode", *args], input=stdin,
                          capture_output=True, timeout=120, env=env)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """A server without a clients file: open, on loopback only (every caller is `local`)."""
    data = tmp_path_factory.mktemp("cli") / "data"
    tracecode.init(data).close()
    with ServerProcess(data) as server:
        yield data, server


def test_cli_verbs_with_server_match_the_local_verbs(open_server, tmp_path):
    data, server = open_server
    out = tmp_path / "codes.txt"
    r = tc("issue", "--server", server.address, "--scheme", "cn-drug-20", "-p", "8177322",
           "-n", "1000", "--lot", "B7", "--out", out)
    assert r.returncode == 0, r.stderr
    start = int(re.search(rb"counters ([\d,]+)\.\.", r.stderr).group(1).replace(b",", b""))
    codes = out.read_bytes().split()
    with tracecode.open(data) as d:
        assert codes == d.issuer("cn-drug-20", DRUG).codes(start, 1000).tolist()
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in [
        {"id": "cli-1", "action": "commission", "codes": [c.decode() for c in codes[:600]]},
        {"id": "cli-2", "action": "sell", "codes": [codes[900].decode()]}]) + "\n")
    r = tc("events", "--server", server.address, events)
    assert r.returncode == 1 and r.stdout.decode().startswith("REJECTED cli-2: cannot sell")
    assert b"1 events applied, 1 rejected" in r.stderr
    scans = b"\n".join(codes[590:610]) + b"\nnot a code\n"
    remote = tc("verify", "--server", server.address, "--no-record", stdin=scans)
    local = tc("verify", data, "--no-record", stdin=scans)
    assert remote.returncode == local.returncode == 1
    assert remote.stdout == local.stdout and remote.stdout.count(b"GENUINE") == 10
    one = tc("verify", "--server", server.address, codes[0], "--place", "Hangzhou")
    assert one.returncode == 0 and one.stdout.startswith(b"GENUINE cn-drug-20 " + codes[0])
    with tracecode.open(data) as d:  # the scan log commits every 5 ms
        wait_until(lambda: any(h["kind"] == "scan" for h in d.history(codes[0].decode())),
                   what="the scan's group commit")
    remote = tc("history", "--server", server.address, codes[0])
    local = tc("history", data, codes[0])
    assert remote.returncode == 0 and remote.stdout == local.stdout
    assert [json.loads(line)["kind"] for line in remote.stdout.splitlines()] == ["event", "scan"]


def test_cli_errors_are_one_line(open_server):
    data, server = open_server
    r = tc("verify", "--server", server.address, "--no-record", "8177322000000000000X", "--tls")
    assert r.returncode == 1 and r.stderr.count(b"\n") == 1, r.stderr
    assert f"cannot reach {server.address}: TLS handshake failed".encode() in r.stderr, r.stderr
    r = tc("verify")
    assert r.returncode == 2 and b"give a data directory DIR, or --server" in r.stderr
    r = tc("history", "--server", server.address, "81773220000000000000")
    assert r.returncode == 1 and b"INVALID_ARGUMENT" in r.stderr
    r = tc("issue", data, "--server", server.address, "--scheme", "cn-drug-20", "-p", "1", "-n", "1")
    assert r.returncode == 1 and b"not both" in r.stderr


def test_token_command(tmp_path):
    f = tmp_path / "clients.toml"
    r = tc("token", "add", f, "--name", "line-1", "--role", "issuer",
           "--product", "cn-drug-20:drug_id=8177322", "--product", "gs1-sgtin:gtin=0952123*")
    assert r.returncode == 0, r.stderr
    token = r.stdout.decode().strip()
    assert token.startswith("tc_") and token not in f.read_text()
    assert token_hash(token) in f.read_text() and oct(f.stat().st_mode)[-3:] == "600"
    assert tc("token", "add", f, "--name", "plant-cert", "--role", "issuer", "--product",
              "cn-vet-24:enterprise=00002", "--certificate-cn", "plant.example").returncode == 0
    who = ClientsFile.load(f).by_token(token)
    assert who.name == "line-1" and who.owns("gs1-sgtin", {"gtin": "09521234543213"})
    assert not who.owns("gs1-sgtin", {"gtin": "09621234543213"})
    assert ClientsFile.load(f).by_cn["plant.example"].owns("cn-vet-24", {"date": "20260101",
                                                                         "enterprise": "00002"})
    listed = tc("token", "list", f).stdout.decode().splitlines()
    assert listed == ["line-1\tissuer\tcn-drug-20:drug_id=8177322,gs1-sgtin:gtin=0952123*\ttoken",
                      "plant-cert\tissuer\tcn-vet-24:enterprise=00002\tcertificate CN=plant.example"]
    r = tc("token", "add", f, "--name", "line-1", "--role", "scanner")
    assert r.returncode == 1 and b"used twice" in r.stderr
    r = tc("token", "add", f, "--name", "bad", "--role", "issuer")
    assert r.returncode == 1 and b"an issuer needs products" in r.stderr
    r = tc("token", "add", f, "--name", "tracecode:regulator-sessions", "--role", "scanner")
    assert r.returncode == 1 and b"the engine's own" in r.stderr
    assert tc("token", "revoke", f, "line-1").returncode == 0
    assert ClientsFile.load(f).by_token(token) is None


def test_serve_refuses_unsafe_configurations(tmp_path):
    data = tmp_path / "data"
    tracecode.init(data).close()
    with pytest.raises(ServeError, match="not a loopback address"):
        check(Config(data, address="0.0.0.0:50051"))
    with pytest.raises(ServeError, match="needs a clients file"):
        check(Config(data, address="0.0.0.0:50051", allow_insecure=True))
    with pytest.raises(ServeError, match="together"):
        check(Config(data, tls_cert=tmp_path / "x.pem"))
    check(Config(data, address="[::1]:0"))
    r = tc("serve", data, "--address", "0.0.0.0:0")
    assert r.returncode == 1 and b"--allow-insecure" in r.stderr
    with ServerProcess(data) as server:  # a taken port is refused, even by a SO_REUSEPORT server
        r = tc("serve", data, "--address", server.address)
        assert r.returncode == 1 and b"cannot listen" in r.stderr


def test_async_client(open_server):
    data, server = open_server

    async def main():
        async with AsyncClient(server.address) as c:
            assert (await c.whoami()).name == "local"
            dl = await c.request_codes("cn-drug-20", DRUG, 20_000, chunk_codes=6_000,
                                       idempotency_key="async-1")
            codes = await dl.all()
            again = await c.request_batch("cn-drug-20", DRUG, 20_000, idempotency_key="async-1")
            assert again.id == dl.batch.id and len(np.unique(codes)) == 20_000
            part = await c.download(dl.batch.id, offset=100, count=50).all()
            assert (part == codes[100:150]).all()
            r = await c.report_commissioned("async-c", batch_id=dl.batch.id, ranges=[(0, 100)])
            assert r["ok"]
            results = await c.send_events([{"id": "async-s", "action": "ship",
                                             "codes": [codes[0].decode()]}])
            assert results[0]["ok"]
            v = await c.verify_many(codes[:200], answers=True)
            assert [a.verdict for a in v][:100] == [Verdict.GENUINE] * 100
            assert (await c.verify(codes[0])).status == "shipped"
            deadline = time.monotonic() + 10  # the scan log commits every 5 ms
            while [h["kind"] for h in await c.history(codes[0].decode())].count("scan") < 2:
                assert time.monotonic() < deadline, "the scans were never committed"
                await asyncio.sleep(0.002)
            assert [h["kind"] for h in await c.history(codes[0].decode())] == [
                "event", "event", "scan", "scan"]
            assert dl.batch.id in {b.id for b in await c.batches("cn-drug-20")}
    asyncio.run(main())


def test_sigterm_drains_in_flight_calls_and_commits(tmp_path):
    data = tmp_path / "data"
    tracecode.init(data).close()
    server = ServerProcess(data).start()
    c = Client(server.address, retry_timeout=0)
    dl = c.request_codes("cn-drug-20", DRUG, 1_000_000, chunk_codes=20_000)
    it = iter(dl)
    first = next(it)
    scanned = c.verify_many(first[:5000]).verdicts  # recorded; committed by the shutdown
    assert (scanned == Verdict.NOT_COMMISSIONED).all()
    stopper = threading.Thread(target=lambda: setattr(server, "status", server.stop()))
    stopper.start()
    rest = list(it)  # the in-flight download finishes within the grace period
    stopper.join()
    assert server.status == 0 and "Traceback" not in server.output()
    assert sum(map(len, rest)) + len(first) == 1_000_000 and dl.resumed == 0
    c.close()
    with tracecode.open(data) as d:
        again = d.verify_many(first[:5000].tolist(), record=False)
        assert (again.records["scan_count"] == 2).all()  # the committed scan, and this one
