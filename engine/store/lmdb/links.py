"""The links of products (GS1 Digital Link resolver targets) in their own LMDB database:

    links        link key (UTF-8) -> JSON list of link dicts     "01/09506000134352",
                                                                  "cn-drug-20/8177322"...

What a key means and what a link holds is the application's (tracecode.app.links and
tracecode.digitallink.links); the store keeps a key's list whole: one put replaces it in
one write transaction, so a reader sees the old list or the new one, never a mix.

The database is made on the first put (a write: on a full disk that is IndexFull, as
every write). Reading a store that never had links, read-only included, finds none
instead of creating the table.
"""
from __future__ import annotations

import json

from ..linkkeys import checked_key
from .env import run_write
from .ondemand import OnDemandTable

NAME = b"links"


def encoded_key(key: str) -> bytes:
    """The stored form of a link key; ValueError for one the table cannot hold."""
    return checked_key(key).encode("utf-8")


class LinksTable(OnDemandTable):
    """The links database of one environment, opened on first use."""

    NAME = NAME

    def get(self, key: str) -> list[dict]:
        db, raw = self._existing(), encoded_key(key)
        if db is None:
            return []
        with self.env.begin(db=db) as txn:
            value = txn.get(raw)
        return json.loads(value) if value else []

    def put(self, key: str, links: list[dict]) -> None:
        raw = encoded_key(key)
        if not isinstance(links, list) or not all(isinstance(x, dict) for x in links):
            raise ValueError("links must be a list of dicts")
        # encoded before the transaction: a value JSON cannot hold writes nothing
        value = json.dumps(links, ensure_ascii=False, separators=(",", ":")).encode() if links else None
        if value is None and self._existing() is None:
            return   # nothing to delete, and no table to make for it
        db = self._made()
        if value is None:
            run_write(self.env, lambda txn: txn.delete(raw, db=db))
        else:
            run_write(self.env, lambda txn: txn.put(raw, value, db=db))

    def keys(self, prefix: str = "") -> list[str]:
        db = self._existing()
        if db is None:
            return []
        start = prefix.encode("utf-8")
        out = []
        with self.env.begin(db=db) as txn:
            cur = txn.cursor()
            if cur.set_range(start):
                for k in cur.iternext(keys=True, values=False):
                    if not k.startswith(start):
                        break
                    out.append(k.decode("utf-8"))
        return out
