"""A/B/C in one process: the events of one apply() call each reading its own codes and writing
them in a nested write of their own ("own"), sharing one parse and one bulk read
(Index.share_call_reads) but writing each ("shared"), and also written together, each table's
records of all of them in one sorted putmulti (Index.batch_call_writes: "batched", the default).

    python -m bench.ab_event_calls [codes packed per round, default 24000] [codes of the big event, 200000]

Per round and mode, fresh codes: pack (one event per case of 24, all in one call), then
commission and ship of one big event (a call of one event shares nothing: the same path
the same reads either way, so those rows show the noise of the machine and the nested write's
cost). The modes alternate within each round because the machine is shared; the best of three
rounds is the figure, the CPU time of the process beside it (steadier on a loaded machine).
"""
import pathlib
import sys
import tempfile
import time

import tracecode
from tracecode.capacity import measure
from tracecode.index.index import Index


MODES = {"own": (False, False), "shared": (True, False), "batched": (True, True)}


def main(n: int = 24_000, big: int = 200_000, rounds: int = 3) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        d = tracecode.init(pathlib.Path(tmp) / "data")
        scheme = measure.ISSUE_SCHEME
        product = d.scheme(scheme).example_product()
        cases = 0

        def fresh(count, commissioned=True):
            texts = [c.decode() for c in d.issue(scheme, product, count).codes()]
            if commissioned:
                assert all(r["ok"] for r in d.apply(measure.commission_events(texts, count, "c" + texts[0])))
            return texts

        def rate(events, count):
            t, cpu = time.perf_counter(), time.process_time()
            results = d.apply(events)
            took, cpu = time.perf_counter() - t, time.process_time() - cpu
            assert all(r["ok"] for r in results), results[0]
            return count / took, count / max(cpu, 1e-9)

        out = {}
        try:
            for rnd in range(rounds):
                for shared in MODES:
                    Index.share_call_reads, Index.batch_call_writes = MODES[shared]
                    tag = f"{shared}-{rnd}-"
                    codes = fresh(n)
                    events = measure.pack_events(codes, 24, tag + codes[0], cases)
                    cases += len(events)
                    out.setdefault(("pack", shared), []).append(rate(events, n))
                    codes = fresh(big, commissioned=False)
                    out.setdefault(("commission", shared), []).append(
                        rate(measure.commission_events(codes, big, "cc" + tag + codes[0]), big))
                    codes = fresh(big)
                    out.setdefault(("ship", shared), []).append(
                        rate([{"id": "s" + tag + codes[0], "action": "ship", "codes": codes}], big))
        finally:
            Index.share_call_reads = Index.batch_call_writes = True
            d.close()
    return out


if __name__ == "__main__":
    figures = main(*map(int, sys.argv[1:3]))
    for (what, mode), rates in sorted(figures.items()):
        print(f"{what:10s} {mode:7s}  best {max(r for r, _ in rates) / 1e6:.3f} M codes/s"
              f" (CPU {max(c for _, c in rates) / 1e6:.3f})  rounds {[round(r / 1e6, 3) for r, _ in rates]}")
