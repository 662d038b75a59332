"""A/B/C in one process: the collector during apply() of packed events disabled (the old pause),
with its first threshold raised (gcpause.paused, the default), and untouched.

    python -m bench.ab_gcpause [codes packed per round, default 24000]

The modes alternate within each round (the machine is shared); the best of three rounds is the
figure, the CPU time beside it, and the collections each generation ran during the call.
"""
import gc
import pathlib
import sys
import tempfile
import time

import tracecode
from tracecode.capacity import measure
from tracecode.index import gcpause


class _Disabled:
    def __enter__(self):
        gc.disable()

    def __exit__(self, *exc):
        gc.enable()


class _Untouched:
    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


def main(n: int = 24_000, rounds: int = 3) -> dict:
    modes = {"disabled": _Disabled, "raised": gcpause.paused, "untouched": _Untouched}
    default = gcpause.paused
    held = [[{} for _ in range(10)] for _ in range(30_000)]   # what a server holds: a full collection's work
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = tracecode.init(pathlib.Path(tmp) / "data")
        scheme = measure.ISSUE_SCHEME
        product = d.scheme(scheme).example_product()
        cases = 0
        try:
            for rnd in range(rounds):
                for mode, pause in modes.items():
                    gcpause.paused = default
                    codes = [c.decode() for c in d.issue(scheme, product, n).codes()]
                    tag = f"{mode}-{rnd}-{codes[0]}"
                    assert all(r["ok"] for r in d.apply(measure.commission_events(codes, n, "c" + tag)))
                    events = measure.pack_events(codes, 24, tag, cases)
                    cases += len(events)
                    gcpause.paused = pause
                    before = gc.get_stats()
                    t, cpu = time.perf_counter(), time.process_time()
                    results = d.apply(events)
                    took, cpu = time.perf_counter() - t, time.process_time() - cpu
                    ran = [b["collections"] - a["collections"] for a, b in zip(before, gc.get_stats())]
                    assert all(r["ok"] for r in results), results[0]
                    out.setdefault(mode, []).append((n / took, n / max(cpu, 1e-9), ran))
        finally:
            gcpause.paused = default
            d.close()
    del held
    return out


if __name__ == "__main__":
    for mode, rates in main(*map(int, sys.argv[1:2])).items():
        print(f"{mode:9s}  best {max(r for r, _, _ in rates) / 1e3:.0f} k codes/s"
              f" (CPU {max(c for _, c, _ in rates) / 1e3:.0f})  collections per call {[g for _, _, g in rates]}")
