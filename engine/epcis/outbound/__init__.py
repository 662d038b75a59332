"""Outbound formats of subscription deliveries: one module per format, found by scanning
this package (as tracecode.categories finds its categories), so a national exchange format
(SB/T 10681 for meat and vegetables, GB/T 38156, NMPA's drug data exchange) is a module added
here, the core untouched.

A format module holds ``FORMAT = Format(...)``: its name (what a subscription names in
``format``), the media type of its bodies, and ``render(events, delivery)`` -> bytes, one
delivery's body from the EPCIS 2.0 events as captured, in order, each as its JSON text
(UTF-8 bytes, as the store keeps it: a format that passes EPCIS on copies them; one that
maps fields reads them with ``decoded(events)``).

>>> from tracecode.epcis import outbound
>>> sorted(outbound.ALL)
['epcis-jsonld']
>>> outbound.get("epcis-jsonld").media_type
'application/ld+json'
"""
from __future__ import annotations

import importlib
import json
import pkgutil
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Delivery:
    """What a body is rendered for: the query and subscription it answers."""
    query_name: str
    subscription_id: str
    creation_date: str          # RFC 3339, UTC
    bookmark: int | None = None   # the seq of the last event this delivery holds (or passed over)


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    render: Callable[[list, Delivery], bytes]
    title: str = ""


def decoded(events: list) -> list[dict]:
    """The events as dicts (for a format that maps their fields).

    >>> decoded([b'{"type":"ObjectEvent"}'])
    [{'type': 'ObjectEvent'}]
    """
    return [json.loads(bytes(e).decode("utf-8", "surrogatepass")) for e in events]


def _discover() -> dict[str, Format]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        fmt = getattr(importlib.import_module(f"{__name__}.{info.name}"), "FORMAT", None)
        if isinstance(fmt, Format):
            if fmt.name in found:
                raise ValueError(f"{__name__}.{info.name}: format {fmt.name!r} is defined twice")
            found[fmt.name] = fmt
    return found


ALL: dict[str, Format] = _discover()
DEFAULT = "epcis-jsonld"


def get(name: str) -> Format:
    try:
        return ALL[name]
    except KeyError:
        raise KeyError(f"unknown outbound format {name!r}; known: {', '.join(sorted(ALL))}") from None
