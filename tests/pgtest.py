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


class PartsStore:
    """The port verbs of tracecode.store.postgres's parts (PORT_MIXINS: registry, links,
    assets, EPCIS, named queries, outbox, leases) over one database, for the port suite
    until the PostgreSQL store's core composes them. What the parts need of the core is
    played by the smallest real thing: write() a transaction whose view has epcis_put, and
    imported codes' records in a table of their own (put_imported_in; reading().imported_one)."""

    def __init__(self, dsn):
        import psycopg
        import psycopg_pool
        from tracecode.store import postgres
        with psycopg.connect(dsn, autocommit=True) as conn:
            for part in postgres.PORT_PARTS:
                for ddl in part.SCHEMA:
                    conn.execute(ddl)
            conn.execute("CREATE TABLE IF NOT EXISTS parts_imported (code text PRIMARY KEY, value bytea)")
        self.dsn = dsn
        self.pool = psycopg_pool.ConnectionPool(dsn, min_size=1, max_size=8, open=True)
        for cls in reversed(postgres.PORT_MIXINS):
            for name, fn in vars(cls).items():
                if callable(fn) and not name.startswith("__"):
                    setattr(self, name, fn.__get__(self))

    def close(self):
        self.pool.close()

    def put_imported_in(self, conn, codes, values):
        conn.execute("INSERT INTO parts_imported SELECT * FROM unnest(%s::text[], %s::bytea[]) "
                     "ON CONFLICT (code) DO UPDATE SET value = excluded.value", [list(codes), list(values)])

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
                def imported_one(code):
                    row = conn.execute("SELECT value FROM parts_imported WHERE code = %s", [code]).fetchone()
                    return None if row is None else bytes(row[0])
                yield SimpleNamespace(conn=conn, imported_one=imported_one)
        return view()

    def bytes_in_use(self, part=None):
        from tracecode.store import postgres
        from tracecode.store.postgres import sqltx
        tables = postgres.PART_TABLES.get(part, ()) if part else [
            t for p in postgres.PORT_PARTS for t in p.TABLES]
        with sqltx.reading(self) as conn:
            return sqltx.relation_bytes(conn, tables)
