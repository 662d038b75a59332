"""FF1 against the NIST SP 800-38G sample vectors, and its round trips."""
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tracecode.errors import DomainError, InvalidFormat, InvalidLength
from tracecode.fpe.ff1 import FF1

VECTORS = json.loads((Path(__file__).parent / "data" / "ff1_nist_vectors.json").read_text())["vectors"]
KEY = bytes(range(32))
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize("v", VECTORS, ids=[f"sample{v['sample']}" for v in VECTORS])
def test_nist_sample_vectors(v):
    f = FF1(bytes.fromhex(v["key"]), bytes.fromhex(v["tweak"]), v["radix"], len(v["plaintext"]))
    assert f.encrypt(v["plaintext"]) == v["ciphertext"]
    assert f.decrypt(v["ciphertext"]) == v["plaintext"]


@pytest.mark.parametrize("v", VECTORS, ids=[f"sample{v['sample']}" for v in VECTORS])
def test_nist_vectors_through_the_bulk_path(v):
    """The counter API runs the same Feistel code as the scalar one, chunked."""
    f = FF1(bytes.fromhex(v["key"]), bytes.fromhex(v["tweak"]), v["radix"], len(v["plaintext"]))
    value = int(v["plaintext"], v["radix"])
    if value < 2**64:
        out = f.encrypt_counters(value, 1)
        assert out[0].decode() == v["ciphertext"]
        counters, ok = f.decrypt_counters(out)
        assert ok.all() and counters[0] == value


@pytest.mark.parametrize("radix,length,alphabet", [
    (10, 6, None), (10, 12, None), (10, 19, None), (10, 20, None), (10, 40, None),
    (36, 4, ALNUM), (36, 12, ALNUM), (36, 20, ALNUM), (2, 20, "01"), (16, 8, "0123456789ABCDEF"),
])
def test_bulk_round_trip_is_a_permutation(radix, length, alphabet):
    f = FF1(KEY, b"t", radix, length, alphabet=alphabet, chunk=1000)  # several chunks
    n = 5000
    start = 10**5 if radix ** length > 10**6 else 0
    out = f.encrypt_counters(start, n)
    assert len(set(out.tolist())) == n  # a bijection never repeats
    counters, ok = f.decrypt_counters(out)
    assert ok.all()
    assert (counters == np.arange(start, start + n, dtype=np.uint64)).all()
    # The scalar path agrees with the bulk path.
    for i in (0, 1, n - 1):
        numerals = np.base_repr(start + i, radix).rjust(length, "0") if radix <= 36 else None
        if alphabet:
            numerals = "".join(alphabet[int(c, 36)] for c in numerals)
        assert f.encrypt(numerals) == out[i].decode()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=6, max_value=56), st.data())
def test_scalar_round_trip_radix10(length, data):
    plain = data.draw(st.text("0123456789", min_size=length, max_size=length))
    tweak = data.draw(st.binary(max_size=40))
    f = FF1(KEY, tweak, 10, length)
    assert f.decrypt(f.encrypt(plain)) == plain


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=4, max_value=36), st.data())
def test_scalar_round_trip_radix36(length, data):
    plain = data.draw(st.text(ALNUM, min_size=length, max_size=length))
    f = FF1(KEY[:16], b"", 36, length, alphabet=ALNUM)
    cipher = f.encrypt(plain)
    assert len(cipher) == length and set(cipher) <= set(ALNUM)
    assert f.decrypt(cipher) == plain


def test_key_and_tweak_change_the_serials():
    a = FF1(KEY, b"product-a", 10, 12).encrypt_counters(0, 1000)
    b = FF1(KEY, b"product-b", 10, 12).encrypt_counters(0, 1000)
    c = FF1(bytes(32), b"product-a", 10, 12).encrypt_counters(0, 1000)
    assert (a != b).mean() > 0.99 and (a != c).mean() > 0.99


def test_minimum_domain_is_enforced():
    with pytest.raises(DomainError, match="1,000,000"):
        FF1(KEY, b"", 10, 5)
    with pytest.raises(DomainError, match="1,000,000"):
        FF1(KEY, b"", 36, 3, alphabet=ALNUM)
    FF1(KEY, b"", 10, 6)  # 10**6 is allowed


def test_bad_parameters_are_refused_clearly():
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        FF1(b"short", b"", 10, 10)
    with pytest.raises(DomainError, match="12 bytes"):
        FF1(KEY, b"", 10, 60)
    with pytest.raises(DomainError, match="distinct"):
        FF1(KEY, b"", 10, 10, alphabet="0123456788")
    with pytest.raises(DomainError, match="outside this FF1's counters"):
        FF1(KEY, b"", 10, 6).encrypt_counters(999_990, 11)


