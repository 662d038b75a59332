"""The cluster lab: on one machine, loopback only, a 3-member etcd and per shard a Patroni
scope of PostgreSQL members (a primary and synchronous standbys), started and stopped as
one (`tracecode cluster up|down|status DIR`). lab.py runs it, procs.py starts and stops
exactly the processes it recorded, etcd.py and patroni_config.py say how each is
configured. What the tests and a newcomer use to see a cluster; not a production installer.
"""
from .lab import Lab, LabError

__all__ = ["Lab", "LabError"]
