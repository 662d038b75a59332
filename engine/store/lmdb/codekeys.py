"""Moved to tracecode.store.codekeys (store-neutral: the PostgreSQL store and the analytics key codes the same way);
this name is the same module."""
import sys

from .. import codekeys as _neutral

sys.modules[__name__] = _neutral
