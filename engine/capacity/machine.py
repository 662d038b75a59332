"""What a measurement ran on: the machine, the software versions, the date, the command."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import shutil
import sys


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def machine(disk_path=".") -> dict:
    """CPU model, cores (all, and usable by this process), memory, and the disk under disk_path."""
    return {"cpu": _cpu_model(), "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "memory_bytes": _memory_bytes(), "disk_bytes": shutil.disk_usage(disk_path).total,
            "os": platform.platform()}


def versions() -> dict:
    import cryptography
    import numpy
    from cryptography.hazmat.backends.openssl import backend

    from .. import __version__
    from ..store.lmdb.env import versions as store_versions
    return {"python": platform.python_version(), "tracecode": __version__, "numpy": numpy.__version__,
            **store_versions(),
            "cryptography": cryptography.__version__,
            "OpenSSL": backend.openssl_version_text()}  # the one FF1's AES runs on


def context(argv=None, disk_path=".") -> dict:
    """Everything a report says about where and when its figures were measured."""
    return {"machine": machine(disk_path), "versions": versions(),
            "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": " ".join(["tracecode"] + list(sys.argv[1:] if argv is None else argv))}