def test_errors_never_show_the_key():
    key = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
    f = FF1(key, b"", 10, 10)
    assert key.hex() not in repr(f).lower()
    with pytest.raises(InvalidFormat) as exc:
        f.encrypt("01234x6789")
    assert exc.value.position == 5 and key.hex() not in str(exc.value).lower()
    with pytest.raises(InvalidLength):
        f.decrypt("123")


def test_decrypt_flags_malformed_serials():
    f = FF1(KEY, b"", 10, 12)
    good = f.encrypt_counters(7, 2)
    arr = np.array([good[0], b"12345678901x", good[1]], dtype="S12")
    counters, ok = f.decrypt_counters(arr)
    assert ok.tolist() == [True, False, True]
    assert counters[[0, 2]].tolist() == [7, 8]


def test_counters_never_wrap_past_64_bits():
    """10**20 > 2**64: counters near 2**64 used to wrap to 0 and repeat serials."""
    f = FF1(KEY, b"", 10, 20)
    last = f.encrypt_counters(2**64 - 1, 1)    # the last counter a u64 holds is fine
    assert last[0] not in f.encrypt_counters(0, 4).tolist()
    for start, count in ((2**64 - 1, 2), (2**64, 1), (2**70, 1), (-1, 1), (-5, 3)):
        with pytest.raises(DomainError, match="64 bits"):
            f.encrypt_counters(start, count)


def test_counters_at_the_end_of_a_small_domain_are_refused():
    """Past radix**length a counter folds onto a smaller one: a duplicate serial."""
    f = FF1(KEY, b"", 10, 6)
    assert len(set(f.encrypt_counters(0, 10**6).tolist())) == 10**6
    with pytest.raises(DomainError):
        f.encrypt_counters(10**6 - 1, 2)
    with pytest.raises(DomainError):
        f.encrypt_counters(10**6, 1)


def test_bulk_issuance_kernel_refuses_wrapping_ranges():
    """The C path (issuance's fill) checks the range before it writes a row."""
    from tracecode.issuance._bulk import fill
    f = FF1(KEY, b"", 10, 20)
    out = np.zeros((3, 20), np.uint8)
    for start in (2**64 - 2, 2**64, -1):
        with pytest.raises(DomainError):
            fill(f, None, bytes(20), 0, 0, 0, start, out)
        assert not out.any()
    fill(f, None, bytes(20), 0, 0, 0, 2**64 - 3, out)   # ends exactly at 2**64 - 1
    assert len({bytes(r) for r in out}) == 3


def test_limits_are_those_the_scheme_loader_uses():
    from tracecode.fpe.ff1 import check_domain, max_length
    assert max_length(10) == 56 and max_length(36) == 36
    check_domain(36, 36)
    with pytest.raises(DomainError, match="at most 36 numerals"):
        check_domain(36, 37)
    with pytest.raises(DomainError, match="1,000,000"):
        check_domain(10, 5)
    with pytest.raises(DomainError, match="radix"):
        check_domain(256, 10)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_objects_share_one_scratch_per_thread():
    """A cached FF1 costs its key schedule, not a chunk of scratch each: 200 objects
    that each ran a full chunk used to keep 200 x 512 KB = 100 MB resident."""
    FF1(KEY, b"warm", 10, 12).encrypt_counters(0, 8192)  # the thread's scratch exists now
    before = _rss()
    many = [FF1(KEY, str(i).encode(), 10, 12) for i in range(200)]
    for f in many:
        f.encrypt_counters(0, 8192)
        f.decrypt_counters(f.encrypt_counters(0, 8192))
    grown = _rss() - before
    assert grown < 20 * 2**20, f"{len(many)} FF1 objects grew the process by {grown / 2**20:.1f} MB"


def test_threads_sharing_objects_get_correct_serials():
    import threading
    fs = [FF1(KEY, str(i).encode(), 10, 12, chunk=512) for i in range(4)]
    want = [f.encrypt_counters(0, 5000) for f in fs]
    errors = []

    def work(k):
        for r in range(20):
            f = fs[(k + r) % 4]
            got = f.encrypt_counters(0, 5000)
            back, ok = f.decrypt_counters(got)
            if not (got == want[(k + r) % 4]).all() or not ok.all() or back[-1] != 4999:
                errors.append((k, r))
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
