"""The PostgreSQL store's connection, transactions and schema: the contract every part codes to.

    PgStore(dsn, schemes, *, scan_interval=0.005, pool_size=16)

is one class composed of mixins, one module per part of the port (core.py, batches.py,
records.py, events.py, scanlog.py here; registry, links, assets, EPCIS, outbox, leases,
capture jobs, named queries, purge in modules of their own). A part module declares:

    SCHEMA: list[str]       idempotent DDL (CREATE TABLE/INDEX ... IF NOT EXISTS); every
                            module's list runs at open, in PARTS order (__init__.py), in ONE
                            transaction under an advisory lock, so two processes opening a
                            new database at once make it once. Table names start with tc_.
    class Part              store methods (mixed into PgStore)
    class ViewPart          view methods (mixed into PgView: read and write views alike)
    def opened(store)       optional: run after the schema (start a thread, load a cache)

What a part may use:
    store.pool              a psycopg_pool.ConnectionPool (autocommit off, dict-free tuples)
    store.tx(read_only=False) -> context manager yielding a psycopg Connection inside one
                            transaction (READ COMMITTED; REPEATABLE READ READ ONLY when
                            read_only). Commits on leaving, rolls back on an exception.
    store.write(body)       body(view) in one transaction, committed; returns its value. On a
                            serialization failure or deadlock (up to WRITE_TRIES) or a lost
                            connection (for up to failover_wait, FAILOVER_WAIT s: a failover)
                            the whole body runs AGAIN on a fresh transaction: a body must
                            be idempotent to re-run (no side effects outside the view's
                            connection; a lost COMMIT may have committed: write so that a
                            rerun recognises its own rows, e.g. event ids, ON CONFLICT).
                            A full disk is IndexFull, a standby or read-only database
                            IndexReadOnly, nothing written.
    store.reading()         a view over one REPEATABLE READ READ ONLY transaction (one
                            snapshot), released on leaving the `with` block.
    view.conn               the view's psycopg Connection (inside its transaction)
    view.writing            True inside store.write
    view.next_seq(name, n)  n consecutive values of a named counter (tc_seq), first returned.
                            The counter's row lock is held to commit, so values of one name
                            are handed out in commit order (an outbox may read seq order as
                            commit order); a rolled-back write hands its values out again.
    view.nested(body)       body(view) under a SAVEPOINT: undone if it raises.
    store.meta_get(key) / view.meta_put(key, value)   the tc_meta table (bytea values): the
                            record format, index uuid, suite, schema version.

Failover: give a multi-host URL with target_session_attrs=read-write (`tracecode cluster up`
prints one): the pool's connections go to whichever member is primary. A connection the server
dropped fails at its BEGIN, before anything was done, and the next is tried (the pool makes a
new one, every 0.1-0.5 s); write() also runs its body again after a connection lost mid-way.
A read's body that loses its connection ends in StoreUnavailable, as does any call after
failover_wait: the transports answer it as unavailable (gRPC UNAVAILABLE, HTTP 503 with
Retry-After), which clients retry. Reads go to the primary only, never to a standby: a
client sees its own writes, and the standby's replay may trail its acknowledgement.

Durability: synchronous_commit is forced on for every connection, so a write returns after
its commit is flushed (with a synchronous standby configured: after the standby has it).
Master keys never go into the database: they stay in the data directory or the HSM.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from contextlib import contextmanager

import psycopg
from psycopg import errors as pgerr
from psycopg import pq
from psycopg_pool import ConnectionPool
try:
    from psycopg_pool.base import AttemptWithBackoff
except ImportError:   # psycopg_pool before 3.2.2 names it otherwise: its own backoff then
    AttemptWithBackoff = None

from ...errors import TracecodeError
from ..errors import IndexFull, IndexReadOnly, StoreUnavailable   # the errors callers already catch

SCHEMA_VERSION = 1
WRITE_TRIES = 8          # of a body ended by a serialization failure or a deadlock
# s a call waits for the server to come back (a Patroni failover: about 10 s here, most of it
# the strict synchronous mode waiting for a standby) before StoreUnavailable, which the
# transports answer as unavailable and the clients retry: bounded, never a hang
FAILOVER_WAIT = 20.0
ADVISORY_SCHEMA_LOCK = 0x7472_6163_6531_36   # "trace16": one schema migration at a time

BASE_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS tc_meta (key text PRIMARY KEY, value bytea NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tc_seq (name text PRIMARY KEY, next bigint NOT NULL)",
]


_RETRY = (pgerr.SerializationFailure, pgerr.DeadlockDetected)


def _lost(exc: BaseException, conn) -> bool:
    """A dropped connection (server restart, failover, a killed backend), or none to be had
    (the pool's PoolTimeout is an OperationalError, conn None): worth waiting out."""
    return isinstance(exc, psycopg.OperationalError) and (conn is None or conn.closed or conn.broken)


def _retryable(exc: BaseException, conn) -> bool:
    return isinstance(exc, _RETRY) or _lost(exc, conn)


def _unavailable(dsn: str, exc: BaseException, waited: float) -> StoreUnavailable:
    why = " ".join(str(exc).split()) or type(exc).__name__
    return StoreUnavailable(f"PostgreSQL at {redact(dsn)} unavailable after {waited:.0f} s: {why}")


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, pgerr.DiskFull):
        return IndexFull(f"the PostgreSQL server's disk is full: {exc}")
    if isinstance(exc, (pgerr.ReadOnlySqlTransaction,)):
        return IndexReadOnly(f"the PostgreSQL server accepts no writes (a standby?): {exc}")
    return exc


