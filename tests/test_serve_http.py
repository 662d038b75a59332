"""`tracecode serve --http`: HTTP from the same worker processes as gRPC, as real processes on
loopback ports: several workers answer, SIGTERM drains requests in flight and exits 0, TLS with
a certificate made here, and the configurations that are refused before anything starts.

The serving machinery is tested with small apps of tests/serve_apps.py (--http-app), which
name the worker answering; the public window itself (tracecode.web.app) is served by default.
"""
import datetime as dt
import importlib.util
import ipaddress
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import tracecode
from tracecode.serve.config import Config, ServeError, check
from tracecode.serve.testing import ServeProcess

from conftest import wait_until

TESTS = str(Path(__file__).parent)
APPS = {"PYTHONPATH": TESTS + os.pathsep + os.environ.get("PYTHONPATH", "")}
PROBE = ("--http-app", "serve_apps:probe")


@pytest.fixture
def data(tmp_path):
    tracecode.init(tmp_path / "data").close()
    return tmp_path / "data"


def serving(data, *args, workers=1, **kw):
    return ServeProcess(data, *args, workers=workers, env=APPS, **kw)


def pids_seen(url: str, want: int, tries: int = 200, **kw) -> set:
    """The worker pids answering fresh connections (one client each: the kernel spreads
    connections, not requests), until `want` distinct ones or `tries` connections."""
    seen = set()
    for _ in range(tries):
        with httpx.Client(**kw) as client:
            r = client.get(url + "/pid", timeout=10)
            assert r.status_code == 200
            seen.add(r.json()["pid"])
        if len(seen) >= want:
            break
    return seen


def tc(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **APPS})


def test_http_only_spreads_over_the_workers_and_drains_on_sigterm(data):
    with serving(data, "--http", "127.0.0.1:0", "--http-only", *PROBE, workers=2) as server:
        assert server.grpc_address is None and server.http_address.startswith("127.0.0.1:")
        workers = set(server.worker_pids())
        assert len(workers) == 2
        assert pids_seen(server.http_url, 2) == workers
        # a request in flight when SIGTERM comes is answered; then the server exits 0
        got = {}

        def slow():
            got["r"] = httpx.get(server.http_url + "/slow?s=1.5", timeout=30)

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)   # the request reaches its worker before the signal
        server.proc.send_signal(signal.SIGTERM)
        t.join(30)
        assert got["r"].status_code == 200 and got["r"].text.startswith("done ")
        assert server.proc.wait(30) == 0
        server.wait_gone()
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.http_url + "/pid", timeout=5)


def test_grpc_and_http_from_the_same_workers(data):
    from tracecode.v1 import Client
    with serving(data, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", *PROBE,
                 workers=2) as server:
        assert server.grpc_address and server.http_address
        assert server.grpc_address != server.http_address
        workers = set(server.worker_pids())
        assert len(workers) == 2   # two workers serve both: not a process per adapter
        assert pids_seen(server.http_url, 2) == workers
        with Client(server.grpc_address) as c:
            assert "cn-drug-20" in {s.name for s in c.schemes()}
            batch = c.request_codes("cn-drug-20", {"drug_id": "8177322"}, 3)
            codes = [code.decode() for code in batch.all().tolist()]
        # the HTTP app runs over the same Service and data directory
        body = httpx.get(server.http_url + "/schemes", timeout=10).json()
        assert "cn-drug-20" in body["schemes"]
        assert body["base_url"] == server.http_url   # no base URL set: the server's own
        # a worker killed is replaced, and the new one serves both ports
        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(server.worker_pids()) == 2 and victim not in server.worker_pids(),
                   timeout=30, what="a replacement worker")
        new = set(server.worker_pids())
        wait_until(lambda: pids_seen(server.http_url, 2, tries=20) == new, timeout=60,
                   what="HTTP from the replacement")
        with Client(server.grpc_address) as c:
            # issued, never commissioned: the index knows them (a guessed code is NOT_FOUND)
            assert [a.verdict.name for a in c.verify_many(codes, record=False, answers=True)] \
                == ["NOT_COMMISSIONED"] * 3
    assert len(codes) == 3


def test_the_data_directory_base_url_reaches_the_app(tmp_path):
    data = tmp_path / "data"
    assert tc("init", data, "--base-url", "https://trace.example.gov.cn/").returncode == 0
    with serving(data, "--http", "127.0.0.1:0", "--http-only", *PROBE) as server:
        assert httpx.get(server.http_url + "/schemes", timeout=10).json()["base_url"] \
            == "https://trace.example.gov.cn"
        assert "public base URL https://trace.example.gov.cn, from settings.toml" in server.output()


