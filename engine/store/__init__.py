"""Storage behind the domain: where batches, per-code records, events, scans, imported codes,
registries and idempotency keys live.

The LMDB implementation (the embedded default, with its C kernels) is in store/lmdb/; key
layouts and transactions are its own business. Nothing outside this folder imports lmdb.
"""