PROBE_TIMEOUT = 5   # s: connect_timeout of the probe before the pool, unless the DSN sets one

# psycopg_pool logs each failed reconnection on 'psycopg.pool'; with no logging configured
# Python's last-resort handler prints them all on stderr. A library's NullHandler keeps that
# quiet and still lets an application that configures logging see them (they propagate).
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())


class _Sparse(logging.Filter):
    """psycopg_pool warns at each failed reconnection (every 0.1-0.5 s through a failover, a
    paragraph each): one such line per `seconds` tells an operator as much."""

    def __init__(self, seconds: float = 5.0):
        super().__init__()
        self.seconds, self.last = seconds, -1e9

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or not str(record.msg).startswith("error connecting"):
            return True
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


logging.getLogger("psycopg.pool").addFilter(_Sparse())


class _QuickAttempts(AttemptWithBackoff or object):
    """psycopg_pool tries a lost connection again after 1, 2, 4, 8... s: a primary back after
    5 s waits for the attempt at 7, after 10 s for the one at 15. A failover's new primary is
    there within seconds and a refused connection costs a millisecond on loopback, so: every
    0.1 s at first, never more than 0.5 s apart (still giving up after reconnect_timeout)."""

    INITIAL_DELAY = 0.1
    DELAY_BACKOFF = 1.5
    MAX_DELAY = 0.5

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, self.MAX_DELAY)


class _Pool(ConnectionPool):
    """The pool, reconnecting by _QuickAttempts (its first attempt is immediate, as before)."""

    def _add_connection(self, attempt=None, growing: bool = False) -> None:
        if attempt is None and AttemptWithBackoff is not None:
            attempt = _QuickAttempts(timeout=self.reconnect_timeout)
        super()._add_connection(attempt, growing)


def _probe(dsn: str) -> None:
    """Connect once (and close) before making the pool, so that an unreachable server or a
    refused login fails at once with one message instead of the pool retrying for 30 s."""
    from psycopg.conninfo import conninfo_to_dict
    try:
        timeout = {} if "connect_timeout" in conninfo_to_dict(dsn) else {"connect_timeout": PROBE_TIMEOUT}
        psycopg.connect(dsn, **timeout).close()
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot reach PostgreSQL at {redact(dsn)}: "
                               f"{' '.join(str(exc).split())}") from exc


def _configure(conn) -> None:
    conn.execute("SET synchronous_commit = on")
    conn.commit()


class PgView:
    """Base of the view class (PgStore.View mixes every part's ViewPart over it)."""

    __slots__ = ("store", "conn", "writing", "memo", "__weakref__")

    def __init__(self, store, conn, writing: bool):
        self.store, self.conn, self.writing = store, conn, writing
        self.memo = {}   # what a read view read once (one snapshot: it cannot change under it)

    def next_seq(self, name: str, n: int = 1) -> int:
        row = self.conn.execute(
            "INSERT INTO tc_seq AS s (name, next) VALUES (%s, 1 + %s) ON CONFLICT (name) "
            "DO UPDATE SET next = s.next + %s RETURNING next - %s", (name, n, n, n)).fetchone()
        return row[0]

    def nested(self, body):
        with self.conn.transaction():   # a SAVEPOINT inside the view's transaction
            return body(self)

    def meta_put(self, key: str, value: bytes) -> None:
        self.conn.execute("INSERT INTO tc_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) "
                          "DO UPDATE SET value = excluded.value", (key, value))

    def meta_get(self, key: str) -> bytes | None:
        row = self.conn.execute("SELECT value FROM tc_meta WHERE key = %s", (key,)).fetchone()
        return bytes(row[0]) if row else None


