"""The C loop that puts many records (store.lmdb._puts): put_records overwrites, put_new
keeps what is there; both check every index they follow before the loop (it runs with
boundscheck off, so an order or a span past a buffer would read and write outside it)."""
import numpy as np
import pytest

from tracecode.store.lmdb import _puts
from tracecode.store.lmdb.env import open_db, open_env, run_write

I64 = np.int64


@pytest.fixture
def table(tmp_path):
    env = open_env(tmp_path / "env")
    db = open_db(env, b"t")
    yield env, db
    env.close()


def _new(env, db, keys, lens, value, order=None):
    buf = np.frombuffer(b"".join(keys), np.uint8)
    starts = np.concatenate([[0], np.cumsum(lens[:-1])]).astype(I64)
    existed = np.zeros(len(keys), np.uint8)
    written = run_write(env, lambda txn: _puts.put_new(env, txn, db, buf, starts, np.array(lens, I64),
                                                       np.frombuffer(value, np.uint8), existed, order))
    return written, existed.tolist()


def test_put_new_keeps_a_key_there_and_says_so(table):
    env, db = table
    assert _new(env, db, [b"a1", b"b22", b"a1"], [2, 3, 2], b"first") == (2, [0, 0, 1])
    assert _new(env, db, [b"b22", b"c"], [3, 1], b"second", np.array([1, 0], I64)) == (1, [1, 0])
    with env.begin(db=db) as txn:
        assert [bytes(v) for v in (txn.get(b"a1"), txn.get(b"b22"), txn.get(b"c"))] == [b"first", b"first",
                                                                                          b"second"]


@pytest.mark.parametrize("order", [[0, 1 << 40], [-1, 0], [0, 2]])
def test_both_refuse_an_order_naming_no_record(table, order):
    env, db = table
    with pytest.raises(ValueError, match="order"):
        _new(env, db, [b"a1", b"b2"], [2, 2], b"v", np.array(order, I64))
    keys = np.frombuffer(b"a1b2", np.uint8)
    start, length = np.array([0, 2], I64), np.array([2, 2], I64)
    with pytest.raises(ValueError, match="order"):
        run_write(env, lambda txn: _puts.put_records(env, txn, db, keys, start, length, keys, start, length,
                                                     np.array(order, I64)))
    with env.begin(db=db) as txn:
        assert txn.get(b"a1") is None


@pytest.mark.parametrize("lens", [[2, 0], [2, 600], [2, 3]])
def test_both_refuse_a_key_empty_too_long_or_past_its_buffer(table, lens):
    env, db = table
    buf = np.zeros(1000, np.uint8)[:4]       # 4 bytes of keys: a span past them is refused
    with pytest.raises(ValueError):
        run_write(env, lambda txn: _puts.put_new(env, txn, db, buf, np.array([0, 2], I64), np.array(lens, I64),
                                                 np.frombuffer(b"v", np.uint8), np.zeros(2, np.uint8)))
