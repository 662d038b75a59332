"""The source and destination of a ship or receive event: a party and a region (GB/T 2260),
read from what an event carries (EPCIS capture copies them into the lifecycle events it
maps, the Parquet export writes them).

tracecode's own JSON events give "source" / "destination" (a party: any text, a GLN, a
PGLN URN) and "source_region" / "destination_region" (6 digits). EPCIS events give
sourceList / destinationList; there a region is an entry whose id is
``urn:tracecode:region:110105`` (any type) or whose type is ``urn:tracecode:region`` (the id
then the 6 digits), and the party is the first other entry's id (owning_party first, then
possessing_party, then location). A party or location given as a GLN or SGLN names no
region: the region is then null (GS1 keys do not say where a party is).
"""
from __future__ import annotations

from ..regions.location import REGION_URN, region_code

_ROLE_LISTS = {"source": ("sourceList", "source"), "destination": ("destinationList", "destination")}
_PARTY_ORDER = ("owning_party", "possessing_party", "location")


def _region(text) -> str | None:
    if isinstance(text, str):
        text = text.strip()
        if text.startswith(REGION_URN):
            text = text[len(REGION_URN):]
        if len(text) == 6 and text.isascii() and text.isdigit():
            return text
    return None


def party_and_region(event: dict, role: str) -> tuple:
    """(party, region) of an event's source or destination (role), None where it gives none."""
    party = event.get(role) if isinstance(event.get(role), str) else None
    region = _region(event.get(f"{role}_region"))
    name, key = _ROLE_LISTS[role]
    entries = event.get(name)
    if isinstance(entries, list):
        parties = []
        for e in entries:
            if not isinstance(e, dict) or not isinstance(e.get(key), str):
                continue
            kind = str(e.get("type") or "").rsplit(":", 1)[-1] if not str(e.get("type") or "").startswith(
                "urn:tracecode:region") else "region"
            value = e[key]
            if kind == "region" or value.startswith(REGION_URN):
                region = region or _region(value)
            else:
                parties.append((_PARTY_ORDER.index(kind) if kind in _PARTY_ORDER else len(_PARTY_ORDER), value))
        if party is None and parties:
            party = min(parties, key=lambda p: p[0])[1]
    return party, region


def lifecycle_fields(event: dict, max_bytes: int) -> dict:
    """An EPCIS event's source, destination and their regions as a lifecycle event's fields
    (tracecode.index.lifecycle checks them): a party longer than max_bytes, or a region the
    GB/T 2260 rule refuses, is left out, never a reason to refuse the event."""
    out = {}
    for role in ("source", "destination"):
        party, region = party_and_region(event, role)
        if party and len(party.encode("utf-8", "replace")) <= max_bytes:
            out[role] = party
        if region:
            try:
                out[f"{role}_region"] = region_code(region)
            except ValueError:
                pass
    return out
