"""The two kinds of transaction the port verbs of registry, links, assets, EPCIS and the
outbox run in: a write (READ COMMITTED, committed on leaving the block, rolled back if it
raises) and a read of one snapshot (REPEATABLE READ, READ ONLY), each on a connection of the
store's pool."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def writing(store):
    with store.pool.connection() as conn, conn.transaction():
        yield conn


@contextmanager
def reading(store):
    with store.pool.connection() as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield conn
