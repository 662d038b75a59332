"""What a link key (store/port.py: links_get, links_put) may be, in every store: the LMDB
store's limit (its keys stop at 511 bytes) kept by the others too, so a key one store takes
another never refuses."""
from __future__ import annotations

MAX_KEY_BYTES = 256     # a link key is a GTIN and lot, or a product: far below it


def checked_key(key) -> str:
    """A link key a store can hold; ValueError otherwise."""
    if not isinstance(key, str) or not key:
        raise ValueError("a link key must be non-empty text")
    raw = key.encode("utf-8")
    if len(raw) > MAX_KEY_BYTES or "\x00" in key:
        raise ValueError(f"a link key is at most {MAX_KEY_BYTES} bytes of UTF-8 without NUL "
                         f"({len(raw):,} given)")
    return key
