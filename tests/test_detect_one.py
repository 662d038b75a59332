"""The single-scan path (ScanParser.read_code, detect.decide_one) decides a code that fits
several schemes exactly as parse_many (detect.decide over numpy) does: the same scheme,
the same AMBIGUOUS ties, the same case folding, with and without the index's products,
and where two issued products share a code's characters (FF1 decides)."""
import numpy as np
import pytest

from tracecode import Key
from tracecode.issuance import Issuer
from tracecode.scan import Fault, ScanParser
from tracecode.schemes import builtin, scheme_from_dict

KEY = Key(bytes(range(32)))


class Known:
    """The index's issued products, as parse_many and read_code ask for them."""

    def __init__(self, products):   # {scheme name: {product characters}}
        self.products = products

    def has(self, scheme, chars: bytes) -> bool:
        return chars in self.products.get(scheme.name, ())

    def rows(self, scheme, prod: np.ndarray) -> np.ndarray:
        have = self.products.get(scheme.name, ())
        return np.array([bytes(r) in have for r in prod], bool)


def pool(system):
    custom = scheme_from_dict({"scheme": {"name": "plain-20"}, "field": [
        {"name": "maker", "role": "product", "length": 7},
        {"name": "serial", "role": "serial", "length": 12},
        {"name": "check", "role": "check", "length": 1, "system": system}]})
    return dict(builtin(), **{"plain-20": custom})


@pytest.mark.parametrize("system", ["damm", "luhn"])
@pytest.mark.parametrize("issued", ["no index", "none", "drug", "both"])
def test_read_code_decides_as_parse_many(system, issued):
    schemes = pool(system)
    parser = ScanParser(schemes, None if issued == "no index" else KEY)
    mine = Issuer(schemes["plain-20"], {"maker": "8177322"}, KEY).codes(0, 3000)
    drug = Issuer(schemes["cn-drug-20"], {"drug_id": "8177322"}, KEY).codes(0, 3000)
    rng = np.random.default_rng(7)
    junk = [bytes(rng.integers(48, 58, 20).astype(np.uint8)) for _ in range(3000)]
    texts = [c.decode() for c in list(mine) + list(drug)] + [j.decode() for j in junk]
    texts += [t.lower() for t in texts[:50]]
    known = {"no index": None, "none": Known({}), "drug": Known({"cn-drug-20": {b"8177322"}}),
             "both": Known({"cn-drug-20": {b"8177322"}, "plain-20": {b"8177322"}})}[issued]
    r = parser.parse_many(texts, known=known).records
    assert (r["fault"] == Fault.AMBIGUOUS).any() or issued not in ("no index", "none")
    for i, t in enumerate(texts):
        fault, si, code = parser.read_code(t.encode(), known)
        # product fields are checked after the scheme is decided (parse_many: INVALID_FIELD
        # in bulk; the single path: when it looks the product up), so compare the decision
        want = Fault.OK if r["fault"][i] == Fault.INVALID_FIELD else r["fault"][i]
        assert (fault, si) == (want, r["scheme"][i]), t
        if fault == Fault.OK:
            assert code == r["code"][i], t
