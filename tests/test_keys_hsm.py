"""Master keys wrapped by a key in a real PKCS#11 token: Debian's softhsm2, a token made in a
temporary directory (SOFTHSM2_CONF). Skipped, with the reason, without softhsm2 or
python-pkcs11, except under CI=true."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tracecode
from tracecode.errors import KeyStoreError

CI = os.environ.get("CI") == "true"
MODULES = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
MODULE = next((m for m in MODULES if os.path.exists(m)), None)
PIN = "4711-secret-pin"
P = {"drug_id": "8177322"}


def _need():
    why = None
    if MODULE is None or shutil.which("softhsm2-util") is None:
        why = "softhsm2 is not installed (apt-get install softhsm2)"
    else:
        try:
            import pkcs11  # noqa: F401
        except ImportError:
            why = "python-pkcs11 is not installed (pip install 'tracecode[hsm]')"
    if why:
        if CI:
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory):
    """One token for the module: a process loads a PKCS#11 module once, and softhsm2 reads
    SOFTHSM2_CONF when it is loaded, so every test here shares it (each its own key label)."""
    _need()
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "tc-test", "--so-pin", "99887766",
                    "--pin", PIN], check=True, capture_output=True)
    yield conf
    if old is None:
        del os.environ["SOFTHSM2_CONF"]
    else:
        os.environ["SOFTHSM2_CONF"] = old


@pytest.fixture
def token(softhsm, monkeypatch, request):
    monkeypatch.setenv("TRACECODE_HSM_PIN", PIN)
    global LABEL
    LABEL = "wrap-" + request.node.name[:40]
    return softhsm


LABEL = "tc-wrap"


def _run(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], capture_output=True,
                          text=True, env=env, **kw)


def _wrap(path, *extra):
    return _run("key", "wrap", path, "--pkcs11-module", MODULE, "--token", "tc-test", "--key-label",
                LABEL, "--create-key", *extra)


def _make(tmp_path, rotate=True):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        b1 = d.issue("cn-drug-20", P, 50)
        if rotate:
            d.keyring.rotate()
        b2 = d.issue("cn-drug-20", P, 50)
    raws = [(path / n).read_bytes() for n in ("master.key", "master.v2.key") if (path / n).exists()]
    return path, [c.decode() for c in b1.codes()] + [c.decode() for c in b2.codes()], raws


def test_wrapped_keys_unwrap_at_open_and_no_clear_key_is_left(tmp_path, token):
    path, codes, raws = _make(tmp_path)
    done = _wrap(path)
    assert done.returncode == 0, done.stderr
    assert not (path / "master.key").exists() and not (path / "master.v2.key").exists()
    assert (path / "master.key.wrapped").exists() and (path / "master.v2.key.wrapped").exists()
    for p in path.rglob("*"):   # no file of the directory holds a key in clear
        if p.is_file():
            data = p.read_bytes()
            assert not any(r in data or r.hex().encode() in data for r in raws), p
    ring = json.loads((path / "keys.json").read_text())
    assert ring["hsm"]["token"] == "tc-test" and PIN not in json.dumps(ring)
    with tracecode.open(path) as d:
        out = d.verify_many(codes, record=False)
        assert (out.records["batch"] != 0).all()
        new = d.issue("cn-drug-20", P, 10)          # the current version, unwrapped in memory
        assert new.record.key_version == 2 and d.verify(new.codes()[0].decode(), record=False).batch == new.id
        info = d.keyring.rotate()                   # born wrapped: never in clear on disk
        assert info.file == "master.v3.key.wrapped" and not (path / "master.v3.key").exists()
        b3 = d.issue("cn-drug-20", P, 10)
    with tracecode.open(path) as d:
        assert d.verify(b3.codes()[0].decode(), record=False).batch == b3.id


def test_without_the_pin_or_with_a_wrong_one_the_directory_does_not_open(tmp_path, token, monkeypatch):
    path, codes, _ = _make(tmp_path, rotate=False)
    assert _wrap(path).returncode == 0
    monkeypatch.delenv("TRACECODE_HSM_PIN")
    with pytest.raises(KeyStoreError, match=r"TRACECODE_HSM_PIN") as err:
        tracecode.open(path)
    monkeypatch.setenv("TRACECODE_HSM_PIN", "0000")
    with pytest.raises(KeyStoreError, match="refused the PIN") as err2:
        tracecode.open(path)
    for e in (err, err2):
        assert PIN not in str(e.value) and "0000" not in str(e.value)
    env = {**os.environ, "TRACECODE_HSM_PIN": "not-" + PIN}
    out = _run("verify", path, "--no-record", codes[0], env=env)
    assert out.returncode != 0 and "refused the PIN" in out.stderr and PIN not in out.stderr + out.stdout


def test_the_pin_from_a_file_never_from_argv(tmp_path, token, monkeypatch):
    path, codes, _ = _make(tmp_path, rotate=False)
    pin = tmp_path / "pin"
    pin.write_text(PIN + "\n")
    pin.chmod(0o644)
    monkeypatch.delenv("TRACECODE_HSM_PIN")
    loose = _wrap(path, "--pin-file", pin)
    assert loose.returncode != 0 and "readable by others" in loose.stderr and (path / "master.key").exists()
    pin.chmod(0o600)
    assert _wrap(path, "--pin-file", pin).returncode == 0
    with tracecode.open(path) as d:
        assert d.verify(codes[0], record=False).batch == 1
    assert _run("key", "wrap", "--help").stdout.count("--pin ") == 0   # no PIN option on argv


def test_a_backup_carries_the_wrapped_keys_never_the_clear_ones(tmp_path, token):
    path, codes, raws = _make(tmp_path)
    assert _wrap(path).returncode == 0
    out = _run("backup", path, tmp_path / "b", "--with-key")
    assert out.returncode == 0, out.stderr
    names = {p.name for p in (tmp_path / "b").iterdir()}
    assert {"master.key.wrapped", "master.v2.key.wrapped", "keys.json"} <= names and "master.key" not in names
    for p in (tmp_path / "b").rglob("*"):
        if p.is_file():
            assert not any(r in p.read_bytes() for r in raws), p
    back = _run("restore", tmp_path / "b", tmp_path / "r", "--journal", path / "reservations.journal")
    assert back.returncode != 0 and "--pkcs11-module" in back.stderr   # the backup's module is not trusted
    assert not (tmp_path / "r").exists()
    back = _run("restore", tmp_path / "b", tmp_path / "r", "--journal", path / "reservations.journal",
                "--pkcs11-module", MODULE)
    assert back.returncode == 0, back.stderr
    with tracecode.open(tmp_path / "r") as d:
        assert (d.verify_many(codes, record=False).records["batch"] != 0).all()


def test_a_tampered_wrapped_key_or_another_token_key_is_refused(tmp_path, token):
    path, codes, _ = _make(tmp_path, rotate=False)
    assert _wrap(path).returncode == 0
    blob = json.loads((path / "master.key.wrapped").read_text())
    good = dict(blob)
    blob["ciphertext"] = ("00" if blob["ciphertext"][:2] != "00" else "11") + blob["ciphertext"][2:]
    (path / "master.key.wrapped").write_text(json.dumps(blob))
    with pytest.raises(KeyStoreError, match="cannot unwrap"):
        tracecode.open(path)
    # the version-1 blob passed off as another version: its associated data says no
    (path / "master.key.wrapped").write_text(json.dumps(good))
    ring = json.loads((path / "keys.json").read_text())
    ring["hsm"]["key_label"] = "no-such-key"
    (path / "keys.json").write_text(json.dumps(ring))
    with pytest.raises(KeyStoreError, match="holds no AES key labelled 'no-such-key'"):
        tracecode.open(path)


def test_wrapping_again_with_another_token_key_is_refused(tmp_path, token):
    path, _, _ = _make(tmp_path, rotate=False)
    assert _wrap(path).returncode == 0
    again = _run("key", "wrap", path, "--pkcs11-module", MODULE, "--token", "tc-test", "--key-label", "other",
                 "--create-key")
    assert again.returncode != 0 and f"wrapped by key '{LABEL}'" in again.stderr
    assert Path(path / "master.key.wrapped").exists()