# A read's BEGIN is ours, sent on a connection put in autocommit for the read (psycopg then
# adds no BEGIN of its own): one round trip where psycopg's BEGIN and a SET TRANSACTION were
# two. It is still the read's first statement, so a dropped connection fails there (begun).
READ_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def _commit(conn, txn) -> None:
    """Leave an entered psycopg Transaction committing it (once: on failure it is left). On a
    connection already broken psycopg's exit returns quietly without a COMMIT: that is a lost
    connection here, so the write is run again rather than reported done."""
    txn.done = True
    if conn.broken:
        raise psycopg.OperationalError("the connection was lost before its COMMIT")
    txn.__exit__(None, None, None)


def _abandon(conn, txn=None) -> None:
    """Roll back whatever is open; a connection the server dropped is left to the pool,
    which discards it when it comes back."""
    try:
        if txn is not None and not getattr(txn, "done", False):
            txn.__exit__(*sys.exc_info())   # ROLLBACK (psycopg forbids conn.rollback() inside)
        elif not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
            conn.rollback()
        if not conn.closed and conn.autocommit:   # a read's (READ_BEGIN): back as the pool gives them
            conn.autocommit = False
    except psycopg.OperationalError:
        pass


def _end_read(conn) -> None:
    """A read's end: COMMIT while its transaction is sound (a read-only one has nothing to
    commit, and psycopg forgets every prepared statement at a ROLLBACK, with a DEALLOCATE ALL
    round trip: reads ended so planned every query again), ROLLBACK after an error; then the
    connection back in the pool's mode (_abandon)."""
    try:
        if not conn.closed and conn.info.transaction_status == pq.TransactionStatus.INTRANS:
            conn.execute("COMMIT")
    except psycopg.OperationalError:
        pass
    _abandon(conn)


class _Reading:
    """A read view's `with` block: one REPEATABLE READ READ ONLY transaction on a pooled
    connection, returned to the pool on leaving. A class, not @contextmanager: the single
    verify pays for it once per scan."""

    __slots__ = ("_store", "_conn", "_view")

    def __init__(self, store):
        self._store = store

    def __enter__(self):
        s = self._store
        self._conn, _ = s.begun(True)
        conn = self._conn
        self._view = s.View(s, conn, False)
        return self._view

    def __exit__(self, kind, exc, tb):
        conn = self._conn
        try:
            _end_read(conn)
        finally:
            self._store.pool.putconn(conn)
        if exc is not None and _lost(exc, conn):   # the server went mid-read: try again later
            raise _unavailable(self._store.dsn, exc, 0) from exc


