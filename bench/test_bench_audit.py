"""The audit log's append cost with the chain (flock, head cached per process, SHA-256 of
the line, HMAC, a signed checkpoint every 1,000 records) against the unchained append
it replaced (one O_APPEND write of the JSON line), same run; with and without fsync.
And `audit verify` (hash, MAC, signatures of every record) against reading the log.
"""
import json
import os

import pytest

from bench.conftest import size
from tracecode.app.audit import AuditLog, read
from tracecode.app.auditchain import load_keys
from tracecode.app.auditverify import verify

N = size(5_000, 50_000)
N_SYNC = size(300, 3_000)
DETAIL = {"scheme": "cn-drug-20", "product": {"drug_id": "8177322"}, "count": 1000, "idempotency_key": "k-17"}


def _plain(path, n, sync):
    """The log before the chain: one O_APPEND write of the line (+ fsync)."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        for i in range(n):
            rec = {"time": 1.0 + i, "event": "issue_intent", "client": "line-3", "method": "RequestBatch",
                   "peer": "ipv4:127.0.0.1:5000", **DETAIL}
            end = os.fstat(fd).st_size
            if end:
                os.pread(fd, 1, end - 1)
            os.write(fd, json.dumps(rec, separators=(",", ":")).encode() + b"\n")
            if sync:
                os.fsync(fd)
    finally:
        os.close(fd)


def _chained(path, keys, n, sync):
    log = AuditLog(path, keys=keys)
    for _ in range(n):
        log.write("issue_intent", "line-3", "RequestBatch", "ipv4:127.0.0.1:5000", sync=sync, **DETAIL)
    log.close()


def _run(benchmark, tmp_path, fn, n, role, note):
    rounds = iter(range(1_000_000))

    def setup():
        return (tmp_path / f"audit-{next(rounds)}.log",), {}
    benchmark.pedantic(fn, setup=setup, rounds=3, iterations=1)
    benchmark.extra_info.update(codes=n, role=role, note=note)


@pytest.mark.benchmark(group="audit: append, no fsync (records/s)")
def test_plain_append(benchmark, tmp_path):
    _run(benchmark, tmp_path, lambda p: _plain(p, N, False), N, "baseline", "unchained O_APPEND line")


@pytest.mark.benchmark(group="audit: append, no fsync (records/s)")
def test_chained_append(benchmark, tmp_path):
    keys = load_keys(tmp_path)
    _run(benchmark, tmp_path, lambda p: _chained(p, keys, N, False), N, "engine",
         "flock + hash + HMAC, checkpoint / 1,000")


@pytest.mark.benchmark(group="audit: append, fsync each (records/s)")
def test_plain_append_fsync(benchmark, tmp_path):
    _run(benchmark, tmp_path, lambda p: _plain(p, N_SYNC, True), N_SYNC, "baseline", "unchained, fsync")


@pytest.mark.benchmark(group="audit: append, fsync each (records/s)")
def test_chained_append_fsync(benchmark, tmp_path):
    keys = load_keys(tmp_path)
    _run(benchmark, tmp_path, lambda p: _chained(p, keys, N_SYNC, True), N_SYNC, "engine", "chained, fsync")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    where = tmp_path_factory.mktemp("auditlog")
    keys = load_keys(where)
    _chained(where / "audit.log", keys, N, False)
    return where / "audit.log", keys


@pytest.mark.benchmark(group="audit: verify (records/s)")
def test_read_log(benchmark, written):
    path, _ = written
    benchmark.pedantic(read, args=(path,), rounds=3, iterations=1)
    benchmark.extra_info.update(codes=N, role="baseline", note="audit.read: parse every line")


@pytest.mark.benchmark(group="audit: verify (records/s)")
def test_verify_log(benchmark, written):
    path, keys = written
    rep = benchmark.pedantic(verify, args=(path,), kwargs={"keys": keys}, rounds=3, iterations=1)
    assert rep.status == 0 and rep.records > N
    benchmark.extra_info.update(codes=N, role="engine", note="chain, MACs, signatures")
