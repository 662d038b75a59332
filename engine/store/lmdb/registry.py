"""The LMDB implementation of the port's RegistryStore (store/port.py): the product
registries' tables in the index's environment and their key layouts (the domain of
registries is tracecode.registry; it reaches these tables only through the port's views).

    registry        b"a" + number            -> ApprovalRecord JSON (vet numbers start with
                                                兽药, pesticide ones with two letters: no clash)
                    b"b" + batch id (u64)    -> JSON link of one of our batches to an approval
                    b"i" + import seq (u64)  -> JSON summary of one import (the audit trail)
                    b"n"                     -> next import seq
    registry_index  (dupsort)
                    b"e" + enterprise id     -> number    veterinary approvals by holder
                    b"r" + 7-digit prefix    -> number    pesticide registrations by label code
    registry_codes  code (24 or 32 digits)   -> NATIONAL_CODE_DTYPE record: national code
                                                data, fixed width so a batch of them is one
                                                numpy view
    imported        the index's database (key b"ext\\0" + code, JSON record): written with
                    the national code data, in the same transaction, so those codes verify
"""
from __future__ import annotations

import json
import time

import numpy as np

from ...registry.records import ApprovalRecord
from ..port import NATIONAL_CODE_DTYPE
from .env import open_db, run_write

CODE_DTYPE = NATIONAL_CODE_DTYPE   # the records' layout in registry_codes is the port's
EXT_PREFIX = b"ext\x00"   # the index's key for codes issued elsewhere (Index.import_codes)


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


class RegistryView:
    """A RegistryView (port) over one LMDB transaction: a read, or the write of an import."""

    __slots__ = ("_t", "_txn", "_own")

    def __init__(self, tables: "Store", txn, own: bool = False):
        self._t, self._txn, self._own = tables, txn, own

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._own:   # a read transaction of our own: ended here, nothing to commit
            self._txn.abort()

    def approval(self, number):
        return self._t.get(self._txn, number)

    def numbers_by_enterprise(self, enterprise_id):
        return self._t.numbers(self._txn, b"e" + enterprise_id.encode())

    def numbers_by_prefix(self, prefix):
        return self._t.numbers(self._txn, b"r" + prefix.encode())

    def approvals(self):
        return self._t.records(self._txn)

    def batch_links(self, batch_ids):
        return self._t.links(self._txn, batch_ids)

    def national_codes(self, codes):
        return self._t.code_records(self._txn, codes)

    def imports(self):
        return self._t.imports(self._txn)

    # -- inside a write ----------------------------------------------------------------------
    def put_approval(self, record, old):
        self._t.put(self._txn, record, old)

    def put_national_codes(self, codes, records, imported):
        t, txn = self._t, self._txn
        keys = codes.tolist()   # sorted: each page touched once
        txn.cursor(db=t.codes).putmulti(list(zip(keys, (r.tobytes() for r in records))))
        txn.cursor(db=t.imported).putmulti([(EXT_PREFIX + k, v) for k, v in zip(keys, imported)])

    def log_import(self, summary):
        return self._t.log_import(self._txn, summary)


