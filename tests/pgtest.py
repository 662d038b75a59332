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
from contextlib import contextmanager
from pathlib import Path

import pytest

_names = itertools.count(1)


def _bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@contextmanager
def server(fsync: bool = False):
    """A PostgreSQL server for the block: its DSN (without dbname). fsync off for tests (their
    data need not survive a power cut; commits stay synchronous), on for benchmarks."""
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
    opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=80"
            f" -c fsync={'on' if fsync else 'off'}")
    subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "log"),
                              "-w", "start"], check=True, capture_output=True)
    try:
        yield f"host=127.0.0.1 port={port} user=postgres"
    finally:
        subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    """The DSN of the session's server (without dbname)."""
    with server() as dsn:
        yield dsn


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


# the core's table the registries' national codes go to (tracecode.store.postgres.core)
IMPORTED_DDL = "CREATE TABLE IF NOT EXISTS tc_imported (ref bytea PRIMARY KEY, value bytea NOT NULL)"


def parts():
    """The PostgreSQL store's parts this file's PartsStore composes."""
    from tracecode.store.postgres import alerts, assets, epcis, leases, links, outbox, queries, registry
    return (registry, links, assets, epcis, queries, outbox, leases, alerts)


class PartsStore:
    """The port verbs of the PostgreSQL store's parts (registry, links, assets, EPCIS, named
    queries, outbox, leases, alerts: each module's Part) over one database, for the port suite while
    the store's core is not composed with them. What the parts need of the core is played by
    the smallest real thing: write() a transaction whose view has conn and epcis_put, and the
    core's imported-codes table (tc_imported) with reading().imported_one."""

    def __init__(self, dsn):
        import psycopg
        import psycopg_pool
        with psycopg.connect(dsn, autocommit=True) as conn:
            for part in parts():
                for ddl in part.SCHEMA:
                    conn.execute(ddl)
            conn.execute(IMPORTED_DDL)
        self.dsn = dsn
        self.pool = psycopg_pool.ConnectionPool(dsn, min_size=1, max_size=8, open=True)
        for part in reversed(parts()):
            for name, fn in vars(part.Part).items():
                if callable(fn) and not name.startswith("__"):
                    setattr(self, name, fn.__get__(self))

    def close(self):
        self.pool.close()

    def write(self, body):
        from types import SimpleNamespace

        from tracecode.store.postgres import epcis, sqltx
        with sqltx.writing(self) as conn:
            return body(SimpleNamespace(conn=conn, epcis_put=lambda records: epcis.put(conn, records)))

    def reading(self):
        from contextlib import contextmanager
        from types import SimpleNamespace

        from tracecode.store.postgres import sqltx

        @contextmanager
        def view():
            with sqltx.reading(self) as conn:
                def imported_one(ref):
                    row = conn.execute("SELECT value FROM tc_imported WHERE ref = %s", [ref]).fetchone()
                    return None if row is None else bytes(row[0])
                yield SimpleNamespace(conn=conn, imported_one=imported_one)
        return view()

    def bytes_in_use(self, part=None):
        from tracecode.store.postgres import epcis, leases, outbox, queries, sqltx
        tables = (epcis.TABLES + queries.TABLES + outbox.TABLES + leases.TABLES) if part == "epcis" else \
            [t for p in parts() for t in p.TABLES] if part is None else ()
        with sqltx.reading(self) as conn:
            return sqltx.relation_bytes(conn, tables)
