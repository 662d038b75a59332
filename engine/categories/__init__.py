"""Product categories: one module each, the same vocabulary for all (python-stdnum style).

A category module holds ``CATEGORY = Category(...)`` (see category.py): the
rule that tells its codes from others' (leading prefixes; with its schemes'
lengths, check characters and product fields), its registry checks, its
lifecycle vocabulary and what the public may see. Its schemes are definition
files naming it (``category = "drugs"`` in ``[scheme]``). The modules are found
by scanning this package: adding a category is adding a module.

>>> from tracecode import categories
>>> sorted(categories.ALL)
['drugs', 'generic', 'gs1_trade', 'hazardous', 'livestock', 'pesticides', 'rare_earth',
 'special_equipment', 'veterinary']
>>> categories.of_scheme(categories.schemes_of("drugs")[0]).title
'Drugs and vaccines (药品)'
>>> [c.registry.kind for c in categories.with_registry()]
['vet', 'pesticide']
"""
from __future__ import annotations

import importlib
import pkgutil

from .category import CBV_STEPS, OUR_NAMESPACE, PUBLIC_FIELDS, Category, Registry

_FRAMEWORK = {"category", "detect"}   # modules of this package that are not categories


def _discover() -> dict[str, Category]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name in _FRAMEWORK or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        cat = getattr(module, "CATEGORY", None)
        if isinstance(cat, Category):
            if cat.name != info.name:
                raise ValueError(f"{module.__name__}: CATEGORY.name must be {info.name!r}")
            found[cat.name] = cat
    return found


ALL: dict[str, Category] = _discover()
GENERIC = ALL["generic"]


def get(name: str) -> Category:
    try:
        return ALL[name]
    except KeyError:
        raise KeyError(f"unknown category {name!r}; known: {', '.join(sorted(ALL))}") from None


def of_scheme(scheme) -> Category:
    """The category a scheme belongs to (its definition's ``category``; generic if none)."""
    return ALL.get(scheme.category or "generic", GENERIC)


def schemes_of(name: str, available: dict | None = None) -> list:
    """The schemes (built-in, or of ``available``) that belong to a category."""
    from .. import schemes
    pool = schemes.builtin() if available is None else available
    return [s for _, s in sorted(pool.items()) if (s.category or "generic") == name]


_WITH_REGISTRY: list = [None, []]   # (the ALL it was computed from, the list): per-row callers


def with_registry() -> list[Category]:
    """Categories that have a registry, by their RegistryKind number."""
    if _WITH_REGISTRY[0] is not ALL:   # ALL is replaced, not edited, when categories change
        _WITH_REGISTRY[:] = [ALL, sorted((c for c in ALL.values() if c.registry),
                                         key=lambda c: c.registry.number)]
    return list(_WITH_REGISTRY[1])


def of_registry(kind: str) -> Category:
    """The category whose registry is of this kind ("vet": veterinary)."""
    for c in with_registry():
        if c.registry.kind == kind:
            return c
    raise KeyError(f"unknown registry kind {kind!r}; known: "
                   f"{', '.join(c.registry.kind for c in with_registry())}")


def registry_kinds() -> tuple:
    """Registry kind names indexed by their wire number; 0 (and gaps) None."""
    cats = with_registry()
    out = [None] * (max((c.registry.number for c in cats), default=0) + 1)
    for c in cats:
        out[c.registry.number] = c.registry.kind
    return tuple(out)


__all__ = [
    "ALL",
    "CBV_STEPS",
    "GENERIC",
    "OUR_NAMESPACE",
    "PUBLIC_FIELDS",
    "Category",
    "Registry",
    "get",
    "of_registry",
    "of_scheme",
    "registry_kinds",
    "schemes_of",
    "with_registry",
]