def test_a_request_longer_than_the_grace_is_cut_and_the_worker_still_exits_0(data):
    with serving(data, "--http", "127.0.0.1:0", "--http-only", *PROBE, "--grace", "1") as server:
        got = {}

        def slow():
            try:
                got["r"] = httpx.get(server.http_url + "/slow?s=60", timeout=60)
            except httpx.HTTPError as exc:
                got["error"] = exc

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
        assert time.monotonic() - t0 < 15   # the grace, not the request's 60 s
        t.join(30)
        assert "error" in got or got["r"].status_code >= 500, got


def _tls_pair(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "server.crt", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_over_http(data, tmp_path):
    import grpc
    cert, key = _tls_pair(tmp_path)
    with serving(data, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", *PROBE,
                 "--tls-cert", cert, "--tls-key", key, ca=str(cert)) as server:
        assert server.http_url.startswith("https://")
        r = httpx.get(server.http_url + "/pid", verify=server.ssl_context(), timeout=10)
        assert r.status_code == 200 and r.http_version == "HTTP/1.1"
        with pytest.raises(httpx.ConnectError):   # a client that does not trust the certificate
            httpx.get(server.http_url + "/pid", timeout=10)
        with pytest.raises(httpx.RemoteProtocolError):   # plain text to the TLS port
            httpx.get(server.http_url.replace("https://", "http://") + "/pid", timeout=10)
        # gRPC on the same workers uses the same certificate
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        creds = grpc.ssl_channel_credentials(cert.read_bytes())
        with grpc.secure_channel(server.grpc_address, creds) as ch:
            reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_tls_key_that_is_no_key_stops_the_server_with_one_line(data, tmp_path):
    cert, _ = _tls_pair(tmp_path)
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    r = tc("serve", data, "--http", "127.0.0.1:0", "--http-only", *PROBE, "--workers", "1",
           "--tls-cert", cert, "--tls-key", bad)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "exited with 1 while starting" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--http", "0.0.0.0:0", "--http-only"], "0.0.0.0 (HTTP) is not a loopback address"),
    (["--http-only"], "--http-only needs --http HOST:PORT"),
    (["--http", "127.0.0.1:0", "--http-only", "--listen", "127.0.0.1:0"], "leave out --listen"),
    (["--listen", "127.0.0.1:8999", "--http", "127.0.0.1:8999"], "cannot share"),
    (["--http", "127.0.0.1"], "must be HOST:PORT"),
    (["--http", "127.0.0.1:70000"], "must be HOST:PORT"),
    (["--http", "127.0.0.1:0", "--http-only", "--client-ca", "x.pem"], "applies to gRPC"),
    (["--http-app", "serve_apps:probe"], "--http-app needs --http"),
    (["--http", "127.0.0.1:0", "--http-app", "no colon"], "must be MODULE:FACTORY"),
])
def test_refused_configurations_are_one_line(data, args, message):
    r = tc("serve", data, *args)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert message in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_the_address_rules_for_http(data, tmp_path):
    # HTTP alone beyond loopback needs no clients file (its callers are the public), but TLS
    # or a deliberate --allow-insecure
    check(Config(data, address=None, http="0.0.0.0:8080", allow_insecure=True))
    with pytest.raises(ServeError, match="not a loopback"):
        check(Config(data, address=None, http="0.0.0.0:8080"))
    # gRPC beyond loopback still needs one, with or without HTTP
    with pytest.raises(ServeError, match="needs a clients file"):
        check(Config(data, address="0.0.0.0:50051", http="127.0.0.1:8080", allow_insecure=True))
    with pytest.raises(ServeError, match="nothing to serve"):
        check(Config(data, address=None, http=None))


def test_a_port_already_taken_is_refused(data):
    with serving(data, "--http", "127.0.0.1:0", "--http-only", *PROBE) as server:
        r = tc("serve", data, "--http", server.http_address, "--http-only", *PROBE)
        assert r.returncode == 1 and "cannot listen on" in r.stderr, r.stderr


