"""The PostgreSQL store a serving node holds, when its server goes away and comes back
(engine/store/postgres/connection.py): dropped connections are replaced without the caller
seeing them, a restart is waited out by writes and reads, and a server that stays away is
StoreUnavailable within the store's failover_wait (never a hang), which the transports
answer as unavailable (gRPC UNAVAILABLE, HTTP 503 with Retry-After) so the clients retry.
A real PostgreSQL (tests/postgres_server.py), no lab: fast."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tracecode.app.refusal import refusal_of
from tracecode.store.errors import StoreUnavailable


def _store(dsn):
    from tracecode.store.postgres import PgStore
    return PgStore(dsn, {})


def _count(store, name="drill"):
    return store.write(lambda view: view.next_seq(name, 1))


def _drop_every_connection(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def test_dropped_connections_are_replaced_unseen(pg_dsn):
    store = _store(pg_dsn)
    try:
        firsts = [_count(store) for _ in range(3)]
        with store.reading() as view:   # a pooled connection for each kind of call
            assert view.meta_get("schema_version") == b"1"
        _drop_every_connection(pg_dsn)
        assert _count(store) == firsts[-1] + 1       # a write: nothing lost, nothing twice
        _drop_every_connection(pg_dsn)
        with store.reading() as view:
            assert view.meta_get("schema_version") == b"1"
        _drop_every_connection(pg_dsn)
        assert store.meta_get("schema_version") == b"1"   # tx(read_only=True)
    finally:
        store.close()


@pytest.fixture
def own_server():
    """A PostgreSQL of this test's own, to stop and start."""
    from postgres_server import PgServer, pg_bindir
    if pg_bindir() is None:
        pytest.skip("PostgreSQL is not installed")
    server = PgServer().start()
    try:
        yield server
    finally:
        server.stop(mode="immediate")


def test_a_server_restart_is_waited_out(own_server):
    store = _store(own_server.dsn())
    try:
        before = _count(store)
        own_server._run("pg_ctl", "-D", str(own_server.datadir), "-m", "immediate", "-w", "stop")
        back = threading.Timer(2.0, own_server.start)   # down for 2 s, as a failover's gap
        back.start()
        t = time.monotonic()
        after = _count(store)        # waits for the server, then commits
        waited = time.monotonic() - t
        with store.reading() as view:
            assert view.meta_get("schema_version") == b"1"
        back.join()
        assert after == before + 1 and waited >= 1.5
    finally:
        store.close()


def test_a_server_that_stays_away_is_unavailable_within_the_bound(own_server):
    store = _store(own_server.dsn())
    store.failover_wait = 1.5
    try:
        _count(store)
        own_server._run("pg_ctl", "-D", str(own_server.datadir), "-m", "immediate", "-w", "stop")
        for call in (lambda: _count(store), lambda: store.reading().__enter__(),
                     lambda: store.meta_get("schema_version")):
            t = time.monotonic()
            with pytest.raises(StoreUnavailable, match="unavailable after") as caught:
                call()
            assert time.monotonic() - t < 1.5 + 3   # the bound, and one connect_timeout at most
            refusal = refusal_of(caught.value)
            assert refusal.reason == "unavailable"
        from tracecode.v1.status import code_of
        from tracecode.web.status import http_status
        import grpc
        assert code_of("unavailable") == grpc.StatusCode.UNAVAILABLE
        assert http_status(refusal) == 503
    finally:
        store.close()


def test_a_503_says_when_to_come_back():
    from starlette.requests import Request

    from tracecode.app.refusal import Refusal
    from tracecode.web.errors import refusal_response
    request = Request({"type": "http", "method": "GET", "path": "/api/v1/codes/x", "headers": [],
                       "query_string": b""})
    r = refusal_response(request, Refusal("unavailable", "", "PostgreSQL unavailable"), as_json=True)
    assert r.status_code == 503 and r.headers["retry-after"] == "1"


def _kill_backend_of(conn, dsn):
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.2)   # the backend gone before the block ends


def test_a_read_done_before_its_connection_went_stands(pg_dsn):
    """A read whose body finished, its connection lost only at the ROLLBACK that ends it
    (a failover between the two), returns what it read: nothing was lost (an HTTP verify
    answered 500 for it)."""
    store = _store(pg_dsn)
    try:
        with store.tx(read_only=True) as conn:
            got = conn.execute("SELECT value FROM tc_meta WHERE key = 'schema_version'").fetchone()
            _kill_backend_of(conn, pg_dsn)
        assert bytes(got[0]) == b"1"
        with store.reading() as view:
            assert view.meta_get("schema_version") == b"1"
            _kill_backend_of(view.conn, pg_dsn)
        assert _count(store) >= 1      # and the pool goes on with fresh connections
    finally:
        store.close()


def test_a_write_whose_connection_broke_before_commit_is_run_again(pg_dsn):
    """A body that met (and swallowed) a lost connection must not be reported committed:
    psycopg's transaction exit skips the COMMIT quietly on a broken connection."""
    store = _store(pg_dsn)
    runs = []
    try:
        def body(view):
            runs.append(1)
            n = view.next_seq("drill", 1)
            if len(runs) == 1:
                _kill_backend_of(view.conn, pg_dsn)
                try:
                    view.conn.execute("SELECT 1")
                except psycopg.OperationalError:
                    pass   # swallowed: the connection is broken now
            return n
        n = store.write(body)
        assert len(runs) == 2 and _count(store) == n + 1   # the second run's value was committed
    finally:
        store.close()
