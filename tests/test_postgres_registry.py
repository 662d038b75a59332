"""The product registries on the PostgreSQL store (tracecode.store.postgres.registry), against
the LMDB store's answers: national code data in bulk (arrays in, arrays out; a code written
again takes its new record, as in LMDB), approvals paged past one result's 1,000 rows in number
order, and imports from concurrent writers each with its own audit seq, one after another.

The national codes' records for verification go to the core's tc_imported in the same write:
read back through the store's view, as verification reads them."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from tracecode.store.port import NATIONAL_CODE_DTYPE, NATIONAL_TEXT



def _imported(store, code: str):
    """The imported record verification finds for a code (the core's tc_imported)."""
    with store.reading() as view:
        return view.imported_one(b"ext\x00" + code.encode())


@pytest.fixture
def pg(pg_dsn):
    from tracecode import schemes
    from tracecode.store.postgres import PgStore
    s = PgStore(pg_dsn, schemes.builtin())
    yield s
    s.close()


@pytest.fixture
def lm(tmp_path):
    from tracecode import schemes
    from tracecode.store.lmdb.env import open_env
    from tracecode.store.lmdb.store import LmdbStore
    s = LmdbStore(open_env(tmp_path / "lmdb"), schemes.builtin())
    yield s
    s.close()
    s.env.close()


def _codes(rng, n):
    return np.unique(np.array([b"%024d" % k for k in rng.integers(0, 10**12, n)], NATIONAL_TEXT))


def _records(rng, n):
    recs = np.zeros(n, NATIONAL_CODE_DTYPE)
    recs["number"] = [b"N%d" % k for k in rng.integers(0, 50, n)]
    recs["lot"], recs["level"] = b"L1", rng.integers(1, 4, n)
    recs["produced"], recs["expiry"] = 20260101, 20300101
    recs["parent"][::3] = b"9" * 24
    return recs


def test_national_codes_in_bulk_answer_what_lmdb_answers(pg, lm):
    rng = np.random.default_rng(16)
    codes = _codes(rng, 20_000)
    recs = _records(rng, len(codes))
    imported = [b'{"n":%d}' % i for i in range(len(codes))]
    for s in (pg, lm):
        s.registry().write(lambda v: v.put_national_codes(codes, recs, imported))
    again = codes[::7]                       # written again: the new record is kept
    newer = _records(rng, len(again))
    for s in (pg, lm):
        s.registry().write(lambda v: v.put_national_codes(again, newer, [b"{}"] * len(again)))
    ask = np.unique(np.concatenate([codes[rng.integers(0, len(codes), 3000)], _codes(rng, 500)]))
    with pg.registry().reading() as a, lm.registry().reading() as b:
        (pa, ra), (pb, rb) = a.national_codes(ask), b.national_codes(ask)
    assert pa.tolist() == pb.tolist() and len(pa) > 2000
    assert ra.dtype == NATIONAL_CODE_DTYPE and (ra == rb).all()
    assert _imported(pg, codes[1].decode()) == b'{"n":1}' and _imported(pg, codes[7].decode()) == b"{}"


def _approval(i, **kw):
    from tracecode.registry.records import ApprovalRecord
    fields = dict(kind="vet", number=f"兽药字(2015)01{i:07d}", company="甲", enterprise_id=f"{i % 40:05d}",
                  valid_until="2099-12-31")
    return ApprovalRecord(**{**fields, **kw})


def test_approvals_page_past_one_result_in_number_order(pg, lm):
    recs = [_approval(i) for i in range(1500)] + [_approval(i, kind="pesticide", number=f"PD2009{i:04d}",
                                                            enterprise_id="") for i in range(30)]
    for s in (pg, lm):
        s.registry().write(lambda v: [v.put_approval(r, None) for r in recs])
    with pg.registry().reading() as a, lm.registry().reading() as b:
        assert [r.number for r in a.approvals()] == [r.number for r in b.approvals()]
        assert len(list(a.approvals())) == 1530
        assert a.numbers_by_enterprise("00007") == b.numbers_by_enterprise("00007") != []
        prefix = recs[-1].code_prefix
        assert a.numbers_by_prefix(prefix) == b.numbers_by_prefix(prefix) != []


def test_imports_from_concurrent_writers_each_get_the_next_audit_seq(pg):
    reg, seqs, errors = pg.registry(), [], []

    def one(i):
        try:
            seqs.append(reg.write(lambda v: (v.put_approval(_approval(i), None), v.log_import({"who": i}))[1]))
        except BaseException as e:
            errors.append(e)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and sorted(seqs) == list(range(1, 9))
    with reg.reading() as view:
        assert [i["seq"] for i in view.imports()] == list(range(1, 9))
        assert sorted(i["who"] for i in view.imports()) == list(range(8))