def test_the_web_table_of_settings_toml_is_checked_before_starting(data):
    (data / "settings.toml").write_text("[web]\nper_minute = 5\n")
    r = tc("serve", data, "--http", "127.0.0.1:0", "--http-only")
    assert r.returncode == 1 and "settings.toml [web]: unknown web setting 'per_minute' (known: " in r.stderr
    (data / "settings.toml").write_text("[web]\nper_address = -1\n")
    r = tc("serve", data, "--http", "127.0.0.1:0", "--http-only")
    assert r.returncode == 1 and "per_address must be a whole number >= 0" in r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    # gRPC alone does not read it
    assert check(Config(data, address="127.0.0.1:0")) is None


@pytest.mark.skipif(importlib.util.find_spec("tracecode.web.app") is None,
                    reason="tracecode.web.app (the public window) has not landed")
def test_the_web_table_reaches_the_public_window(data):
    (data / "settings.toml").write_text("[web]\nper_address = 3\nper_address_burst = 3\n")
    with ServeProcess(data, "--http", "127.0.0.1:0", "--http-only", health=None) as server:
        with httpx.Client() as client:
            statuses = [client.get(server.http_url + "/api/v1/codes/81773220000000000001",
                                   timeout=10).status_code for _ in range(6)]
    assert 429 in statuses and statuses[0] != 429, statuses


def test_the_rate_limits_are_the_servers_not_each_workers(data):
    # 60 a minute, a burst of 20: from one address, over fresh connections that the kernel
    # spreads over two workers, 20 answers (and the refill of the seconds taken), not 40
    (data / "settings.toml").write_text("[web]\nper_address = 60\nper_address_burst = 20\nper_network = 0\n")
    with ServeProcess(data, "--http", "127.0.0.1:0", "--http-only", workers=2) as server:
        t0 = time.monotonic()
        statuses = []
        for _ in range(60):
            with httpx.Client() as client:     # a fresh connection each: any worker
                statuses.append(client.get(server.http_url + "/api/v1/codes/81773220000000000001",
                                           timeout=10).status_code)
        took = time.monotonic() - t0
    answered = statuses.index(429)
    assert 20 <= answered <= 20 + took + 1, (answered, took, statuses)
    assert statuses.count(429) >= 60 - 20 - took - 2, statuses


def test_bad_tokens_are_one_audit_line_a_minute_across_the_workers(data):
    (data / "settings.toml").write_text("[web]\nper_address = 600\nper_address_burst = 100\n")
    audit = data / "audit.log"
    with ServeProcess(data, "--http", "127.0.0.1:0", "--http-only", workers=2) as server:
        before = audit.read_text().count("\n") if audit.exists() else 0
        statuses = set()
        for k in range(30):
            with httpx.Client() as client:     # fresh connections: both workers see some
                statuses.add(client.get(server.http_url + "/api/v1/codes/81773220000000000001", timeout=10,
                                        headers={"authorization": f"Bearer guess{k}"}).status_code)
        assert statuses == {401}
        assert audit.read_text().count("\n") - before == 1


@pytest.mark.skipif(importlib.util.find_spec("tracecode.web.app") is None,
                    reason="tracecode.web.app (the public window) has not landed")
def test_the_public_window_is_served_by_default(data):
    with ServeProcess(data, "--http", "127.0.0.1:0", "--http-only", workers=2) as server:
        for _ in range(10):   # fresh connections: more than one worker answers
            r = httpx.get(server.http_url + "/healthz", timeout=10)
            assert r.status_code == 200
        page = httpx.get(server.http_url + "/c/81773220000000000001", timeout=10)
        assert page.status_code in (200, 404) and "text/html" in page.headers["content-type"]
        assert "Traceback" not in page.text


def test_the_load_generator_counts_requests_statuses_and_latency(data, tmp_path):
    import json
    paths = tmp_path / "paths.txt"
    paths.write_text("/pid\n/nowhere\n")   # one answered, one 404: half and half
    with serving(data, "--http", "127.0.0.1:0", "--http-only", *PROBE) as server:
        r = subprocess.run([sys.executable, "-m", "tracecode.serve.load", server.http_url, "--paths", paths,
                            "--seconds", "1", "--connections", "2"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["requests"] > 20 and got["requests"] == sum(got["statuses"].values())
    assert abs(got["statuses"]["2xx"] - got["statuses"]["4xx"]) <= 2
    assert 0 < got["p50_s"] <= got["p90_s"] <= got["p99_s"] < 1
    assert got["rate"] == pytest.approx(got["requests"] / got["seconds"])
