"""A Keys' order_hint (registered codes, looked up in key order just before) only saves
visit_order a sort: with any hint, right or wrong, the order is the one it sorts.
And the table that checks 1- and 2-character field choices agrees with np.isin."""
import numpy as np
from hypothesis import given, settings, strategies as st

from tracecode.schemes.scheme import _in_choices
from tracecode.store.lmdb.codekeys import Keys, ours
from tracecode.store.lmdb.keyorder import SMALL, visit_order

# few characters and lengths 10-20: equal keys, keys tied on the 16-byte prefix, both
_code = st.text("0129A", min_size=10, max_size=20).map(lambda c: b"ext\x00" + c.encode())


def _sorted(keys):
    plain = Keys.packed(keys)
    return visit_order(plain).tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_code, st.just(b"")), min_size=SMALL, max_size=300),
       st.sampled_from(["prefix, ties shuffled", "full key", "shuffled", "one row short",
                        "a row twice", "out of range"]),
       st.randoms(use_true_random=False))
def test_visit_order_with_a_hint_is_the_sorted_order(keys, how, rnd):
    want = _sorted(keys)
    keyed = [i for i, k in enumerate(keys) if k]
    if how == "prefix, ties shuffled":   # what _key_order may hand on: ties in any order
        hint = sorted(keyed, key=lambda i: (keys[i][:16], rnd.random()))
    elif how == "full key":
        hint = sorted(keyed, key=lambda i: (keys[i], rnd.random()))
    elif how == "shuffled":
        hint = rnd.sample(keyed, len(keyed))
    elif how == "one row short":
        hint = want[:-1]
    elif how == "a row twice":
        hint = want[:-1] + want[:1]
    else:
        hint = want[:-1] + [len(keys) + 5]
    hinted = Keys.packed(keys)
    hinted.order_hint = np.array(hint, np.int64)
    assert visit_order(hinted).tolist() == want


def test_a_hint_is_not_used_for_keys_of_ours():
    keys = [ours(1, n) for n in range(40, 0, -1)] + [b"ext\x00" + b"%012d" % n for n in range(40)]
    hinted = Keys.packed(keys)
    hinted.order_hint = np.arange(len(keys))   # wrong for ours: they go first, by counter
    assert visit_order(hinted).tolist() == _sorted(keys)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 4), st.data())
def test_choices_table_agrees_with_isin(length, data):
    chars = "0129Aé"   # é: two UTF-8 bytes, cut to the field's width as S{length} cuts it
    choices = tuple(data.draw(st.lists(st.text(chars, min_size=1, max_size=length),
                                       min_size=1, max_size=30)))
    raw = data.draw(st.lists(st.binary(min_size=length, max_size=length), max_size=200))
    pool = [c.encode()[:length].ljust(length, b"\x00") for c in choices]
    raw += [pool[i % len(pool)] for i in range(data.draw(st.integers(0, 50)))]
    cols = np.frombuffer(b"".join(raw), np.uint8).reshape(-1, length)
    values = cols.view(f"S{length}").ravel()
    want = np.isin(values, np.array([c.encode() for c in choices], f"S{length}"))
    assert _in_choices(choices, length, cols, values).tolist() == want.tolist()
