"""The two measurements every registration bench makes (test_bench_register*.py): py-lmdb
putmulti of the same keys and value into a fresh environment (the baseline: what storing the
codes costs with nothing checked), and the engine's register of the same file's bytes into a
fresh data directory, each of rounds=3."""
import shutil

import lmdb

import tracecode
from tracecode.index.register import lines_of


def run(benchmark, fn, codes, role="engine", note="", setup=None):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, setup=setup, rounds=3, iterations=1, warmup_rounds=0)


def baseline_putmulti(benchmark, data: bytes, value: bytes, where, codes: int):
    """py-lmdb putmulti of b"ext\\0" + each line of data -> value, in file order."""
    state = {}

    def setup():
        shutil.rmtree(where, ignore_errors=True)
        env = lmdb.open(str(where), map_size=1 << 32, max_dbs=4)
        state["env"], state["db"] = env, env.open_db(b"imported")

    def store():
        items = [(b"ext\x00" + c, value) for c in lines_of(data).tolist()]
        with state["env"].begin(write=True) as txn:
            txn.cursor(db=state["db"]).putmulti(items)
        state["env"].close()
    run(benchmark, store, codes, "baseline", "py-lmdb putmulti of the same keys and value, file order, "
                                             "nothing checked", setup=setup)


def engine_register(benchmark, data: bytes, scheme: str, where, codes: int, note: str, **register):
    """DataDir.register(scheme, the lines of data, **register) into a fresh data directory each
    round; every code registered, none rejected."""
    state = {}

    def setup():
        if "d" in state:
            state["d"].close()
        shutil.rmtree(where, ignore_errors=True)
        state["d"] = tracecode.init(where)

    def go():
        state["rep"] = state["d"].register(scheme, lines_of(data), **register)
    run(benchmark, go, codes, note=note, setup=setup)
    assert state["rep"].registered == codes and state["rep"].rejected == 0
    state["d"].close()
