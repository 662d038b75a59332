"""FF1's own AES-NI path (engine/fpe/aesni.h: a few codes a call, no call into cryptography
per round) gives exactly what the cryptography path gives: every key size and both
ciphers, counts on both sides of NATIVE_MAX, one code and many, both directions. The NIST
vectors (test_ff1.py) run through whichever path this CPU takes."""
import os

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tracecode.fpe import ff1
from tracecode.fpe.ff1 import FF1

needs_native = pytest.mark.skipif(not ff1.NATIVE_AES, reason="this CPU has no AES-NI (or TRACECODE_FF1_NATIVE=0): "
                                                              "FF1 takes cryptography's AES only")


def _pair(monkeypatch, key, tweak, radix, length, cipher="aes"):
    native = FF1(key, tweak, radix, length, cipher=cipher)
    monkeypatch.setattr(ff1, "NATIVE_AES", False)
    library = FF1(key, tweak, radix, length, cipher=cipher)
    monkeypatch.undo()
    return native, library


@needs_native
@pytest.mark.parametrize("key_bytes", [16, 24, 32])
@pytest.mark.parametrize("radix,length", [(10, 12), (10, 6), (36, 10), (26, 19)])
def test_native_and_cryptography_agree(monkeypatch, key_bytes, radix, length):
    rng = np.random.default_rng(key_bytes * 1000 + radix * 10 + length)
    for _ in range(3):
        key, tweak = os.urandom(key_bytes), os.urandom(int(rng.integers(0, 12)))
        native, library = _pair(monkeypatch, key, tweak, radix, length)
        top = min(radix ** length, 1 << 63) - 2 * ff1.NATIVE_MAX
        for count in (1, 3, 4, 5, ff1.NATIVE_MAX - 1, ff1.NATIVE_MAX, ff1.NATIVE_MAX + 1, 500):
            start = int(rng.integers(0, top))
            serials = native.encrypt_counters(start, count)
            assert (serials == library.encrypt_counters(start, count)).all(), (key_bytes, count)
            got, ok = native.decrypt_counters(serials)
            assert ok.all() and (got == np.arange(start, start + count, dtype=np.uint64)).all()
            assert native.decrypt_counter(bytes(serials[0])) == start == library.decrypt_counter(bytes(serials[0]))
        text = (native.alphabet * length)[:length]
        assert native.encrypt(text) == library.encrypt(text) and native.decrypt(text) == library.decrypt(text)


@needs_native
def test_sm4_keeps_to_cryptography_and_agrees(monkeypatch):
    native, library = _pair(monkeypatch, os.urandom(16), b"t", 10, 12, cipher="sm4")
    assert (native.encrypt_counters(7, 5) == library.encrypt_counters(7, 5)).all()


@needs_native
@pytest.mark.parametrize("key,plain,cipher", [
    ("000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff",
     "69c4e0d86a7b0430d8cdb78070b4c55a"),                                   # FIPS 197 C.1
    ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "00112233445566778899aabbccddeeff",
     "8ea2b7ca516745bfeafc49904b496089"),                                   # FIPS 197 C.3
])
def test_the_native_aes_is_fips_197s(key, plain, cipher):
    assert ff1.native_aes_ecb(bytes.fromhex(key), bytes.fromhex(plain)).hex() == cipher


@needs_native
@pytest.mark.parametrize("key_bytes", [16, 32])
@pytest.mark.parametrize("blocks", [1, 3, 4, 5, 8, 9, 100])
def test_the_native_aes_agrees_with_cryptography(key_bytes, blocks):
    for _ in range(5):
        key, data = os.urandom(key_bytes), os.urandom(16 * blocks)
        expected = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(data)
        assert ff1.native_aes_ecb(key, data) == expected


def test_the_native_aes_refuses_what_it_does_not_take():
    if not ff1.NATIVE_AES:
        pytest.skip("no AES-NI here")
    for key, data in ((bytes(24), bytes(16)), (bytes(16), bytes(15)), (bytes(16), b"")):
        with pytest.raises(ValueError):
            ff1.native_aes_ecb(key, data)
