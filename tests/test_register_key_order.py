"""index.register.key_order: the order registration puts codes in is their byte order (as
LMDB keeps the keys), stable, so a code repeated in the input is written by its first line."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tracecode
from tracecode.index.register import key_order

ALPHABET = b"0123456789AZaz"


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 24).flatmap(lambda w: st.tuples(
    st.just(w), st.lists(st.binary(min_size=w, max_size=w).map(
        lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b)), max_size=60))))
def test_key_order_is_byte_order_and_stable(case):
    width, codes = case
    arr = np.array(codes, dtype=f"S{width}")
    order = key_order(arr, width).tolist()
    assert order == sorted(range(len(codes)), key=lambda i: (codes[i], i))


def test_repeated_tag_written_by_first_line(tmp_path):
    d = tracecode.init(tmp_path / "d")
    tags = ["251072200000009", "151072200000001", "251072200000009"]
    rep = d.register("cn-eartag-15", tags, owner="bureau")
    assert (rep.registered, rep.repeated) == (2, 1)
    assert [(n, w) for n, _, w in rep.reasons] == [(3, "repeats line 1")]
    d.close()
