"""Counters are 64-bit everywhere (reservations, code keys, FF1's bulk path): a serial
domain beyond 2**64 caps a product's capacity instead of wrapping near its end."""
import pytest

import tracecode
from tracecode.errors import CapacityExceeded
from tracecode.issuance import Issuer
from tracecode.keys import Key
from tracecode.schemes import scheme_from_dict

WIDE = {"scheme": {"name": "wide"},
        "field": [{"name": "p", "role": "product", "length": 2},
                  {"name": "serial", "role": "serial", "length": 30}]}   # 10**30 serials


def test_capacity_of_a_huge_domain_stops_at_64_bits():
    scheme = scheme_from_dict(WIDE)
    assert scheme.serial_domain == 10**30 and scheme.capacity == 2**64 - 1
    iss = Issuer(scheme, {"p": "01"}, Key(bytes(32)))
    last = iss.codes(2**64 - 2, 1)            # the last counter there is
    assert iss.counters(last)[0].tolist() == [2**64 - 2]
    for start, count in ((2**64 - 2, 2), (2**64 - 1, 1), (2**64, 1), (2**70, 5)):
        with pytest.raises(CapacityExceeded):
            iss.codes(start, count)


def test_reservations_near_the_end_are_refused_cleanly(tmp_path):
    (tmp_path / "d").mkdir()
    d = tracecode.init(tmp_path / "d" / "x")
    d.close()
    (tmp_path / "d" / "x" / "schemes" / "wide.toml").write_text(
        '[scheme]\nname = "wide"\n[[field]]\nname = "p"\nrole = "product"\nlength = 2\n'
        '[[field]]\nname = "serial"\nrole = "serial"\nlength = 30\n')
    with tracecode.open(tmp_path / "d" / "x") as d:
        big = d.issue("wide", {"p": "01"}, 2**64 - 3)       # one record, no codes rendered
        assert big.start == 0
        assert d.issue("wide", {"p": "01"}, 2).start == 2**64 - 3
        for count in (1, 2**64):
            with pytest.raises(CapacityExceeded) as exc:
                d.issue("wide", {"p": "01"}, count)
            assert exc.value.remaining == 0
        code = d.issuer("wide", {"p": "01"}).codes(2**64 - 2, 1)[0].decode()
        assert d.verify(code, record=False).batch is not None
