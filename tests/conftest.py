"""Shared test helpers: waiting on conditions with deadlines, never on fixed sleeps (a loaded
machine makes any fixed time too short), and reading a child's output with a deadline."""
from __future__ import annotations

import os
import selectors
import time
from pathlib import Path

import pytest

import tracecode

from freshness import stale


def pytest_configure(config):
    """The default run leaves out tests marked slow (pyproject's addopts); under CI=true the
    same command runs them all, so CI runs exactly the README's test command. An explicit
    `-m` on the command line is left as given."""
    if os.environ.get("CI") == "true" and config.option.markexpr == "not slow":
        config.option.markexpr = ""
    if os.environ.get("TRACECODE_ALLOW_STALE") != "1":
        why = stale(Path(tracecode.__file__).parent)
        if why:
            pytest.exit(f"not testing a stale build: {why} (TRACECODE_ALLOW_STALE=1 runs anyway)",
                        returncode=4)


@pytest.fixture
def d(tmp_path):
    """A fresh data directory, closed after the test."""
    dd = tracecode.init(tmp_path / "data")
    yield dd
    dd.close()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.002, what: str = "condition"):
    """Poll `predicate` until it returns something truthy, and return that; fail the test
    if `timeout` seconds pass first. The interval is short: the point is to stop waiting as
    soon as the condition holds, not to give the machine time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def read_lines(stream, n: int, timeout: float = 30.0) -> bytes:
    """Everything a child wrote to its stdout pipe until at least `n` full lines are in,
    failing the test at the deadline: a child slow to start on a loaded machine is waited
    for, one that hangs is not waited for forever. The bytes are returned whole (a partial
    last line too), so what the caller reads next continues them."""
    fd = stream.fileno()
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while buf.count(b"\n") < n:
            left = deadline - time.monotonic()
            got = buf.count(b"\n")
            if left <= 0 or not sel.select(left):
                pytest.fail(f"timed out after {timeout:g} s with {got} of {n} lines")
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.fail(f"the child closed its output after {got} of {n} lines")
            buf += chunk
    return buf


# A real PostgreSQL for the tests of the PostgreSQL store (tests/postgres_server.py): one server
# per session, a fresh database per test. Absent PostgreSQL: skip with the reason, fail under CI=true.
_pg_counter = iter(range(1, 1 << 30))


@pytest.fixture(scope="session")
def pg_server():
    from postgres_server import PgServer, pg_bindir
    if pg_bindir() is None:
        why = "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb missing)"
        if os.environ.get("CI") == "true":
            pytest.fail(why + ": CI must have it (.ci/run installs postgresql)")
        pytest.skip(why)
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(pg_server):
    """A DSN of a database made for this test only."""
    return pg_server.create_database(f"t_{os.getpid()}_{next(_pg_counter)}")


@pytest.fixture(params=["lmdb", "postgres"])
def store(request, tmp_path):
    """A fresh EPCIS store, once LMDB and once PostgreSQL (a test file may define its own
    `store`, which then wins): the one parameter table must hold on both."""
    from tracecode import schemes
    if request.param == "lmdb":
        from tracecode.store.lmdb.env import open_env
        from tracecode.store.lmdb.store import LmdbStore
        s = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
        yield s
        s.close()
        s.env.close()
    else:
        from tracecode.store.postgres import PgStore
        s = PgStore(request.getfixturevalue("pg_dsn"), schemes.builtin())
        yield s
        s.close()
