"""The PostgreSQL implementation of the storage port (store/port.py), one module per part,
each a mixin of the store with its SCHEMA (idempotent DDL, applied in PORT_PARTS order):

    registry.py  product registries (Store.registry(): a RegistryStore)
    links.py     links of products
    assets.py    asset steps
    epcis.py     EPCIS events (seq under a row lock: commit order) and capture jobs
    queries.py   named EPCIS queries
    outbox.py    subscriptions over the event log (epcis_since, epcis_log, subscription_*)
    leases.py    named leases (the delivery runner's)
    sqltx.py     the read and write transactions these run in (store.pool)

What these parts need of the store that composes them: ``self.pool`` (a
psycopg_pool.ConnectionPool) and, for national code data, ``self.put_imported_in(conn,
codes, values)`` writing imported codes' records inside the caller's transaction. Its write
view's ``epcis_put(records)`` is ``epcis.put(view.conn, records)``, so EPCIS events and the
lifecycle events they carry commit together. No module here imports lmdb; this package is
the only place importing psycopg.
"""
from __future__ import annotations

from . import assets, epcis, leases, links, outbox, queries, registry

PORT_PARTS = (registry, links, assets, epcis, queries, outbox, leases)
PORT_MIXINS = (registry.RegistryMixin, links.LinksMixin, assets.AssetsMixin, epcis.EpcisMixin,
               queries.QueriesMixin, outbox.OutboxMixin, leases.LeasesMixin)
# the tables of each bytes_in_use part these modules hold (the core adds its own)
PART_TABLES = {"epcis": epcis.TABLES + queries.TABLES + outbox.TABLES + leases.TABLES}
