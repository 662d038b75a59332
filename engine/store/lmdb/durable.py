"""Moved to tracecode.store.durable (store-neutral: files beside any store);
this name is the same module."""
import sys

from .. import durable as _neutral

sys.modules[__name__] = _neutral
