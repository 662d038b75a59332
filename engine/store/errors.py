"""The storage errors any store raises (the callers catch these, whatever the store)."""
from __future__ import annotations

from ..errors import TracecodeError


class IndexFull(TracecodeError):
    """The store reached its configured limit (LMDB's map), or the disk is full."""


class IndexReadOnly(TracecodeError):
    """A write (issuance, an event, a recorded scan) on an index opened read-only."""


class StoreUnavailable(TracecodeError):
    """The store's server cannot be reached now (a failover under way, a network fault), or
    refused the address: nothing was done or its outcome is unknown, and the same call may be
    tried again (writes are idempotent). Transports answer it as "unavailable": gRPC
    UNAVAILABLE, HTTP 503 with Retry-After, which the clients retry."""
