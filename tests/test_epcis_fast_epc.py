"""to_codes (one pass over a list of EPCs sharing a prefix) against to_code one by one:
the same codes, and an EpcisError exactly when one of them is not an EPC."""
from hypothesis import given, settings, strategies as st

from tracecode.epcis import EpcisError, to_code
from tracecode.epcis.epc import to_codes

PREFIXES = ["https://trace.example.gov.cn/c/", "http://trace.example.gov.cn/base/path/c/",
            "https://x.example/01/c/", "https://x.example/gtin/c/", "https://x.example/c/c/",
            "https://x.example/?q=/c/", "https://x.example/a#/c/", "https://x.example/c/12/c/",
            "urn:epc:id:sgtin:0614141.107346.", "urn:epc:id:sgtin:0614141.10734.",
            "urn:epc:id:sgtin:952123454321.3.", "https://id.gs1.org/01/10614141073464/21/",
            "https://brand.example.com/any/01/10614141073464/21/", "https://id.gs1.org/01/10614141073465/21/",
            "https://id.gs1.org/00/", "urn:epc:id:sscc:0614141.", ""]
TAIL = st.one_of(st.from_regex(r"[0-9A-Za-z._~-]{1,24}", fullmatch=True),
                 st.text(st.sampled_from("0123456789AZaz.-_~%2F/?#\n :*()é"), max_size=30),
                 st.from_regex(r"[0-9]{1,140}", fullmatch=True))


def _one_by_one(epcs):
    try:
        return [to_code(e) for e in epcs]
    except EpcisError:
        return EpcisError


def _bulk(epcs):
    try:
        return to_codes(epcs)
    except EpcisError:
        return EpcisError


@given(st.sampled_from(PREFIXES), st.lists(TAIL, min_size=1, max_size=12),
       st.lists(st.one_of(st.integers(), st.none(), st.sampled_from(PREFIXES), st.text(max_size=20)), max_size=2),
       st.randoms(use_true_random=False))
@settings(max_examples=1500, deadline=None)
def test_to_codes_answers_as_to_code(prefix, tails, strays, rnd):
    epcs = [prefix + t for t in tails]
    for s in strays:
        epcs.insert(rnd.randrange(len(epcs) + 1), s)
    assert _bulk(epcs) == _one_by_one(epcs)


def test_the_common_lists_take_one_pass():
    from tracecode.epcis import epc
    for first in ("https://trace.example.gov.cn/c/81773220000000000001", "urn:epc:id:sgtin:0614141.107346.1",
                  "https://id.gs1.org/01/10614141073464/21/1"):
        assert epc._bulk_head(first) is not None, first
    assert to_codes([f"https://trace.example.gov.cn/c/8177322{i:013d}" for i in range(3)]) == \
        [f"8177322{i:013d}" for i in range(3)]
