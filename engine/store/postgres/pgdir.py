"""A data directory whose index lives in PostgreSQL: DIR keeps the keys (or names the HSM),
the schemes, settings.toml (`store = "postgresql://..."`) and index.stamp; the database
keeps everything else. Master keys never go into the database.

The index's identity holds as for LMDB: the database's tc_meta carries the index uuid and
the cipher suite, DIR/index.stamp the same uuid; a data directory refuses a database stamped
by another (or by none: the database of `tracecode init` only), and one of another suite."""
from __future__ import annotations

from ...errors import KeyStoreError
from .. import stamp
from . import PgStore, highwater
from .connection import redact

UUID_KEY, SUITE_KEY = "index_uuid", "crypto_suite"


def create(dd, url: str, index_class, fmt: bytes):
    store = PgStore(url, dd.schemes)
    try:
        uuid = stamp.new_uuid()

        def mark(view):
            have = view.meta_get(UUID_KEY)
            if have is not None:
                raise KeyStoreError(f"{redact(url)} already holds the index {have.decode()} of another "
                                    f"data directory: give `tracecode init --store` an empty database")
            view.meta_put(UUID_KEY, uuid.encode())
            view.meta_put(SUITE_KEY, dd.keyring.suite.name.encode())
        store.write(mark)
        index = index_class(None, dd.schemes, dd.master_key, store=store)
        highwater.attach(store, dd.path, uuid)   # the counters' mark outside the database
        stamp.write(dd.path, uuid, fmt.decode(), crypto=dd.keyring.suite.name)
    except BaseException:
        store.close()
        raise
    index.keyring = dd.keyring
    return index


def open_index(dd, url: str, index_class):
    store = PgStore(url, dd.schemes)
    try:
        inner = store.meta_get(UUID_KEY)
        mine = (stamp.read(dd.path) or {}).get("index")
        if inner is None or mine is None or inner.decode() != mine:
            raise KeyStoreError(f"{redact(url)} holds index {inner.decode() if inner else '(none)'}, but "
                                f"{dd.path / stamp.NAME} names {mine or '(none)'}: this database is not "
                                f"this data directory's index")
        suite = (store.meta_get(SUITE_KEY) or b"aes").decode()
        if suite != dd.keyring.suite.name:
            raise KeyStoreError(f"{redact(url)} was made with cipher suite {suite!r}, but {dd.path}'s keys "
                                f"are {dd.keyring.suite.name!r}: refusing to mix suites")
        index = index_class(None, dd.schemes, dd.master_key, store=store)
        highwater.attach(store, dd.path, mine)   # moves counters past the mark after a restore
    except BaseException:
        store.close()
        raise
    index.keyring = dd.keyring
    return index
