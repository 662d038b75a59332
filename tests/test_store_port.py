"""The storage port's contract (tracecode.store.port), run against the LMDB store.

Written against the port's methods only, so the next implementation (a replicated store)
runs the same tests: it supplies the `backend` fixture (a store, how a batch is reserved
before reservations are on the port, and how a code is referred to)."""
import pytest

from tracecode import schemes
from tracecode.index.lifecycle import Status
from tracecode.store.port import EventPlan

PK = b"8177322"


class LmdbBackend:
    def __init__(self, path):
        from tracecode.store.lmdb import codekeys
        from tracecode.store.lmdb.env import open_env
        from tracecode.store.lmdb.store import LmdbStore
        self.store = LmdbStore(open_env(path), schemes.builtin())
        self._codekeys = codekeys

    def reserve(self, count, **details):
        return self.store.batches.reserve("cn-drug-20", PK, {"drug_id": "8177322"}, count, 10**8, **details)

    def ref(self, product_id, counter):
        return self._codekeys.ours(product_id, counter)

    def imported_ref(self, code):
        return self._codekeys.ext(code)


@pytest.fixture
def backend(tmp_path):
    b = LmdbBackend(tmp_path / "store")
    yield b
    b.store.env.close()


def plan(refs, eid, state=Status.COMMISSIONED, **kw):
    return EventPlan(record={"id": eid, "action": "test", "codes": []}, client=None, event_id=eid,
                     digest=b"d" * 8, refs=refs, state=state, **kw)


def test_the_format_is_stamped_once(backend):
    assert backend.store.stamp_format(b"2") == b"2"
    assert backend.store.stamp_format(b"3") == b"2"   # the store's own, for the caller to refuse


def test_batch_tables_and_their_marks(backend):
    s = backend.store
    with s.reading() as view:
        assert view.product_id("cn-drug-20", PK) is None and view.batch_table("cn-drug-20", PK)[0].size == 0
    first = backend.reserve(10, lot="L1")
    with s.reading() as view:
        mark = view.table_mark("cn-drug-20", PK)
        assert view.product_id("cn-drug-20", PK) is not None
    backend.reserve(5)
    with s.reading() as view:
        starts, ends, ids = view.batch_table("cn-drug-20", PK)
        assert starts.tolist() == [0, 10] and ends.tolist() == [10, 15] and ids[0] == first.id
        assert view.table_mark("cn-drug-20", PK) != mark and view.batch(first.id).lot == "L1"
    assert [b.count for b in s.batches_after(0)] == [10, 5] and s.next_batch_id() == first.id + 2


def test_an_event_plan_is_applied_whole_and_seen(backend):
    s = backend.store
    backend.reserve(10)
    with s.reading() as view:
        pid = view.product_id("cn-drug-20", PK)
    refs = [backend.ref(pid, c) for c in (3, 1, 2)]
    seq = s.write(lambda view: view.apply_event(plan(refs, "e1", recalls=[("batch", 1)])))
    with s.reading() as view:
        assert view.event_seen(None, "e1") == (seq, b"d" * 8) and view.event_seen("other", "e1") is None
        assert all(view.code_record(r)[:2] == (Status.COMMISSIONED, seq) for r in refs)
        assert [e["id"] for e in view.events_of(refs[0])] == ["e1"]
        assert view.recall_seq([("batch", 1)]) == seq and view.recall_seq([("batch", 2)]) == 0
    assert s.stats()["events"] == 1


def test_a_nested_write_that_raises_leaves_nothing(backend):
    s = backend.store
    backend.reserve(10)
    with s.reading() as view:
        pid = view.product_id("cn-drug-20", PK)
    ref = backend.ref(pid, 4)

    def body(view):
        try:
            view.nested(lambda v: (v.apply_event(plan([ref], "e2")), 1 / 0))
        except ZeroDivisionError:
            pass
        return view.event_seen(None, "e2")
    assert s.write(body) is None
    with s.reading() as view:
        assert view.code_record(ref)[0] == Status.ISSUED and view.events_of(ref) == []


def test_packing_links_both_ways(backend):
    s = backend.store
    backend.reserve(10)
    with s.reading() as view:
        pid = view.product_id("cn-drug-20", PK)
    case, units = backend.ref(pid, 9), [backend.ref(pid, 0), backend.ref(pid, 1)]
    s.write(lambda view: view.apply_event(plan(units, "p", state=None, parent=case, link="pack",
                                                parent_state_if_new=Status.COMMISSIONED, bind_user="c1")))
    with s.reading() as view:
        assert view.parent_of(units[0]) == case and sorted(view.children(case)) == sorted(units)
        assert view.code_record(case)[0] == Status.COMMISSIONED and view.sscc_user(case) == "c1"
    s.write(lambda view: view.apply_event(plan(units[:1], "u", state=None, parent=case, link="unpack")))
    with s.reading() as view:
        assert view.parent_of(units[0]) is None and view.children(case) == [units[1]]


def test_imported_codes_and_idempotency_keys(backend):
    s = backend.store
    s.put_imported(["NATIONAL-1", "NATIONAL-2"], b'{"lot":"X"}')
    with s.reading() as view:
        assert view.imported_one(backend.imported_ref("NATIONAL-1")) == b'{"lot":"X"}'
        assert view.imported_one(backend.imported_ref("NATIONAL-3")) is None
    assert s.idempotency_get("line-1", "k") is None
    s.idempotency_put("line-1", "k", {"fingerprint": "f", "from": 1})
    assert s.idempotency_get("line-1", "k") == {"fingerprint": "f", "from": 1}
    assert s.idempotency_get("line-2", "k") is None
    assert set(s.versions()) and s.stats()["events"] == 0