class Store:
    """The registry tables of one environment (LmdbStore.registry()): the port's verbs
    (reading, write, link_batch) and the transaction-level reads and puts behind them."""

    def __init__(self, env):
        self.env = env
        # created on first use, which writes: a full disk is IndexFull
        self.main = open_db(env, b"registry")
        self.by = open_db(env, b"registry_index", dupsort=True)
        self.codes = open_db(env, b"registry_codes")
        self.imported = open_db(env, b"imported")

    # -- the port's verbs --------------------------------------------------------------------
    def reading(self) -> RegistryView:
        """A view of one read transaction: `with registry.reading() as view:`."""
        return RegistryView(self, self.env.begin(), own=True)

    def write(self, body):
        """body(view) in one write transaction, committed (run_write: a full map grows and
        the whole body runs again; IndexFull with nothing written past the limit)."""
        return run_write(self.env, lambda txn: body(RegistryView(self, txn)))

    def link_batch(self, batch_id: int, number: str, level: int) -> None:
        self.link(batch_id, number, level)

    def link_batch_in(self, write, batch_id: int, number: str, level: int) -> None:
        self.put_link(write, batch_id, number, level)   # write: the LMDB transaction

    # -- approvals -------------------------------------------------------------------------
    def get(self, txn, number: str) -> ApprovalRecord | None:
        raw = txn.get(b"a" + number.encode(), db=self.main)
        return ApprovalRecord.from_bytes(raw) if raw is not None else None

    @staticmethod
    def _index_keys(rec: ApprovalRecord) -> list:
        # by what the record carries, not its kind: a registry category is one module
        return ([b"e" + rec.enterprise_id.encode()] if rec.enterprise_id else []) + (
            [b"r" + rec.code_prefix.encode()] if rec.code_prefix else [])

    def put(self, txn, rec: ApprovalRecord, old: ApprovalRecord | None) -> None:
        value = rec.number.encode()
        if old is not None:
            for k in self._index_keys(old):
                txn.delete(k, value, db=self.by)
        txn.put(b"a" + value, rec.to_bytes(), db=self.main)
        for k in self._index_keys(rec):
            txn.put(k, value, db=self.by, dupdata=True)

    def numbers(self, txn, key: bytes) -> list[str]:
        """Numbers under one secondary key (b"e" + enterprise id, b"r" + code prefix)."""
        cur = txn.cursor(db=self.by)
        return [v.decode() for v in cur.iternext_dup()] if cur.set_key(key) else []

    def records(self, txn):
        """Every approval and registration record, in number order."""
        cur = txn.cursor(db=self.main)
        if cur.set_range(b"a"):
            for k, v in cur:
                if not k.startswith(b"a"):
                    break
                yield ApprovalRecord.from_bytes(v)

    # -- our batches -----------------------------------------------------------------------
    def link(self, batch_id: int, number: str, level: int) -> None:
        run_write(self.env, lambda txn: self.put_link(txn, batch_id, number, level))

    def put_link(self, txn, batch_id: int, number: str, level: int) -> None:
        value = json.dumps({"number": number, "level": level}, ensure_ascii=False).encode()
        txn.put(b"b" + u64(batch_id), value, db=self.main)

    def links(self, txn, batch_ids) -> dict:
        """batch id -> {"number", "level"} for the linked ones."""
        out = {}
        for b in batch_ids:
            raw = txn.get(b"b" + u64(b), db=self.main)
            if raw is not None:
                out[b] = json.loads(raw)
        return out

    # -- national code data ----------------------------------------------------------------
    def code_records(self, txn, codes: np.ndarray):
        """For a sorted, unique S array of codes: (positions found, CODE_DTYPE records)."""
        found = txn.cursor(db=self.codes).getmulti(codes.tolist())
        if not found:
            return np.zeros(0, np.intp), np.zeros(0, CODE_DTYPE)
        keys, values = zip(*found)
        return (np.searchsorted(codes, np.array(keys, dtype=codes.dtype)),
                np.frombuffer(b"".join(values), CODE_DTYPE))

    # -- audit trail -----------------------------------------------------------------------
    def log_import(self, txn, summary: dict) -> int:
        raw = txn.get(b"n", db=self.main)
        seq = int.from_bytes(raw, "big") if raw else 1
        txn.put(b"n", u64(seq + 1), db=self.main)
        summary = {"seq": seq, "time": time.time(), **summary}
        txn.put(b"i" + u64(seq), json.dumps(summary, ensure_ascii=False).encode(), db=self.main)
        return seq

    def imports(self, txn) -> list[dict]:
        cur = txn.cursor(db=self.main)
        out = []
        if cur.set_range(b"i"):
            for k, v in cur:
                if not k.startswith(b"i"):
                    break
                out.append(json.loads(v))
        return out
