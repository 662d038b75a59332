"""_codes.get_values, the imported records' bulk lookup: one cursor walking forward and,
with `which`, each distinct value once; against py-lmdb's own get, in any key order."""
import lmdb
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracecode.store.lmdb import _codes

keys_st = st.binary(min_size=1, max_size=_codes.KEY_LIMIT)
stored_st = st.dictionaries(keys_st, st.sampled_from([b"", b"a", b'{"p": 1}', b"x" * 300, b"b"]),
                            max_size=60)


def _packed(keys):
    off = np.zeros(len(keys) + 1, np.int64)
    off[1:] = np.cumsum([len(k) for k in keys])
    return np.frombuffer(b"".join(keys), np.uint8).copy() if keys else np.zeros(0, np.uint8), off


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=stored_st, extra=st.lists(keys_st | st.just(b""), max_size=30), data=st.data())
def test_get_values_matches_lmdb_get(tmp_path_factory, stored, extra, data):
    env = lmdb.open(str(tmp_path_factory.mktemp("imp") / "db"), max_dbs=4, map_size=1 << 24)
    db = env.open_db(b"imported")
    with env.begin(write=True) as txn:
        for k, v in stored.items():
            txn.put(k, v, db=db)
    asked = data.draw(st.permutations(list(stored) + extra))   # hits, misses, empties, any order
    buf, off = _packed(asked)
    with env.begin() as txn:
        want = [txn.get(k, db=db) if k else None for k in asked]
        found = np.full(len(asked), 7, np.uint8)
        values = _codes.get_values(env, txn, db, buf, off, found)
        found2, which = np.zeros(len(asked), np.uint8), np.full(len(asked), -1, np.int32)
        distinct = _codes.get_values(env, txn, db, buf, off, found2, which)
    env.close()
    assert found.tolist() == [w is not None for w in want] == found2.tolist()
    hits = [w for w in want if w is not None]
    assert values == hits
    assert len(set(distinct)) == len(distinct)
    assert [distinct[j] for j in which[:len(hits)].tolist()] == hits
    assert distinct == list(dict.fromkeys(hits))   # first-found order
