"""Code schemes: built-in national and GS1 layouts, and schemes defined as data.

>>> from tracecode import schemes
>>> drug = schemes.get("cn-drug-20")
>>> drug.length, [f.name for f in drug.code_fields]
(20, ['drug_id', 'serial', 'check'])
>>> drug.capacity  # codes per drug identifier, guessing odds strictly below 1/10,000
99999999
>>> drug.validate("81773220000000000001")
'81773220000000000001'
>>> drug.is_valid("81773220000000000007")
False
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .definition import DefinitionWarning, load_dir, load_scheme, scheme_from_dict
from .render import Layout, layout, render
from .scheme import ALPHABETS, Field, Scheme

BUILTIN_DIR = Path(__file__).parent / "builtin"

__all__ = ["ALPHABETS", "DefinitionWarning", "Field", "Layout", "Scheme", "builtin", "get", "layout",
           "load_dir", "load_scheme", "render", "scheme_from_dict"]


@lru_cache(maxsize=None)
def builtin() -> dict[str, Scheme]:
    """The schemes shipped with tracecode, by name."""
    return load_dir(BUILTIN_DIR)


def get(name: str, available: dict[str, Scheme] | None = None) -> Scheme:
    pool = builtin() if available is None else available
    try:
        return pool[name]
    except KeyError:
        raise KeyError(f"unknown scheme {name!r}; known: {', '.join(sorted(pool))}") from None
