"""Cipher suites and key versions: FF1-SM4 against FF1-AES, in the same run.

Groups (each a ratio against its first baseline):
    block       the block ciphers alone (OpenSSL ECB over a chunk's blocks): AES-256 is the
                baseline, SM4 the ceiling FF1-SM4 can reach (FF1 costs ten blocks a code)
    ff1         FF1 over 12-digit counters: FF1-AES the baseline, FF1-SM4 against it
    issue-suite bulk issuance (cn-drug-20) under each suite
    verify-suite verify_many of the issued codes under each suite (no recording)
    verify-keys verify_many after rotations: a product with one version (the baseline),
                genuine codes of the oldest of three versions (three decryptions each), and
                made-up codes of a three-version product (every version tried)
"""
import os

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import tracecode
from bench.conftest import size
from tracecode import Key, schemes
from tracecode.fpe.ff1 import FF1
from tracecode.issuance import Issuer
from tracecode.keys import SUITES

N = size(500_000, 5_000_000)
N_VERIFY = size(100_000, 1_000_000)
PRODUCT = {"drug_id": "8177322"}


def run(benchmark, fn, codes, role="engine", note=""):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("name,algo,key,role", [
    ("aes-256", algorithms.AES, 32, "baseline"), ("sm4", algorithms.SM4, 16, "engine")])
@pytest.mark.benchmark(group="block")
def test_block_cipher_alone(benchmark, name, algo, key, role):
    enc = Cipher(algo(os.urandom(key)), modes.ECB()).encryptor()
    blocks = np.zeros(8192 * 16, np.uint8)
    out = bytearray(len(blocks) + 16)
    rounds = N * 10 // 8192   # the blocks FF1 needs for N codes

    def go():
        for _ in range(rounds):
            enc.update_into(blocks, out)
    run(benchmark, go, N, role, f"{name} ECB, {N * 10:,} blocks (FF1's for {N:,} codes)")


@pytest.mark.parametrize("cipher,key,role", [("aes", 32, "baseline"), ("sm4", 16, "engine")])
@pytest.mark.benchmark(group="ff1")
def test_ff1_counters(benchmark, cipher, key, role):
    f = FF1(os.urandom(key), b"bench", 10, 12, cipher=cipher)
    out = np.empty(N, "S12")
    run(benchmark, lambda: f.encrypt_counters(0, N, out), N, role, f"FF1-{cipher.upper()} radix 10, 12 digits")


@pytest.mark.parametrize("suite,role", [("aes", "baseline"), ("sm", "engine")])
@pytest.mark.benchmark(group="issue-suite")
def test_issue_under_each_suite(benchmark, suite, role):
    iss = Issuer(schemes.get("cn-drug-20"), PRODUCT, Key(bytes(range(32)), SUITES[suite]))
    lay = iss.layout("bare")
    out = np.ones((N, lay.width), np.uint8)
    run(benchmark, lambda: iss._fill(lay, 0, out), N, role, f"cn-drug-20 under {suite}")


@pytest.fixture(scope="module")
def suite_dirs(tmp_path_factory):
    made = {}
    for suite in ("aes", "sm"):
        d = tracecode.init(tmp_path_factory.mktemp(suite) / "d", crypto=suite)
        made[suite] = (d, [c.decode() for c in d.issue("cn-drug-20", PRODUCT, N_VERIFY).codes()])
    yield made
    for d, _ in made.values():
        d.close()


@pytest.mark.parametrize("suite,role", [("aes", "baseline"), ("sm", "engine")])
@pytest.mark.benchmark(group="verify-suite")
def test_verify_under_each_suite(benchmark, suite_dirs, suite, role):
    d, codes = suite_dirs[suite]
    out = run(benchmark, lambda: d.verify_many(codes, record=False), N_VERIFY, role,
              f"verify_many under {suite}")
    assert (out.records["batch"] == 1).all()


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    """One product issued once (one version), another issued under versions 1, 2 and 3."""
    d = tracecode.init(tmp_path_factory.mktemp("rot") / "d")
    single = [c.decode() for c in d.issue("cn-drug-20", {"drug_id": "1000001"}, N_VERIFY).codes()]
    oldest = [c.decode() for c in d.issue("cn-drug-20", PRODUCT, N_VERIFY).codes()]
    for _ in range(2):
        d.keyring.rotate()
        d.issue("cn-drug-20", PRODUCT, 1000)
    made_up = [c.decode() for c in Issuer(schemes.get("cn-drug-20"), PRODUCT, Key(os.urandom(32)))
               .codes(0, N_VERIFY)]
    yield d, single, oldest, made_up
    d.close()


@pytest.mark.parametrize("which,role,note", [
    ("single", "baseline", "a product with one key version: one FF1 a scan"),
    ("oldest", "engine", "codes of version 1 of a product with 3 versions: 3 FF1 a scan"),
    ("made_up", "engine", "made-up codes of a product with 3 versions: every version tried")])
@pytest.mark.benchmark(group="verify-keys")
def test_verify_after_rotations(benchmark, rotated, which, role, note):
    d, single, oldest, made_up = rotated
    codes = {"single": single, "oldest": oldest, "made_up": made_up}[which]
    out = run(benchmark, lambda: d.verify_many(codes, record=False), N_VERIFY, role, note)
    found = (out.records["batch"] != 0).mean()
    assert found == (0.0 if which == "made_up" else 1.0)
