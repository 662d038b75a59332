"""Cipher suites: FF1-SM4 and HKDF-SM3 checked against independent implementations, and a
data directory's suite (aes | sm) recorded, kept and never mixed.

No published FF1-SM4 vectors exist, so FF1-SM4 is checked three ways: a plain FF1 written
straight from NIST SP 800-38G (Algorithm 7) with the block cipher plugged in, itself checked
against NIST's FF1-AES vectors; that reference over cryptography's SM4 and over gmssl's
pure-Python SM4; and both SM4s against the GB/T 32907 example.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import HealthCheck, given, settings, strategies as st

import tracecode
from tracecode.errors import KeyStoreError
from tracecode.fpe.ff1 import FF1, max_length
from tracecode.issuance import Issuer
from tracecode.keys import SUITES, Key
from tracecode import schemes
from tracecode.store.lmdb.batches import Batches
from tracecode.store.lmdb.env import open_env, run_write

gmssl_sm3 = pytest.importorskip("gmssl.sm3", reason="gmssl (the test extra) checks SM3 and SM4")
gmssl_sm4 = pytest.importorskip("gmssl.sm4")

VECTORS = json.loads((Path(__file__).parent / "data" / "ff1_nist_vectors.json").read_text())["vectors"]
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
PRODUCT = {"drug_id": "8177322"}


# -- block ciphers, three of them ----------------------------------------------------------------
def aes(key: bytes):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update


def sm4(key: bytes):
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return enc.update


def sm4_gmssl(key: bytes):
    c = gmssl_sm4.CryptSM4()
    c.set_key(key, gmssl_sm4.SM4_ENCRYPT)
    return lambda block: bytes(c.one_round(c.sk, list(block)))


# -- FF1 as NIST SP 800-38G writes it ----------------------------------------------------------
def _num(xs, radix):
    n = 0
    for x in xs:
        n = n * radix + x
    return n


def _str(n, radix, m):
    out = []
    for _ in range(m):
        n, r = divmod(n, radix)
        out.append(r)
    return out[::-1]


def reference_ff1(ciph, radix, tweak: bytes, X: list, decrypt=False) -> list:
    """Algorithms 7 and 8, step by step: ciph is the 128-bit block cipher under the key."""
    n, t = len(X), len(tweak)
    u, v = n // 2, n - n // 2
    A, B = X[:u], X[u:]
    b = ((radix ** v - 1).bit_length() + 7) // 8          # ceil(ceil(v * log2(radix)) / 8)
    d = 4 * ((b + 3) // 4) + 4
    P = bytes([1, 2, 1]) + radix.to_bytes(3, "big") + bytes([10, u % 256]) + n.to_bytes(4, "big") \
        + t.to_bytes(4, "big")

    def F(i, half):
        Q = tweak + bytes((-t - b - 1) % 16) + bytes([i]) + _num(half, radix).to_bytes(b, "big")
        R = bytes(16)
        data = P + Q
        for off in range(0, len(data), 16):           # PRF: CBC-MAC with a zero IV
            R = ciph(bytes(x ^ y for x, y in zip(R, data[off:off + 16])))
        S = R
        for j in range(1, (d + 15) // 16):
            S += ciph(bytes(x ^ y for x, y in zip(R, j.to_bytes(16, "big"))))
        return int.from_bytes(S[:d], "big")

    if not decrypt:
        for i in range(10):
            m = u if i % 2 == 0 else v
            C = _str((_num(A, radix) + F(i, B)) % radix ** m, radix, m)
            A, B = B, C
    else:
        for i in range(9, -1, -1):
            m = u if i % 2 == 0 else v
            C = _str((_num(B, radix) - F(i, A)) % radix ** m, radix, m)
            B, A = A, C
    return A + B


def _numerals(text, radix):
    return [DIGITS.index(ch) for ch in text.lower()] if radix <= 36 else None


def _text(xs):
    return "".join(DIGITS[x] for x in xs)


# -- the reference and the primitives, against published values -----------------------------------
@pytest.mark.parametrize("v", [v for v in VECTORS if v["radix"] <= 36],
                         ids=lambda v: f"sample{v['sample']}")
def test_the_reference_ff1_gives_the_nist_vectors(v):
    x = _numerals(v["plaintext"], v["radix"])
    ct = reference_ff1(aes(bytes.fromhex(v["key"])), v["radix"], bytes.fromhex(v["tweak"]), x)
    assert _text(ct) == v["ciphertext"].lower()
    pt = reference_ff1(aes(bytes.fromhex(v["key"])), v["radix"], bytes.fromhex(v["tweak"]), ct,
                       decrypt=True)
    assert pt == x


def test_both_sm4s_give_the_gbt_32907_example():
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    want = bytes.fromhex("681edf34d206965e86b3e94f536e4246")
    assert sm4(key)(key) == want
    assert sm4_gmssl(key)(key) == want


def test_both_sm3s_give_the_gbt_32905_examples():
    abc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    long = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert SUITES["sm"].hash(b"abc") == abc == gmssl_sm3.sm3_hash(list(b"abc"))
    assert SUITES["sm"].hash(b"abcd" * 16) == long == gmssl_sm3.sm3_hash(list(b"abcd" * 16))


# -- FF1-SM4 three ways ---------------------------------------------------------------------------
@st.composite
def domains(draw):
    radix = draw(st.sampled_from([2, 8, 10, 16, 26, 36]))
    lo = 2
    while radix ** lo < 1_000_000:
        lo += 1
    length = draw(st.integers(lo, min(max_length(radix), lo + 14)))
    x = draw(st.lists(st.integers(0, radix - 1), min_size=length, max_size=length))
    return radix, x


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.binary(min_size=16, max_size=16), tweak=st.binary(max_size=40), dom=domains())
def test_ff1_sm4_matches_the_reference_over_both_sm4s(key, tweak, dom):
    radix, x = dom
    ours = FF1(key, tweak, radix, len(x), alphabet=DIGITS[:radix], cipher="sm4")
    got = ours.encrypt(_text(x))
    assert got == _text(reference_ff1(sm4(key), radix, tweak, x))
    assert got == _text(reference_ff1(sm4_gmssl(key), radix, tweak, x))
    assert ours.decrypt(got) == _text(x)


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), tweak=st.binary(max_size=20),
       start=st.integers(0, 10 ** 11), count=st.integers(1, 40))
def test_ff1_sm4_bulk_path_matches_its_single_path(key, tweak, start, count):
    f = FF1(key, tweak, 10, 12, cipher="sm4")
    out = f.encrypt_counters(start, count)
    assert [c.decode() for c in out] == [f.encrypt(str(start + i).rjust(12, "0")) for i in range(count)]
    counters, ok = f.decrypt_counters(out)
    assert ok.all() and counters.tolist() == list(range(start, start + count))


@settings(max_examples=40, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), tweak=st.binary(max_size=40), dom=domains())
def test_ff1_aes_matches_the_reference_too(key, tweak, dom):
    radix, x = dom
    ours = FF1(key, tweak, radix, len(x), alphabet=DIGITS[:radix])
    assert ours.encrypt(_text(x)) == _text(reference_ff1(aes(key), radix, tweak, x))


def test_sm4_and_aes_give_different_serials_and_bad_keys_are_refused():
    a = FF1(bytes(16), b"t", 10, 12).encrypt_counters(0, 100)
    s = FF1(bytes(16), b"t", 10, 12, cipher="sm4").encrypt_counters(0, 100)
    assert len(set(a.tolist()) & set(s.tolist())) < 3
    with pytest.raises(ValueError, match="FF1-SM4 key must be 16 bytes"):
        FF1(bytes(32), b"", 10, 12, cipher="sm4")
    with pytest.raises(ValueError, match="cipher must be one of aes, sm4"):
        FF1(bytes(16), b"", 10, 12, cipher="des")
    assert "sm4" in repr(FF1(bytes(16), b"", 10, 12, cipher="sm4"))


# -- HKDF-SM3 against HMAC-SM3 built from gmssl's SM3 (RFC 2104, RFC 5869) ------------------------
def hmac_sm3(key: bytes, msg: bytes) -> bytes:
    if len(key) > 64:
        key = bytes.fromhex(gmssl_sm3.sm3_hash(list(key)))
    key = key.ljust(64, b"\0")
    inner = bytes.fromhex(gmssl_sm3.sm3_hash(list(bytes(k ^ 0x36 for k in key) + msg)))
    return bytes.fromhex(gmssl_sm3.sm3_hash(list(bytes(k ^ 0x5C for k in key) + inner)))


def hkdf_sm3(ikm: bytes, info: bytes, length: int, salt: bytes = b"") -> bytes:
    prk = hmac_sm3(salt or bytes(32), ikm)
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac_sm3(prk, t + info + bytes([i]))
        out += t
        i += 1
    return out[:length]


@settings(max_examples=40, deadline=None)
@given(raw=st.binary(min_size=32, max_size=32), purpose=st.text("abcdef-", min_size=1, max_size=8),
       ctx=st.lists(st.binary(max_size=20), max_size=3), length=st.sampled_from([16, 32, 48]))
def test_hkdf_sm3_matches_hmac_sm3_from_gmssl(raw, purpose, ctx, length):
    got = Key(raw, SUITES["sm"]).derive(purpose, *ctx, length=length)
    info = b"tracecode/v1/" + purpose.encode() + b"".join(b"\x00" + c for c in ctx)
    assert bytes(got) == hkdf_sm3(raw, info, length)
    assert bytes(Key(raw).derive(purpose, *ctx, length=length)) != bytes(got)


def test_an_issuer_is_hkdf_then_ff1_under_each_suite():
    """The whole chain rebuilt from the references: the aes suite is what tracecode always
    did (HKDF-SHA-256, FF1-AES-256), the sm suite HKDF-SM3 and FF1-SM4 with a 16-byte key."""
    scheme = schemes.get("cn-drug-20")
    raw = bytes(range(32))
    for name, ciph, n in (("aes", aes, 32), ("sm", sm4, 16)):
        iss = Issuer(scheme, PRODUCT, Key(raw, SUITES[name]))
        info = b"tracecode/v1/ff1\x00" + scheme.name.encode() + b"\x00" + iss.product_key
        if name == "aes":
            key = HKDF(hashes.SHA256(), 32, None, info).derive(raw)
        else:
            key = hkdf_sm3(raw, info, 16)
        assert len(key) == n
        code = iss.codes(41, 1)[0].decode()
        at, ln = scheme.offset(scheme.serial.name), scheme.serial.length
        want = reference_ff1(ciph(key), 10, scheme.tweak(iss.product), _numerals(str(41).rjust(ln, "0"), 10))
        assert code[at:at + ln] == _text(want)


# -- a data directory's suite ---------------------------------------------------------------------
@pytest.mark.parametrize("suite", ["aes", "sm"])
def test_issue_and_verify_round_trip_under_each_suite(tmp_path, suite):
    path = tmp_path / "d"
    with tracecode.init(path, crypto=suite) as d:
        batch = d.issue("cn-drug-20", PRODUCT, 2000)
        codes = [c.decode() for c in batch.codes()]
        assert len(set(codes)) == 2000
    assert json.loads((path / "index.stamp").read_text())["crypto"] == suite
    assert json.loads((path / "keys.json").read_text())["suite"] == suite
    with tracecode.open(path) as d:
        assert d.keyring.suite.name == suite
        assert d.verify(codes[7]).batch == batch.id
        out = d.verify_many(codes + ["81773220000000000000"])
        assert (out.records["batch"][:-1] == batch.id).all() and out.records["batch"][-1] == 0
        assert (d.issuer("cn-drug-20", PRODUCT).codes(0, 2000) == batch.codes()).all()


def test_the_suites_give_different_codes_for_the_same_master_key(tmp_path):
    for name in ("a", "s"):
        tracecode.init(tmp_path / name, crypto="aes" if name == "a" else "sm").close()
    (tmp_path / "s" / "master.key").write_bytes((tmp_path / "a" / "master.key").read_bytes())
    fp = json.loads((tmp_path / "s" / "keys.json").read_text())
    fp["versions"][0]["fingerprint"] = None   # the copied key is not the one keys.json names
    (tmp_path / "s" / "keys.json").write_text(json.dumps(fp))
    with tracecode.open(tmp_path / "a") as a, tracecode.open(tmp_path / "s") as s:
        ca = a.issuer("cn-drug-20", PRODUCT).codes(0, 50)
        cs = s.issuer("cn-drug-20", PRODUCT).codes(0, 50)
    assert not set(ca.tolist()) & set(cs.tolist())


def test_mixing_suites_is_refused(tmp_path):
    path = tmp_path / "d"
    tracecode.init(path, crypto="sm").close()
    with pytest.raises(KeyStoreError, match="uses cipher suite 'sm', not 'aes'"):
        tracecode.open(path, crypto="aes")
    stamp = json.loads((path / "index.stamp").read_text())
    (path / "index.stamp").write_text(json.dumps({**stamp, "crypto": "aes"}))
    with pytest.raises(KeyStoreError, match="refusing to mix suites"):
        tracecode.open(path)
    (path / "index.stamp").write_text(json.dumps(stamp))
    ring = json.loads((path / "keys.json").read_text())
    # keys.json and the stamp say aes, the index inside says sm
    (path / "keys.json").write_text(json.dumps({**ring, "suite": "aes"}))
    with pytest.raises(KeyStoreError, match="names cipher suite .sm. but"):
        tracecode.open(path)
    ring["versions"][0]["fingerprint"] = None
    (path / "keys.json").write_text(json.dumps({**ring, "suite": "aes"}))
    (path / "index.stamp").write_text(json.dumps({**stamp, "crypto": "aes"}))
    with pytest.raises(KeyStoreError, match="made with cipher suite 'sm'"):
        tracecode.open(path).index
    with pytest.raises(KeyStoreError, match="unknown cipher suite 'des'"):
        tracecode.init(tmp_path / "e", crypto="des")
    assert not (tmp_path / "e").exists()


def test_a_directory_from_before_suites_opens_as_aes(tmp_path):
    """No keys.json, no suite in the stamp, none in the index: aes, and its codes verify."""
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        codes = [c.decode() for c in d.issue("cn-drug-20", PRODUCT, 100).codes()]
    env = open_env(path / "index", create=False)
    meta = Batches(env).meta
    run_write(env, lambda txn: txn.delete(b"crypto_suite", db=meta))
    env.close()
    (path / "keys.json").unlink()
    stamp = json.loads((path / "index.stamp").read_text())
    del stamp["crypto"]
    (path / "index.stamp").write_text(json.dumps(stamp))
    with tracecode.open(path) as d:
        assert d.keyring.suite.name == "aes" and d.keyring.current == 1
        assert d.verify(codes[3]).batch == 1
        assert d.issue("cn-drug-20", PRODUCT, 10).start == 100
    with pytest.raises(KeyStoreError, match="not 'sm'"):
        tracecode.open(path, crypto="sm")


def test_the_cli_inits_an_sm_directory_and_its_codes_verify(tmp_path):
    path = tmp_path / "d"
    run = [sys.executable, "-m", "tracecode"]
    done = subprocess.run(run + ["init", str(path), "--crypto", "sm"], capture_output=True, text=True)
    assert done.returncode == 0 and "cipher suite sm" in done.stderr
    out = subprocess.run(run + ["issue", str(path), "--scheme", "cn-drug-20", "--product",
                                "drug_id=8177322", "--count", "5"], capture_output=True, text=True)
    codes = out.stdout.split()
    assert out.returncode == 0 and len(codes) == 5
    ver = subprocess.run(run + ["verify", str(path), "--no-record", *codes], capture_output=True, text=True)
    assert ver.stdout.count("batch=1") == 5, ver.stdout + ver.stderr   # NOT_COMMISSIONED: exit 1
    bad = subprocess.run(run + ["init", str(tmp_path / "e"), "--crypto", "des"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_counters_of_each_suite_stay_below_the_bound(tmp_path):
    with tracecode.init(tmp_path / "d", crypto="sm") as d:
        iss = d.issuer("cn-drug-20", PRODUCT)
        c, ok = iss.counters(iss.codes(0, 1000))
        assert ok.all() and (c == np.arange(1000)).all()


# -- token hashes under SM3 -----------------------------------------------------------------------
def test_tokens_stored_as_sm3_let_their_clients_in(tmp_path):
    from tracecode.app.clients import Clients, ClientsFile, token_hash
    path = tmp_path / "clients.toml"
    f = ClientsFile.open_or_create(path)
    sm = f.add("line-sm", ["scanner"], digest="sm3")
    sha = f.add("line-sha", ["scanner"])
    text = path.read_text()
    assert f'token_sm3 = "{gmssl_sm3.sm3_hash(list(sm.encode()))}"' in text
    assert f'token_sha256 = "{token_hash(sha)}"' in text and sm not in text and sha not in text
    live = Clients(path)
    assert live.by_token(sm).name == "line-sm" and live.by_token(sha).name == "line-sha"
    assert live.by_token(sm + "x") is None
    assert {c.name for c in live.identities()} == {"line-sm", "line-sha"}
    with pytest.raises(ValueError, match="token hash must be one of"):
        token_hash("t", "md5")


def test_the_token_cli_stores_sm3(tmp_path):
    path = tmp_path / "clients.toml"
    out = subprocess.run([sys.executable, "-m", "tracecode", "token", "add", str(path), "--name", "s",
                          "--role", "scanner", "--hash", "sm3"], capture_output=True, text=True)
    assert out.returncode == 0 and "stored only as its SM3" in out.stderr
    token = out.stdout.strip()
    assert gmssl_sm3.sm3_hash(list(token.encode())) in path.read_text() and token not in path.read_text()
