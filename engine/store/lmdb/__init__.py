"""The LMDB store: the environment (env.py), its tables (batches.py, known.py, scanlog.py),
how codes are keyed (codekeys.py, scankeys.py), the C kernels that read and write per-code
records inside py-lmdb's transactions (_codes.pyx, _lmdb.pyx, pylmdb_abi.h), and the index's
identity and recovery (stamp.py, lineage.py, journal.py, backup.py, lmdbfile.py).

Kept free of imports: tracecode.index imports these modules, not the other way round.
"""
