"""The stored EPCIS events a public page may stand on: an error declaration (EPCIS
errorDeclaration) and the event it declares erroneous are both kept in the store, and
neither says anything about the goods any more; the corrective event takes their place
(as the public trail leaves undone events out: app/trail.py)."""
from __future__ import annotations

DECLARED = "#errorDeclaration"   # a declaration's store id: its event's id + this (app.epcis.DECLARED)


def standing(store, records: list) -> list:
    """The records of `records` (EpcisRecords, order kept) that are no error declaration and
    whose event no declaration names: one store read for them all."""
    plain = [r for r in records if not r.declared and not r.event_id.endswith(DECLARED)]
    if not plain:
        return []
    said = store.epcis_events([r.event_id + DECLARED for r in plain])
    return [r for r, d in zip(plain, said) if d is None]
