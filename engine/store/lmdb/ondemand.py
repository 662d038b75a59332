"""A named LMDB database made on its first write: reading a store that never had it,
read-only included, finds nothing instead of creating it (a write, on a full disk IndexFull)."""
from __future__ import annotations

from .env import open_db


class OnDemandTable:
    """One named database of an environment, opened on first use (subclasses set NAME)."""

    NAME: bytes = b""

    def __init__(self, env):
        self.env = env
        self._db = None

    def _existing(self):
        """The database, None while it was never made (found out without a write)."""
        if self._db is None:
            with self.env.begin() as txn:   # the main database lists the named ones
                made = txn.get(self.NAME) is not None
            if not made:
                return None
            # A handle opened in a read transaction dies with it: a writable environment
            # opens it in a write transaction (once), as every table here is opened.
            self._db = self.env.open_db(self.NAME, create=False) if self.env.flags().get("readonly") \
                else open_db(self.env, self.NAME)
        return self._db

    def _made(self):
        """The database, made now if it never was (for a write)."""
        if self._db is None:
            self._db = self._existing() or open_db(self.env, self.NAME)
        return self._db
