"""The storage errors any store raises (the callers catch these, whatever the store)."""
from __future__ import annotations

from ..errors import TracecodeError


class IndexFull(TracecodeError):
    """The store reached its configured limit (LMDB's map), or the disk is full."""


class IndexReadOnly(TracecodeError):
    """A write (issuance, an event, a recorded scan) on an index opened read-only."""
