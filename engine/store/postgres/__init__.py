"""The PostgreSQL implementation of the storage port (store/port.py), psycopg 3: one module
per part, each with its SCHEMA (idempotent DDL, applied in PARTS order) and its mixins (Part:
store methods, ViewPart: view methods; connection.py states the contract):

    core.py      the format stamp, imported and registered codes, idempotency, stats, sizes
    batches.py   reservations (one transaction each), batch records, product ids
    records.py   per-code records and the reads of verification and history
    events.py    lifecycle events (EventPlans) as rows, many plans per statement
    scanlog.py   the scan log: a writer thread, COPY in group commits, day partitions
    registry.py  product registries (Store.registry(): a RegistryStore)
    links.py     links of products
    assets.py    asset steps
    epcis.py     EPCIS events (seq under a row lock: commit order) and capture jobs
    queries.py   named EPCIS queries
    outbox.py    subscriptions over the event log (epcis_since, epcis_log, subscription_*)
    leases.py    named leases (the delivery runner's)
    alerts.py    the analytics' alerts (alerts_put, alerts_find, alert_close)
    sqltx.py     the read and write transactions the parts after scanlog run in

PgStore(dsn, schemes, scan_interval=...) composes them. This package is the only place
importing psycopg.
"""
from __future__ import annotations

from . import assets, batches, connection, core, epcis, events, leases, links, outbox, queries, records, registry
from . import alerts, scanlog
from .connection import PgConnection, PgView, StoreUnavailable

# Schema order: a part's tables may refer to those of the parts before it.
CORE_PARTS = (core, batches, records, events, scanlog)
PORT_PARTS = (registry, links, assets, epcis, queries, outbox, leases, alerts)
PARTS = CORE_PARTS + PORT_PARTS
PORT_MIXINS = tuple(getattr(p, "Part", None) for p in PORT_PARTS)
# the tables of each bytes_in_use part (core.PART_TABLES; the EPCIS parts' own added)
PART_TABLES = core.PART_TABLES
PART_TABLES["epcis"] = list(epcis.TABLES + queries.TABLES + outbox.TABLES + leases.TABLES)
PART_TABLES["verdicts"] = PART_TABLES["verdicts"] + list(registry.TABLES) + list(assets.TABLES) + list(links.TABLES)


def _compose(name: str, attr: str, base):
    mixins = tuple(m for m in (getattr(p, attr, None) for p in reversed(PARTS)) if m is not None)
    return type(name, (*mixins, base), {"__slots__": ()} if attr == "ViewPart" else {})


View = _compose("View", "ViewPart", PgView)


class PgStore(_compose("_PgParts", "Part", PgConnection)):
    """The storage port over one PostgreSQL database: PgStore(dsn, schemes, scan_interval=...)."""

    View = View
    PARTS = PARTS


def is_url(text) -> bool:
    """Whether a store argument names a PostgreSQL database rather than a path."""
    return isinstance(text, str) and text.startswith(("postgresql://", "postgres://"))


__all__ = ["PgStore", "StoreUnavailable", "is_url", "connection", "PORT_PARTS", "PORT_MIXINS", "PART_TABLES"]
