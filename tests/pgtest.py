"""A throwaway PostgreSQL for tests: one server per session on 127.0.0.1 and a free port
(pg_server), a fresh database per test (pg_dsn). Skips with the reason when PostgreSQL is not
installed, fails under CI=true. PostgreSQL refuses to run as root: then the server runs as
the postgres user, in a directory under /tmp it owns (pytest's own tmp is root's, 0700)."""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

_names = itertools.count(1)


def _bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope="session")
def pg_server():
    """The DSN of the session's server (its postgres database)."""
    bindir = _bindir()
    if bindir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true, but PostgreSQL (initdb) is not installed")
        pytest.skip("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)")
    root = Path(tempfile.mkdtemp(prefix="tracecode-pg-"))
    as_user = []
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    subprocess.run(as_user + [f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
                   check=True, capture_output=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # fsync off: a test server's data need not survive a power cut; commits stay synchronous
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=80"
    subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "log"),
                              "-w", "start"], check=True, capture_output=True)
    try:
        yield f"host=127.0.0.1 port={port} user=postgres"
    finally:
        subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_dsn(pg_server):
    """A fresh, empty database of the session's server, dropped after the test."""
    import psycopg
    name = f"t_{os.getpid()}_{next(_names)}"
    with psycopg.connect(f"{pg_server} dbname=postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{pg_server} dbname={name}"
    with psycopg.connect(f"{pg_server} dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
