"""The two kinds of transaction the port verbs of registry, links, assets, EPCIS and the
outbox run in: a write (READ COMMITTED, committed on leaving the block, rolled back if it
raises) and a read of one snapshot (REPEATABLE READ, READ ONLY), each on a connection of the
store's pool (store.pool: a psycopg_pool.ConnectionPool).

run_write runs a body that may meet another writer's locks (EPCIS captures take the
epcis_seq row, lifecycle events their own rows) again when PostgreSQL ends it as a deadlock
or a serialization failure: the transaction was rolled back whole, so running it again is
the same write, not a second one."""
from __future__ import annotations

from contextlib import contextmanager

import psycopg.errors

RETRIES = 5
_RETRIED = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


@contextmanager
def writing(store):
    tx = getattr(store, "tx", None)
    if tx is not None:   # PgStore's: a full disk is IndexFull, a standby IndexReadOnly
        with tx() as conn:
            yield conn
        return
    with store.pool.connection() as conn, conn.transaction():
        yield conn


@contextmanager
def reading(store):
    tx = getattr(store, "tx", None)
    if tx is not None:
        with tx(read_only=True) as conn:
            yield conn
        return
    with store.pool.connection() as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield conn


def run_write(store, body):
    """body(conn) in one write transaction, run again (up to RETRIES times) after a deadlock
    or serialization failure; its value once committed."""
    for attempt in range(RETRIES):
        try:
            with writing(store) as conn:
                return body(conn)
        except _RETRIED:
            if attempt == RETRIES - 1:
                raise


def relation_bytes(conn, tables) -> int:
    """Bytes the tables occupy with their indexes and TOAST (bytes_in_use); 0 for none made."""
    row = conn.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                       "WHERE c.relname = ANY(%s) AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)",
                       [list(tables)]).fetchone()
    return int(row[0])
