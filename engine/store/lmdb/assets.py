"""The steps of assets with externally assigned codes (special equipment) in their own LMDB
database:

    assets       code key + step number (u32, big-endian) -> the step (UTF-8 JSON)

What a step means is the category's (tracecode.categories.special_equipment); the store
keeps a code's steps in order, appended and never rewritten or pruned (filling records are
kept at least two years: here, for good). An append names how many steps the code had
when the caller decided it may follow them: it is written only if that is still so, in the
same write transaction as the count, so two filling stations racing on one cylinder cannot
both pass a check made against the same history.

The database is made on the first append; a store that never had one reads no steps.
"""
from __future__ import annotations

from .env import run_write
from .ondemand import OnDemandTable

NAME = b"assets"
MAX_STEPS = 1 << 32


class AssetsTable(OnDemandTable):
    """The assets database of one environment, opened on first use."""

    NAME = NAME

    @staticmethod
    def _steps(txn, db, ref: bytes) -> list:
        out = []
        cur = txn.cursor(db=db)
        if cur.set_range(ref):
            for k, v in cur.iternext():
                if len(k) != len(ref) + 4 or not k.startswith(ref):
                    break
                out.append(bytes(v))
        return out

    def steps(self, ref: bytes) -> list:
        db = self._existing()
        if db is None:
            return []
        with self.env.begin() as txn:
            return self._steps(txn, db, ref)

    def append(self, ref: bytes, expect: int, record: bytes) -> bool:
        """Append record as step number ``expect`` if the code has exactly ``expect`` steps."""
        db = self._made()

        def body(txn):
            have = len(self._steps(txn, db, ref))
            if have != expect:
                return False
            if have >= MAX_STEPS - 1:
                raise ValueError("an asset holds at most 2**32 - 1 steps")
            txn.put(ref + have.to_bytes(4, "big"), record, db=db)
            return True
        return run_write(self.env, body)

    def append_all(self, appends: list) -> bool:
        """append() of each (ref, expect, record) of distinct refs in one write transaction:
        every count checked before anything is put, so False writes nothing."""
        if len({ref for ref, _, _ in appends}) != len(appends):
            raise ValueError("append_all appends one step per code")
        db = self._made()

        def body(txn):
            for ref, expect, _ in appends:
                have = len(self._steps(txn, db, ref))
                if have != expect:
                    return False
                if have >= MAX_STEPS - 1:
                    raise ValueError("an asset holds at most 2**32 - 1 steps")
            for ref, expect, record in appends:
                txn.put(ref + expect.to_bytes(4, "big"), record, db=db)
            return True
        return run_write(self.env, body)