class PgConnection:
    """The connection part of PgStore: the pool, transactions, schema (see the module doc)."""

    View = PgView   # replaced by PgStore with the composed view class
    failover_wait = FAILOVER_WAIT   # s a call waits for a lost server (see FAILOVER_WAIT)
    PARTS: tuple = ()   # the part modules, in schema order (PgStore sets it)

    def __init__(self, dsn: str, schemes: dict, *, scan_interval: float = 0.005, pool_size: int = 16):
        self.dsn, self.schemes, self.scan_interval = dsn, schemes, scan_interval
        self._lock = threading.Lock()
        self._pool_size, self._pool = pool_size, None
        self._migrate()
        for part in self.PARTS:
            opened = getattr(part, "opened", None)
            if opened is not None:
                opened(self)

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool, (re)made on first use: a closed store still reads and writes
        (as the LMDB store after close), and close() closes the pool again."""
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    _probe(self.dsn)   # one short try first: an unreachable server is one line, at once
                    try:
                        pool = _Pool(self.dsn, min_size=1, max_size=self._pool_size, open=True,
                                              configure=_configure, kwargs={"autocommit": False},
                                              timeout=30, name="tracecode")
                        pool.wait(timeout=30)
                    except Exception as exc:   # psycopg_pool.PoolTimeout, OperationalError
                        raise StoreUnavailable(f"cannot reach PostgreSQL at {redact(self.dsn)}: {exc}") from exc
                    self._pool = pool
                pool = self._pool
        return pool

    def _migrate(self) -> None:
        """Every part's SCHEMA in one transaction under an advisory lock, and the version row."""
        with self.tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_SCHEMA_LOCK,))
            for ddl in BASE_SCHEMA:
                conn.execute(ddl)
            for part in self.PARTS:
                for ddl in getattr(part, "SCHEMA", ()):
                    conn.execute(ddl)
            row = conn.execute("SELECT value FROM tc_meta WHERE key = 'schema_version'").fetchone()
            have = int(bytes(row[0])) if row else 0
            if have > SCHEMA_VERSION:
                raise TracecodeError(f"this PostgreSQL database has tracecode schema version {have}; "
                                     f"this tracecode knows {SCHEMA_VERSION}: upgrade tracecode")
            conn.execute("INSERT INTO tc_meta (key, value) VALUES ('schema_version', %s) ON CONFLICT "
                         "(key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION).encode(),))

    def begun(self, read_only: bool, deadline: float | None = None):
        """(conn, txn): a pooled connection whose transaction has begun (read_only: READ_BEGIN;
        else txn, psycopg's Transaction, entered: its exit commits or rolls back). A connection
        the server dropped (a failover, a restart) fails at
        BEGIN, before anything was done: it goes back to the pool, which discards it and makes
        another (the multi-host URL's target_session_attrs=read-write finds the new primary),
        and the next is tried, for up to failover_wait; then StoreUnavailable."""
        if deadline is None:
            deadline = time.monotonic() + self.failover_wait
        delay = 0.01
        while True:
            conn = None
            try:
                conn = self.pool.getconn(timeout=max(0.05, deadline - time.monotonic()))
                if read_only:
                    conn.autocommit = True   # READ_BEGIN is the transaction's BEGIN
                    conn.execute(READ_BEGIN)
                    return conn, None
                txn = conn.transaction()
                txn.__enter__()   # BEGIN, the first statement
                return conn, txn
            except BaseException as exc:
                if conn is not None:
                    _abandon(conn)
                    self.pool.putconn(conn)
                if not _lost(exc, conn):
                    raise
                if time.monotonic() >= deadline:
                    raise _unavailable(self.dsn, exc, self.failover_wait) from exc
                time.sleep(delay)   # a failover takes seconds: back off, a little
                delay = min(delay * 2, 0.25)

    @contextmanager
    def tx(self, read_only: bool = False):
        conn, txn = self.begun(read_only)
        try:
            yield conn
            if txn is not None:
                _commit(conn, txn)
        except BaseException as exc:
            _abandon(conn, txn)
            if _lost(exc, conn):
                raise _unavailable(self.dsn, exc, 0) from exc
            new = _translate(exc) if isinstance(exc, Exception) else exc
            if new is exc:
                raise
            raise new from exc
        else:
            if read_only:
                _end_read(conn)   # the read is done: a connection lost now loses nothing
        finally:
            self.pool.putconn(conn)

    def reading(self):
        return _Reading(self)

    def write(self, body):
        """body(view) in one transaction, committed; run again on a serialization failure or
        deadlock (WRITE_TRIES in all) and on a lost connection (for up to failover_wait: a lost
        COMMIT may have committed, which the body's idempotence answers for)."""
        deadline = time.monotonic() + self.failover_wait
        delay, tries = 0.01, 0
        while True:
            conn = None
            try:
                conn, txn = self.begun(False, deadline)
                try:
                    value = body(self.View(self, conn, True))
                    _commit(conn, txn)
                    return value
                except BaseException:
                    _abandon(conn, txn)
                    raise
                finally:
                    self.pool.putconn(conn)
            except StoreUnavailable:
                raise   # begun() waited its failover_wait already
            except Exception as exc:
                tries += isinstance(exc, _RETRY)
                if (tries < WRITE_TRIES and isinstance(exc, _RETRY)) or \
                        (_lost(exc, conn) and time.monotonic() < deadline):
                    time.sleep(delay)
                    delay = min(delay * 2, 0.25)
                    continue
                if _lost(exc, conn):
                    raise _unavailable(self.dsn, exc, self.failover_wait) from exc
                new = _translate(exc)
                if isinstance(exc, psycopg.OperationalError) and new is exc:
                    raise StoreUnavailable(f"PostgreSQL at {redact(self.dsn)}: {exc}") from exc
                if new is exc:
                    raise
                raise new from exc

    def meta_get(self, key: str) -> bytes | None:
        with self.tx(read_only=True) as conn:
            row = conn.execute("SELECT value FROM tc_meta WHERE key = %s", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def close(self) -> None:
        """Stop the parts' background work (committing what is queued) and close the pool."""
        for part in reversed(self.PARTS):
            closing = getattr(part, "closing", None)
            if closing is not None:
                closing(self)
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


def redact(dsn: str) -> str:
    """A DSN fit for a message: no password."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(an unreadable DSN)"
    parts.pop("password", None)
    return make_conninfo(**parts)
