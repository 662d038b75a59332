"""The single verify reads a product's batch table from the store only when the table it
read last does not hold the code (index._cached_batch): batches never change once
reserved. What was issued since, here or by another process, and codes of other key
versions, are still told right. Over LMDB and over PostgreSQL (a real server)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import tracecode
from tracecode.index.verdicts import Verdict
from tracecode.keyring import Keyring

P = {"drug_id": "8177322"}
HALF = 499_999   # half a cn-vet-24 day's counters


@pytest.fixture(params=["lmdb", "postgres"])
def path(request, tmp_path):
    store = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    tracecode.init(tmp_path / "d", **({"store": store} if store else {})).close()
    return tmp_path / "d"


def codes(batch):
    return [c.decode() for c in batch.codes()]


def issue_elsewhere(d, path, n: int, scheme="cn-drug-20", product=P) -> tuple[int, list]:
    """A batch issued by another process: (its id, its codes, rendered here)."""
    out = subprocess.run([sys.executable, "-c", f"""
import json, tracecode
with tracecode.open({str(path)!r}) as d:
    b = d.issue({scheme!r}, {product!r}, {n})
    print(json.dumps([b.id, b.start, b.record.key_version]))
"""], capture_output=True, text=True, check=True, timeout=120)
    bid, start, version = json.loads(out.stdout)
    return bid, [c.decode() for c in d.issuer(scheme, product, version).codes(start, n)]


def marks_read(d, monkeypatch) -> list:
    """Each table_mark the store's views are asked (the batch table's freshness read)."""
    calls = []
    with d.index.store.reading() as view:
        cls = type(view)
    real = cls.table_mark
    monkeypatch.setattr(cls, "table_mark", lambda self, *a: calls.append(a) or real(self, *a))
    return calls


def test_a_code_of_a_batch_read_before_costs_no_table_read(path, monkeypatch):
    with tracecode.open(path) as d:
        b = d.issue("cn-drug-20", P, 200)
        first, *rest = codes(b)
        assert d.verify(first, record=False).batch == b.id
        calls = marks_read(d, monkeypatch)
        assert [d.verify(c, record=False).batch for c in rest[:50]] == [b.id] * 50
        assert calls == []


def test_batches_issued_since_here_or_elsewhere_are_found(path):
    with tracecode.open(path) as d:
        b1 = d.issue("cn-drug-20", P, 100)
        assert d.verify(codes(b1)[0], record=False).batch == b1.id
        b2 = d.issue("cn-drug-20", P, 100)
        b3, made = issue_elsewhere(d, path, 100)
        assert d.verify(made[7], record=False).batch == b3
        for b in (b2, b1):
            assert d.verify(codes(b)[7], record=False).batch == b.id
        # a code past every batch: unknown, however the table was read
        beyond = d.issuer("cn-drug-20", P, 1).codes(b2.start + 300, 1)[0].decode()
        assert d.verify(beyond, record=False).verdict == Verdict.UNKNOWN


def test_after_a_rotation_elsewhere_each_version_still_claims_only_its_own(path):
    with tracecode.open(path) as d:
        b1 = d.issue("cn-drug-20", P, 1000)
        assert d.verify(codes(b1)[0], record=False).batch == b1.id   # table read: version 1 only
        Keyring.load(path).rotate()
        b2, made = issue_elsewhere(d, path, 1000)
        v1 = d.issuer("cn-drug-20", P, 1)
        forged = [c.decode() for c in v1.codes(1000, 30)]   # version 1's codes at version 2's counters
        assert {d.verify(c, record=False).verdict for c in forged} == {Verdict.UNKNOWN}
        assert d.verify(made[5], record=False).batch == b2
        assert d.verify(codes(b1)[5], record=False).batch == b1.id


def test_a_newer_version_s_code_that_decrypts_into_an_old_batch_is_the_newer_one_s(path):
    """A verifying process that has not issued since another process rotated and issued:
    its parser is still on version 1 and its cached table holds version 1's batch only. A
    version 2 code that version 1 decrypts into that batch is the version 2 batch's (the
    newest version first, as the table read says): the cached table must not answer it.
    cn-vet-24's FF1 domain is 10^10 and a day holds 10^6 - 1 counters: of two half-days'
    batches about 25 codes do that (none: e^-25)."""
    scheme, product = "cn-vet-24", {"date": "20260101", "enterprise": "00002"}
    with tracecode.open(path) as d:
        b1 = d.issue(scheme, product, HALF)
        assert d.verify(b1.codes()[0].decode(), record=False).batch == b1.id   # table cached: version 1
        Keyring.load(path).rotate()
        b2, made = issue_elsewhere(d, path, HALF, scheme, product)
        counters, ok = d.issuer(scheme, product, 1).counters(np.array([c.encode() for c in made]))
        both = [made[i] for i in np.flatnonzero(ok & (counters < HALF)).tolist()]
        assert both
        assert {d.verify(c, record=False).batch for c in both} == {b2}
