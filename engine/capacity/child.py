"""The work whose peak memory memory.py measures, run as its own process:

    python -m tracecode.capacity.child idle 0 DIR       # a data directory opened, nothing done
    python -m tracecode.capacity.child issue N DIR      # N codes issued and written to DIR/codes.txt
    python -m tracecode.capacity.child verify N DIR     # N scans verified and recorded, in chunks

Prints {"seconds": ... (the work, without interpreter start-up), "peak_rss_bytes": ...,
"peak_private_bytes": ...} (see memory.py).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..datadir import DataDir
from .. import schemes
from .memory import PrivatePeak, report

SCHEME = "cn-pesticide-32"  # 10^16 codes per product: any count fits one product
CHUNK = 1 << 16             # scans per verify_many call, as a scanner stream would send them


def idle(d, n, workdir):
    d.index  # open the environment


def issue(d, n, workdir):
    batch = d.issue(SCHEME, schemes.get(SCHEME).example_product(), n)
    path = workdir / "codes.txt"
    with open(path, "wb") as f:
        batch.write(f)
    path.unlink()


def verify(d, n, workdir):
    batch = d.issue(SCHEME, schemes.get(SCHEME).example_product(), n)
    for start in range(0, n, CHUNK):
        codes = batch.issuer.codes(batch.start + start, min(CHUNK, n - start))
        d.verify_many(codes.tolist(), place="memory")
    d.index.log.flush()


KINDS = {"idle": idle, "issue": issue, "verify": verify}


def main(argv) -> None:
    kind, n, workdir = argv[0], int(argv[1]), Path(argv[2])
    with DataDir.init(workdir / "data") as d, PrivatePeak() as private:
        t = time.perf_counter()
        KINDS[kind](d, n, workdir)
        seconds = time.perf_counter() - t
    report(seconds=seconds, peak_private_bytes=private.peak)


if __name__ == "__main__":
    main(sys.argv[1:])
