"""The data directory: master key, derived keys and durable counter reservations."""
import os
import signal
import stat
import subprocess
import sys

import pytest

import tracecode
from tracecode.errors import CapacityExceeded, KeyStoreError
from tracecode.keys import Key, load_master_key

from conftest import read_lines


def test_init_then_open(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        assert stat.S_IMODE((path / "master.key").stat().st_mode) == 0o600
        first = d.issue("cn-drug-20", {"drug_id": "8177322"}, 10).codes()
    with tracecode.open(path) as d:
        again = d.issuer("cn-drug-20", {"drug_id": "8177322"}).codes(0, 10)
        assert (first == again).all()  # the same key re-renders the same codes
        assert d.issue("cn-drug-20", {"drug_id": "8177322"}, 5).start == 10
        assert d.issued("cn-drug-20", {"drug_id": "8177322"}) == 15


def test_init_refuses_to_overwrite(tmp_path):
    tracecode.init(tmp_path / "d").close()
    with pytest.raises(KeyStoreError, match="not empty"):
        tracecode.init(tmp_path / "d")


def test_key_problems_are_named(tmp_path):
    with pytest.raises(KeyStoreError, match="not a data directory"):
        tracecode.open(tmp_path / "nowhere")
    path = tmp_path / "d"
    tracecode.init(path).close()
    os.chmod(path / "master.key", 0o640)
    with pytest.raises(KeyStoreError, match="readable by others"):
        load_master_key(path)
    os.chmod(path / "master.key", 0o600)
    (path / "master.key").write_bytes(b"short")
    with pytest.raises(KeyStoreError, match="5 bytes"):
        load_master_key(path)


def test_derived_keys_are_bound_and_never_printed():
    master = Key(bytes(range(32)))
    a = master.derive("ff1", b"cn-drug-20", b"drug_id=8177322")
    assert bytes(a) == bytes(master.derive("ff1", b"cn-drug-20", b"drug_id=8177322"))
    assert bytes(a) != bytes(master.derive("ff1", b"cn-drug-20", b"drug_id=8177323"))
    assert bytes(a) != bytes(master.derive("ff1", b"cn-drug-2", b"0drug_id=8177322"))  # no ambiguity
    assert len(a) == 32
    for k in (master, a):
        assert bytes(k).hex() not in repr(k) + str(k) and repr(k) == "<Key 256 bits>"


def test_capacity_counts_across_batches(tmp_path):
    with tracecode.init(tmp_path / "d") as d:
        prod = {"date": "20140327", "enterprise": "00002"}
        d.issue("cn-vet-24", prod, 999_000)
        with pytest.raises(CapacityExceeded) as exc:
            d.issue("cn-vet-24", prod, 1000)
        assert exc.value.remaining == 999
        assert d.issue("cn-vet-24", prod, 999).start == 999_000


RESERVER = """
import sys, tracecode
d = tracecode.open(sys.argv[1])
while True:
    b = d.issue("cn-drug-20", {"drug_id": "8177322"}, 1000)
    print(b.start, flush=True)
"""


def test_a_killed_issuer_never_hands_out_a_counter_twice(tmp_path):
    """kill -9 in the middle of reservations; every range printed stays reserved."""
    path = tmp_path / "d"
    tracecode.init(path).close()
    seen = []
    for reservations in (3, 30, 300):  # killed at three points of the loop, by progress, not time
        proc = subprocess.Popen([sys.executable, "-c", RESERVER, str(path)], stdout=subprocess.PIPE)
        first = read_lines(proc.stdout, reservations, timeout=120)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        seen += [int(x) for x in (first + out).split()]
    assert len(seen) == len(set(seen)) and seen
    with tracecode.open(path) as d:
        nxt = d.issue("cn-drug-20", {"drug_id": "8177322"}, 1).start
    assert nxt >= max(seen) + 1000
