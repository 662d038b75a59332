"""Imported-code keys of unreadable scans, built in bulk, are codekeys.ext's keys."""
import numpy as np
from hypothesis import given, settings, strategies as st

import tracecode
from tracecode.index import Verdict
from tracecode.store.lmdb import codekeys, scankeys

_text = st.one_of(st.text(st.sampled_from("0123456789ABCxyz-:/ \t\n\x1c\x1d\x1f(),;"), max_size=60),
                  st.text(max_size=30), st.binary(max_size=30))


@settings(max_examples=300, deadline=None)
@given(st.lists(_text, max_size=40), st.integers(8, 80))
def test_bulk_keys_are_codekeys_ext(texts, limit):
    items = [t.encode("utf-8", "surrogatepass") if isinstance(t, str) else t for t in texts]
    data = np.frombuffer(b"".join(items), np.uint8)
    offsets = np.zeros(len(items) + 1, np.int64)
    np.cumsum([len(i) for i in items], out=offsets[1:])
    rows = np.arange(len(items))[::-1].copy()       # any subset, any order
    buf, off = scankeys.text_keys(data, offsets, rows, texts, limit)
    for j, r in enumerate(rows.tolist()):
        want = codekeys.ext(texts[r])
        assert buf[off[j]:off[j + 1]].tobytes() == (want if len(want) <= limit else b"")


def test_unreadable_scans_still_find_imported_codes(tmp_path):
    """A national code that fits none of our schemes' rules is found by its text, in bulk."""
    with tracecode.init(tmp_path / "d") as d:
        d.index.import_codes(["NAT-12345-xyz", "2024010100001000000000099"], lot="N1")
        scans = ["nat 12345 XYZ", "2024-0101-0000-1000-0000-00099", "junk", "nat12345xy", "ünïcode"]
        for out in (d.verify_many(scans, record=False),
                    d.verify_many(b"".join(s.encode() for s in scans),
                                  np.cumsum([0] + [len(s.encode()) for s in scans]), record=False)):
            assert out.verdicts.tolist() == [Verdict.GENUINE, Verdict.GENUINE] + [Verdict.UNKNOWN] * 3
            assert out[0].lot == "N1" and out.found.tolist() == [True, True, False, False, False]
