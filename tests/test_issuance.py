"""Bulk issuance: unique, valid, deterministic codes in every render."""
import io

import biip
from biip.gs1_messages import GS1Message
import numpy as np
import pytest

from tracecode import Key, schemes
from tracecode.errors import CapacityExceeded, InvalidComponent
from tracecode.issuance import Issuer
from tracecode.schemes import render

MASTER = Key(bytes(range(32)))
# the schemes issued here (those of codes others assign are registered, never issued)
PRODUCTS = {name: s.example_product() for name, s in schemes.builtin().items() if not s.external}


def issuer(name, master=MASTER):
    return Issuer(schemes.get(name), PRODUCTS[name], master)


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_codes_are_unique_valid_and_recover_their_counters(name):
    iss = issuer(name)
    n = 50_000
    codes = iss.codes(1000, n)
    assert codes.dtype == np.dtype(f"S{iss.scheme.length}")
    assert len(np.unique(codes)) == n
    assert iss.scheme.validate_many(codes).all()
    for c in codes[:200]:
        text = c.decode()
        assert iss.scheme.validate(text) == text
        fields = iss.scheme.split(text)
        assert all(fields[k] == v for k, v in iss.product.items())
    counters, ok = iss.counters(codes)
    assert ok.all() and (counters == np.arange(1000, 1000 + n)).all()


def test_issuance_is_deterministic_and_bound_to_key_and_product():
    a = issuer("cn-drug-20").codes(0, 1000)
    assert (a == issuer("cn-drug-20").codes(0, 1000)).all()
    assert (a[500:] == issuer("cn-drug-20").codes(500, 500)).all()  # any part re-renders
    other_key = issuer("cn-drug-20", Key(bytes(32))).codes(0, 1000)
    assert (a != other_key).mean() > 0.99
    other_product = Issuer(schemes.get("cn-drug-20"), {"drug_id": "8177323"}, MASTER).codes(0, 1000)
    rows = a.view(np.uint8).reshape(-1, 20)
    assert (rows[:, :7] == np.frombuffer(b"8177322", np.uint8)).all()
    other_rows = other_product.view(np.uint8).reshape(-1, 20)
    assert (rows[:, 7:19] != other_rows[:, 7:19]).any(axis=1).mean() > 0.99


def test_serials_look_random():
    """No structure a counterfeiter could use: consecutive counters give unrelated serials."""
    codes = issuer("cn-drug-20").codes(0, 100_000)
    digits = codes.view(np.uint8).reshape(-1, 20)[:, 7:19] - ord("0")
    counts = np.stack([np.bincount(digits[:, k], minlength=10) for k in range(12)])
    assert (abs(counts - 10_000) < 600).all()  # each position roughly uniform
    first = digits[:, 0]
    assert abs(np.corrcoef(first[:-1], first[1:])[0, 1]) < 0.02


def test_capacity_is_enforced_with_the_remaining_count():
    iss = issuer("cn-vet-24")  # 10 FF1 digits: 10**6 codes per enterprise and day
    assert iss.capacity == 999_999  # strictly below 1 in 10,000
    iss.codes(999_989, 10)
    with pytest.raises(CapacityExceeded) as exc:
        iss.codes(999_989, 11)
    assert exc.value.remaining == 10 and "10 remain" in str(exc.value)


def test_write_streams_the_same_codes_in_chunks():
    iss = issuer("cn-pesticide-32")
    buf = io.BytesIO()
    calls = []
    written = iss.write(buf, 5, 10_001, chunk=1000, progress=calls.append)
    lines = buf.getvalue().split(b"\n")
    assert lines[-1] == b"" and written == len(buf.getvalue())
    assert lines[:-1] == iss.codes(5, 10_001).tolist()
    assert calls[0] == 1000 and calls[-1] == 10_001 and len(calls) == 11


def test_gs1_renders_parse_in_biip_to_the_same_fields():
    iss = issuer("gs1-sgtin")
    attrs = {"expiry": "261231", "lot": "LOT/7-A"}
    bare = iss.codes(0, 200)
    for how in ("element", "hri", "dl"):
        rendered = iss.codes(0, 200, render=how, attributes=attrs)
        for b, r in zip(bare, rendered):
            serial = b.decode()[14:]
            if how == "hri":
                message = GS1Message.parse_hri(r.decode())
            elif how == "dl":
                message = biip.parse(r.decode()).gs1_digital_link_uri
            else:
                message = biip.parse(r.decode()).gs1_message
            fields = {e.ai.ai: e.value for e in message.element_strings}
            assert fields == {"01": "09521234543213", "21": serial, "17": "261231", "10": "LOT/7-A"}, how
    one = render(iss.scheme, iss.product, attrs, "123456789012", how="dl")
    assert one == "https://id.gs1.org/01/09521234543213/10/LOT%2F7-A/21/123456789012?17=261231"
    assert render(iss.scheme, iss.product, attrs, "123", how="hri") == \
        "(01)09521234543213(17)261231(10)LOT/7-A(21)123"
    assert render(iss.scheme, iss.product, attrs, "123", how="element") == \
        "010952123454321317261231" "10LOT/7-A\x1d" "21123"


def test_bad_render_and_attributes_are_refused():
    with pytest.raises(InvalidComponent, match="renders as bare"):
        issuer("cn-drug-20").codes(0, 1, render="dl")
    with pytest.raises(InvalidComponent, match="no attribute field 'colour'"):
        issuer("gs1-sgtin").codes(0, 1, attributes={"colour": "red"})


def test_one_issuer_shared_by_threads_gives_the_same_codes():
    """FF1 scratch is shared and the GIL is released mid-chunk: the lock keeps threads apart."""
    import threading
    iss = issuer("cn-drug-20")
    ref = {s: iss.codes(s, 100_000) for s in (0, 1_000_000)}
    bad = []

    def work(s):
        for _ in range(5):
            if not np.array_equal(iss.codes(s, 100_000), ref[s]):
                bad.append(s)
            c, good = iss.counters(ref[s])
            if not (good.all() and (c == np.arange(s, s + 100_000)).all()):
                bad.append(-s)
    threads = [threading.Thread(target=work, args=(s,)) for s in (0, 1_000_000, 0)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert bad == []


def test_ff1_refuses_a_wrong_out_buffer():
    from tracecode.fpe.ff1 import FF1
    f = FF1(bytes(16), b"", 10, 12)
    with pytest.raises(ValueError, match="out must be"):
        f.encrypt_counters(0, 200_000, out=np.empty(1, "S12"))
    with pytest.raises(ValueError, match="chunk"):
        FF1(bytes(16), b"", 10, 10, chunk=2**60 + 1)
