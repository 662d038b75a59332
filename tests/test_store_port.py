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

    def record(self, refs, verdicts, scanner, place, when):
        """record_scans of refs (None: a scan of no known code), as the index hands them."""
        import numpy as np
        keys = self._codekeys.Keys.packed(refs)
        self.store.record_scans(keys, np.array(verdicts, np.uint8), scanner, place, when)

    def record_one(self, ref, verdict, scanner, place, when):
        self.store.record_scan(ref, verdict, scanner, place, when)


    def reopen(self):
        path = self.store.env.path()
        self.store.env.close()
        self.store = LmdbBackend(path).store
        return self.store

    def close(self):
        self.store.env.close()


class PgBackend(LmdbBackend):
    """The whole port over PostgreSQL (tracecode.store.postgres.PgStore): refs are the same
    code keys the domain builds for LMDB."""

    def __init__(self, dsn):
        from tracecode.store.lmdb import codekeys
        from tracecode.store.postgres import PgStore
        self.dsn, self._codekeys = dsn, codekeys
        self.store = PgStore(dsn, schemes.builtin())

    def reserve(self, count, **details):
        return self.store.reserve("cn-drug-20", PK, {"drug_id": "8177322"}, count, 10**8, **details)

    def reopen(self):
        from tracecode.store.postgres import PgStore
        self.store.close()
        self.store = PgStore(self.dsn, schemes.builtin())
        return self.store

    def close(self):
        self.store.close()


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["lmdb", "postgres"], indirect=True)   # one suite, both stores


@pytest.fixture
def backend(request, tmp_path):
    if request.param == "postgres":
        b = PgBackend(request.getfixturevalue("pg_dsn"))
    else:
        b = LmdbBackend(tmp_path / "store")
    yield b
    b.close()


def plan(refs, eid, state=Status.COMMISSIONED, **kw):
    return EventPlan(record={"id": eid, "action": "test", "codes": []}, client=None, event_id=eid,
                     digest=b"d" * 8, refs=refs, state=state, **kw)


def test_the_format_is_stamped_once(backend):
    assert backend.store.stamp_format(b"2") == b"2"
    assert backend.store.stamp_format(b"3") == b"2"   # the store's own, for the caller to refuse


def test_an_older_format_is_rewritten_only_where_the_store_knows_how(backend):
    assert backend.store.stamp_format(b"2") == b"2"
    assert backend.store.upgrade_format(b"2", b"9") == b"2"   # no way known: the caller refuses
    assert backend.store.upgrade_format(b"2", b"3") == b"3"   # 3: LMDB's scan summaries moved
    assert backend.store.stamp_format(b"3") == b"3"


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


def test_many_plans_in_one_write_are_those_plans_one_by_one(backend, tmp_path):
    """apply_events writes what apply_event of each plan in turn writes, seqs included:
    packs into cases that come alive, state changes, a key in two plans, an unpack."""
    other = LmdbBackend(tmp_path / "one-by-one")
    try:
        calls = []
        for b in (backend, other):
            b.reserve(100)
            with b.store.reading() as view:
                pid = view.product_id("cn-drug-20", PK)
            r = [b.ref(pid, c) for c in range(100)]
            calls.append([
                [plan(r[0:4], "c1"), plan(r[10:14], "c2", state=Status.SHIPPED)],
                [plan(r[20:23], f"p{k}", state=None, parent=r[90 + k], link="pack",
                      parent_state_if_new=Status.COMMISSIONED, bind_user="u") for k in range(2)]
                + [plan([r[40]], "s", state=Status.SOLD)],
                [plan(r[50:52], "a"), plan(r[51:53], "b", state=Status.SHIPPED)],   # r[51] in both
                [plan(r[60:62], "q", state=None, parent=r[95], link="pack"),
                 plan(r[60:61], "w", state=None, parent=r[95], link="unpack")],
            ])
            calls[-1][1][1].refs = r[24:26]
        seqs = [[backend.store.write(lambda v, ps=ps: v.apply_events(ps)) for ps in calls[0]],
                [other.store.write(lambda v, ps=ps: [v.apply_event(p) for p in ps]) for ps in calls[1]]]
        assert seqs[0] == seqs[1] == [[1, 2], [3, 4, 5], [6, 7], [8, 9]]
        seen = []
        for b in (backend, other):
            with b.store.reading() as view:
                pid = view.product_id("cn-drug-20", PK)
                refs = [b.ref(pid, c) for c in range(100)]
                seen.append([(view.code_record(k)[:2], view.parent_of(k), sorted(view.children(k)),
                              view.sscc_user(k), [e["id"] for e in view.events_of(k)]) for k in refs]
                            + [view.event_seen(None, e) for e in ("c1", "c2", "p0", "p1", "s", "a", "b", "q", "w")])
        assert seen[0] == seen[1]
        case = seen[0][24][1]   # the second pack's case holds its two units, is alive and bound
        assert case is not None and seen[0][25][1] == case and len(seen[0][91][2]) == 2
        assert seen[0][91][0][0] == Status.COMMISSIONED and seen[0][91][3] == "u"
        assert seen[0][51][0][0] == Status.SHIPPED and seen[0][60][1] is None and seen[0][61][1] is not None
    finally:
        other.store.env.close()


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


def test_registered_codes_are_written_once_and_keep_their_first_record(backend):
    import numpy as np
    s = backend.store
    codes = np.array([b"311031042201900001", b"311031042201900002", b"311031042201900001"])
    assert s.put_registered(codes, b'{"owner":"a"}').tolist() == [0, 0, 1]   # the repeat
    again = s.put_registered(codes[:1], b'{"owner":"b"}', np.array([0], np.int64))
    assert again.tolist() == [1]
    assert s.registered_one("311031042201900001") == b'{"owner":"a"}'
    assert s.registered_one("311031042201900003") is None
    with s.reading() as view:       # Verify finds them as codes issued elsewhere
        assert view.imported_one(backend.imported_ref("311031042201900001")) == b'{"owner":"a"}'
        assert view.imported_one(backend.imported_ref("311031042201900002")) == b'{"owner":"a"}'


def test_registered_codes_are_kept_as_given_case_and_width_included(backend):
    """The store writes the codes as the caller's normaliser left them: a case-sensitive
    scheme's lower case is its own code; codes of several widths in one array."""
    import numpy as np
    s = backend.store
    assert s.put_registered(np.array([b"abcd1234", b"XY12"]), b"{}").tolist() == [0, 0]
    assert s.registered_one("abcd1234") == b"{}" and s.registered_one("XY12") == b"{}"
    assert s.registered_one("ABCD1234") is None and s.registered_one("XY12\x00") is None


@pytest.mark.parametrize("order", [[0, 1 << 40], [0, -1], [0, 2]])
def test_registered_codes_refuse_an_order_naming_no_key(backend, order):
    import numpy as np
    codes = np.array([b"311031042201900001", b"311031042201900002"])
    with pytest.raises(ValueError, match="order"):
        backend.store.put_registered(codes, b"{}", np.array(order, np.int64))
    assert backend.store.registered_one("311031042201900001") is None   # the check comes first


def test_asset_steps_append_against_the_history_checked(backend):
    s = backend.store
    ref, other = "4114000007000001", "4114000007000002"     # assets by their compact codes
    assert s.asset_steps(ref) == []
    assert s.asset_append(ref, 0, b'{"step":"manufacture"}')
    assert not s.asset_append(ref, 0, b'{"step":"racing"}')      # it has one step now
    assert s.asset_append(ref, 1, b'{"step":"install"}')
    assert s.asset_append(other, 0, b'{"step":"scrap"}')
    assert s.asset_steps(ref) == [b'{"step":"manufacture"}', b'{"step":"install"}']
    assert s.asset_steps(other) == [b'{"step":"scrap"}']


def test_asset_steps_of_two_codes_append_together_or_not_at_all(backend):
    s = backend.store
    old, new = "215222600000001", "215222600000002"     # a lost ear tag and its replacement
    assert s.asset_append(old, 0, b'{"step":"tag"}')
    assert not s.asset_append_all([(old, 1, b'{"step":"replace"}'), (new, 1, b'{"step":"tag"}')])
    assert not s.asset_append_all([(old, 0, b'{"step":"replace"}'), (new, 0, b'{"step":"tag"}')])
    assert s.asset_steps(old) == [b'{"step":"tag"}'] and s.asset_steps(new) == []   # neither written
    assert s.asset_append_all([(old, 1, b'{"step":"replace"}'), (new, 0, b'{"step":"tag"}')])
    assert s.asset_steps(old) == [b'{"step":"tag"}', b'{"step":"replace"}']
    assert s.asset_steps(new) == [b'{"step":"tag"}']
    with pytest.raises(ValueError):
        s.asset_append_all([(new, 1, b"{}"), (new, 2, b"{}")])


def test_links_round_trip_replace_delete_and_list(backend):
    s = backend.store
    assert s.links_get("01/09506000134352") == [] and s.links_keys() == []
    s.links_put("01/09506000134352", [])   # deleting what is not there: nothing, no error
    pip = {"link_type": "gs1:pip", "href": "https://example.com/p", "title": "产品", "lang": ["zh"]}
    recall = {"link_type": "gs1:recallStatus", "href": "https://example.com/r"}
    s.links_put("01/09506000134352", [pip, recall])
    s.links_put("01/09506000134352/10/ABC", [recall])
    s.links_put("cn-drug-20/8177322", [pip])
    assert s.links_get("01/09506000134352") == [pip, recall]   # in order, text as given
    assert s.links_keys() == ["01/09506000134352", "01/09506000134352/10/ABC", "cn-drug-20/8177322"]
    assert s.links_keys("01/") == ["01/09506000134352", "01/09506000134352/10/ABC"]
    assert s.links_keys("cn-vet-24/") == []
    s.links_put("01/09506000134352", [recall])   # replaced whole
    assert s.links_get("01/09506000134352") == [recall]
    s.links_put("01/09506000134352", [])
    assert s.links_get("01/09506000134352") == [] and "01/09506000134352" not in s.links_keys()
    with pytest.raises(ValueError):
        s.links_put("", [pip])
    with pytest.raises(ValueError):
        s.links_put("01/" + "9" * 300, [pip])


# -- the product registries (Store.registry(): a RegistryStore) --------------------------------

def approval(number, **kw):
    from tracecode.registry.records import ApprovalRecord
    fields = dict(kind="vet", number=number, company="甲", enterprise_id="00002", valid_until="2099-12-31")
    return ApprovalRecord(**{**fields, **kw})


def test_registry_approvals_by_number_enterprise_and_prefix(backend):
    reg = backend.store.registry()
    vet, pest = approval("兽药字(2015)010012345"), approval("PD20092927", kind="pesticide", enterprise_id="")
    reg.write(lambda v: (v.put_approval(vet, None), v.put_approval(pest, None)))
    with reg.reading() as view:
        assert view.approval(vet.number) == vet and view.approval("PD00000000") is None
        assert view.numbers_by_enterprise("00002") == [vet.number] and view.numbers_by_enterprise("00003") == []
        assert view.numbers_by_prefix(pest.code_prefix) == [pest.number]
        assert [r.number for r in view.approvals()] == sorted([vet.number, pest.number])
    moved = approval(vet.number, enterprise_id="00007")   # a replaced record leaves its old holder
    reg.write(lambda v: v.put_approval(moved, v.approval(vet.number)))
    with reg.reading() as view:
        assert view.numbers_by_enterprise("00002") == [] and view.numbers_by_enterprise("00007") == [vet.number]


def test_registry_national_codes_in_bulk_with_their_imported_records(backend):
    import numpy as np

    from tracecode.store.port import NATIONAL_CODE_DTYPE, NATIONAL_TEXT
    reg = backend.store.registry()
    codes = np.array([f"2015010100002{k:011d}" for k in range(3)], NATIONAL_TEXT)
    recs = np.zeros(3, NATIONAL_CODE_DTYPE)
    recs["number"], recs["level"], recs["expiry"] = b"N", [1, 1, 2], 20300101
    reg.write(lambda v: v.put_national_codes(codes, recs, [b'{"lot":"%d"}' % k for k in range(3)]))
    ask = np.array(sorted([codes[2], b"9" * 24, codes[0]]), NATIONAL_TEXT)
    with reg.reading() as view:
        at, got = view.national_codes(ask)
        assert at.tolist() == [0, 1] and got.dtype == NATIONAL_CODE_DTYPE
        assert (got == recs[[0, 2]]).all()
        assert view.national_codes(np.array([b"1" * 24], NATIONAL_TEXT))[0].size == 0
    with backend.store.reading() as view:   # the same write made them verifiable codes
        assert view.imported_one(backend.imported_ref(codes[1].decode())) == b'{"lot":"1"}'


def test_registry_imports_are_one_write_with_their_audit_record(backend):
    reg = backend.store.registry()
    rec = approval("兽药字(2015)010012345")

    def failing(v):
        v.put_approval(rec, None)
        v.log_import({"kind": "registry"})
        raise OSError("midway")
    with pytest.raises(OSError):
        reg.write(failing)
    with reg.reading() as view:
        assert view.approval(rec.number) is None and view.imports() == []
    seq = reg.write(lambda v: (v.put_approval(rec, None), v.log_import({"kind": "registry"}))[1])
    reg.link_batch(7, rec.number, 3)
    with reg.reading() as view:
        assert [(i["seq"], i["kind"]) for i in view.imports()] == [(seq, "registry")]
        assert view.batch_links([7, 8]) == {7: {"number": rec.number, "level": 3}}


def test_bytes_in_use_by_part(backend):
    s = backend.store
    parts = ("issuance", "verdicts", "history", "scan_log")
    backend.reserve(10)
    with s.reading() as view:
        pid = view.product_id("cn-drug-20", PK)
    before = {p: s.bytes_in_use(p) for p in parts}
    s.write(lambda view: view.apply_event(plan([backend.ref(pid, c) for c in range(10)], "b")))
    after = {p: s.bytes_in_use(p) for p in parts}
    assert before["issuance"] > 0 and after["verdicts"] > before["verdicts"] and after["history"] > 0
    assert after["scan_log"] == before["scan_log"]
    assert s.bytes_in_use() >= sum(after.values())


def test_recorded_scans_commit_with_each_codes_record(backend):
    s = backend.store
    backend.reserve(10)
    with s.reading() as view:
        pid = view.product_id("cn-drug-20", PK)
    refs = [backend.ref(pid, 2), backend.ref(pid, 5)]
    backend.record(refs + [None], [1, 1, 6], "gun-1", "Hangzhou", 1.7e9)
    backend.record_one(refs[0], 1, None, "Ningbo", 1.7e9 + 5)
    assert s.flush_scans() == 4 and s.flush_scans() == 0
    with s.reading() as view:
        assert view.code_record(refs[0])[2] == 2 and view.code_record(refs[1])[2] == 1
        assert [sc["place"] for _, sc in view.scans_of(refs[0])] == ["Ningbo", "Hangzhou"]
        assert view.scans_of(refs[0])[1][1]["scanner"] == "gun-1"
    assert s.stats()["scans"] == 4
    s.close()   # commits what is queued and stops the writer; reads still work
    backend.record_one(refs[1], 1, None, None, 1.7e9 + 9)
    assert s.flush_scans() == 1 and s.stats()["scans"] == 5


def test_public_queries_are_a_bounded_read_of_the_public_scanners_scans(backend):
    from tracecode.store.port import PUBLIC_SCANNER
    s = backend.store
    backend.reserve(3)
    with s.reading() as view:
        pid = view.product_id("cn-drug-20", PK)
    refs = [backend.ref(pid, i) for i in range(3)]
    backend.record_one(refs[0], 1, "pharmacy-7", "Ward 5, customer Zhang", 1.7e9)   # not public
    backend.record_one(refs[0], 1, PUBLIC_SCANNER, "450100", 1.7e9 + 10)
    backend.record(refs[:2], [1, 1], PUBLIC_SCANNER, "450200", 1.7e9 + 20)
    for i in range(5):
        backend.record_one(refs[1], 1, PUBLIC_SCANNER, None, 1.7e9 + 30 + i)
    s.flush_scans()
    with s.reading() as view:
        assert view.public_queries(refs[0], 10) == (2, 1.7e9 + 10, "450100")
        assert view.public_queries(refs[1], 10) == (6, 1.7e9 + 20, "450200")
        assert view.public_queries(refs[1], 3) == (4, 1.7e9 + 20, "450200")   # bound + 1: "more than 3"
        assert view.public_queries(refs[2], 10) == (0, None, None)
        assert "pharmacy-7" in [sc["scanner"] for _, sc in view.scans_of(refs[0])]   # the log keeps all


# -- EPCIS events and capture jobs ---------------------------------------------------------
def epcis_record(eid, t, epcs=(), *, type="ObjectEvent", step="shipping", role="epc", **kw):
    from tracecode.store.port import EpcisRecord
    return EpcisRecord(event_id=eid, event={"type": type, "eventID": eid, "n": len(epcs)},
                       event_time=t, time_offset="+08:00", record_time=t + 1, type=type,
                       biz_step=step, epcs={role: list(epcs)} if epcs else {}, **kw)


def test_epcis_put_is_idempotent_per_event_id(backend):
    s = backend.store
    a, b = epcis_record("ni:///a", 1.7e9, ["urn:x:1"]), epcis_record("ni:///b", 1.7e9 + 5)
    assert s.epcis_put([a, b, a]) == [True, True, False]   # twice in one call: stored once
    assert s.epcis_put([epcis_record("ni:///a", 9.0, ["urn:x:2"])]) == [False]   # the first stays
    got = s.epcis_events(["ni:///a", "ni:///c", "ni:///b"])
    assert got[1] is None
    assert got[0].event == a.event and got[0].epcs == {"epc": ["urn:x:1"]}
    assert got[0].event_time == 1.7e9 and got[0].time_offset == "+08:00" and got[0].record_time == 1.7e9 + 1
    assert got[0].seq < got[2].seq
    assert s.bytes_in_use("epcis") > 0


def test_epcis_put_inside_a_write_commits_with_it_or_not_at_all(backend):
    s = backend.store

    def fails(view):
        view.epcis_put([epcis_record("ni:///x", 1.0)])
        raise RuntimeError("the lifecycle part failed")
    with pytest.raises(RuntimeError):
        s.write(fails)
    assert s.epcis_events(["ni:///x"]) == [None]
    assert s.write(lambda view: view.epcis_put([epcis_record("ni:///x", 1.0)])) == [True]
    assert s.epcis_events(["ni:///x"])[0].event_id == "ni:///x"


def test_epcis_find_by_epc_role_and_filters_with_paging(backend):
    from tracecode.store.port import EpcisQuery
    s = backend.store
    long_epc = "https://id.example.org/01/09506000134352/21/" + "9" * 600   # over an LMDB key
    recs = [epcis_record(f"e{i}", 1.7e9 + i, ["urn:x:1", f"urn:x:{i + 10}"],
                         step="shipping" if i % 2 else "receiving") for i in range(7)]
    recs.append(epcis_record("agg", 1.7e9 + 3, ["urn:x:1"], type="AggregationEvent", role="parent", step="packing"))
    recs.append(epcis_record("long", 1.7e9 + 4, [long_epc]))
    s.epcis_put(recs)
    ids = lambda got: [r.event_id for r in got]   # noqa: E731
    got, token = s.epcis_find(EpcisQuery(epcs=("urn:x:1",)), limit=100)
    assert ids(got) == [f"e{i}" for i in range(7)] + ["agg"] and token is None
    assert ids(s.epcis_find(EpcisQuery(epcs=("urn:x:1",), epc_roles=("parent",)))[0]) == ["agg"]
    assert ids(s.epcis_find(EpcisQuery(epcs=("urn:x:12", "urn:x:14")))[0]) == ["e2", "e4"]
    assert ids(s.epcis_find(EpcisQuery(epcs=(long_epc,)))[0]) == ["long"]
    assert s.epcis_find(EpcisQuery(epcs=(long_epc[:-1] + "8",)))[0] == []
    pages, token = [], None
    while True:   # paging: every match once, in order
        got, token = s.epcis_find(EpcisQuery(epcs=("urn:x:1",), biz_steps=("shipping",)), token, limit=2)
        pages.append(ids(got))
        if token is None:
            break
    assert [e for p in pages for e in p] == ["e1", "e3", "e5"]
    with pytest.raises(ValueError):
        s.epcis_find(EpcisQuery(epcs=("urn:x:1",)), "not-a-token")


def test_epcis_find_by_time_range_and_type(backend):
    from tracecode.store.port import EpcisQuery
    s = backend.store
    s.epcis_put([epcis_record(f"e{i}", 1.7e9 + 10 * (9 - i), type="ObjectEvent" if i % 3 else "TransactionEvent")
                 for i in range(10)])
    got, token = s.epcis_find(EpcisQuery(ge_event_time=1.7e9 + 20, lt_event_time=1.7e9 + 70), limit=10)
    assert [r.event_id for r in got] == ["e7", "e6", "e5", "e4", "e3"] and token is None   # eventTime order
    got, token = s.epcis_find(EpcisQuery(event_types=("TransactionEvent",)), limit=2)
    assert [r.event_id for r in got] == ["e9", "e6"]
    got, token = s.epcis_find(EpcisQuery(event_types=("TransactionEvent",)), token, limit=2)
    assert [r.event_id for r in got] == ["e3", "e0"] and token is None   # the last one: no next page
    assert s.epcis_find(EpcisQuery(ge_record_time=1.7e9 + 85))[0][0].event_id == "e0"
    assert s.epcis_find(EpcisQuery(biz_steps=("nothing",))) == ([], None)


def test_capture_jobs_are_replaced_whole(backend):
    s = backend.store
    assert s.capture_job_get("j1") is None
    s.capture_job_put({"id": "j1", "state": "running", "errors": []})
    s.capture_job_put({"id": "j1", "state": "failure", "errors": [{"pointer": "/epcisBody/eventList/2"}]})
    assert s.capture_job_get("j1") == {"id": "j1", "state": "failure",
                                      "errors": [{"pointer": "/epcisBody/eventList/2"}]}
    with pytest.raises(ValueError):
        s.capture_job_put({"state": "running"})


def test_epcis_find_by_ids_actions_refs_and_orders(backend):
    from tracecode.store.port import EpcisQuery
    s = backend.store
    # eventTime runs backwards against capture order; recordTime forwards (t + 1 ... by the helper)
    recs = [epcis_record(f"e{i}", 1.7e9 + 10 * (9 - i), [f"urn:x:{i % 2}"], action="ADD" if i % 2 else "OBSERVE",
                         refs={"transaction": [["po" if i < 5 else "inv", f"urn:po:{i % 3}"]],
                               **({"source": [["owning_party", "urn:p:a"]]} if i % 4 == 0 else {})})
            for i in range(10)]
    for i, r in enumerate(recs):
        r.record_time = 1.8e9 + i
    assert s.epcis_put(recs) == [True] * 10
    ids = lambda got: [r.event_id for r in got[0]]   # noqa: E731
    assert ids(s.epcis_find(EpcisQuery(event_ids=("e3", "nope", "e1")))) == ["e1", "e3"]
    assert ids(s.epcis_find(EpcisQuery(event_ids=("e3", "e1"), actions=("OBSERVE",)))) == []
    assert ids(s.epcis_find(EpcisQuery(actions=("ADD",)))) == ["e9", "e7", "e5", "e3", "e1"]
    po0 = (("transaction", (("po", "urn:po:0"),)),)
    assert ids(s.epcis_find(EpcisQuery(refs=po0))) == ["e0", "e3"]              # by the index, capture order
    any0 = (("transaction", ((None, "urn:po:0"),)),)
    assert ids(s.epcis_find(EpcisQuery(refs=any0))) == ["e0", "e3", "e6", "e9"]
    both = any0 + (("source", (("owning_party", "urn:p:a"),)),)
    assert ids(s.epcis_find(EpcisQuery(refs=both))) == ["e0"]                  # e4, e8: another transaction
    assert ids(s.epcis_find(EpcisQuery(epcs=("urn:po:0",)))) == []             # an id is not an EPC
    assert ids(s.epcis_find(EpcisQuery(refs=any0, descending=True))) == ["e9", "e6", "e3", "e0"]
    assert ids(s.epcis_find(EpcisQuery(refs=any0, order_by="eventTime"))) == ["e9", "e6", "e3", "e0"]
    assert ids(s.epcis_find(EpcisQuery(order_by="recordTime"))) == [f"e{i}" for i in range(10)]
    assert ids(s.epcis_find(EpcisQuery(order_by="recordTime", descending=True,
                                       ge_record_time=1.8e9 + 3, lt_record_time=1.8e9 + 7))) == ["e6", "e5", "e4", "e3"]
    assert ids(s.epcis_find(EpcisQuery(descending=True, lt_event_time=1.7e9 + 30))) == ["e7", "e8", "e9"]
    for q in (EpcisQuery(descending=True), EpcisQuery(order_by="recordTime"),
              EpcisQuery(order_by="recordTime", descending=True, epcs=("urn:x:1",)),
              EpcisQuery(epcs=("urn:x:0",), order_by="eventTime"), EpcisQuery(event_ids=("e1", "e2", "e5"))):
        whole, token = s.epcis_find(q, limit=100)
        assert token is None
        pages, token = [], None
        while True:   # every order pages to the same answer, one at a time
            got, token = s.epcis_find(q, token, limit=1)
            pages += got
            if token is None:
                break
        assert [r.event_id for r in pages] == [r.event_id for r in whole], q
    with pytest.raises(ValueError):
        s.epcis_find(EpcisQuery(order_by="bizStep"))


def test_capture_jobs_of_a_client_newest_first_paged(backend):
    s = backend.store
    for i in range(5):
        s.capture_job_put({"id": f"j{i}", "client": "acme" if i != 2 else "other",
                           "created": f"2026-12-01T00:00:0{i}.000Z", "state": "running"})
    s.capture_job_put({"id": "j1", "client": "acme", "created": "2026-12-01T00:00:01.000Z", "state": "success"})
    jobs, token = s.capture_jobs("acme")
    assert [j["id"] for j in jobs] == ["j4", "j3", "j1", "j0"] and token is None and jobs[2]["state"] == "success"
    got, token = s.capture_jobs("acme", limit=3)
    assert [j["id"] for j in got] == ["j4", "j3", "j1"] and token
    assert [j["id"] for j in s.capture_jobs("acme", token, limit=3)[0]] == ["j0"]
    assert s.capture_jobs("nobody") == ([], None)


def test_named_queries_per_owner(backend):
    s = backend.store
    q = {"name": "recalls", "query": {"EQ_disposition": ["recalled"]}}
    assert s.queries_put("acme", "recalls", q) is True
    assert s.queries_put("acme", "recalls", {"name": "recalls", "query": {}}) is False   # never replaced
    assert s.queries_put("beta", "recalls", {**q, "owner": "beta"}) is True
    assert s.queries_put("acme", "批次", q) is True
    assert s.queries_get("acme", "recalls") == q and s.queries_get("acme", "nope") is None
    assert [(o, n) for o, n, _ in s.queries_list()[0]] == [("acme", "recalls"), ("acme", "批次"), ("beta", "recalls")]
    got, token = s.queries_list("acme", limit=1)
    assert [n for _, n, _ in got] == ["recalls"] and token
    assert [n for _, n, _ in s.queries_list("acme", token, limit=1)[0]] == ["批次"]
    assert s.queries_delete("acme", "recalls") is True and s.queries_delete("acme", "recalls") is False
    assert s.queries_get("beta", "recalls")["owner"] == "beta"
    for owner, name in (("acme", ""), ("acme", "a\x00b"), ("", "x"), ("acme", "x" * 300)):
        with pytest.raises(ValueError):
            s.queries_put(owner, name, q)


# -- EPCIS subscriptions: the outbox is the event log in seq order ---------------------------
def test_epcis_since_reads_the_log_in_commit_order_filtered_with_the_last_seq_read(backend):
    from tracecode.store.port import EpcisQuery
    s = backend.store
    assert s.epcis_last_seq() == 0 and s.epcis_since(None, 0) == ([], 0)
    # eventTime order is not commit order: the log follows the commits
    s.epcis_put([epcis_record("ni:///late", 2e9, ["urn:x:1"]), epcis_record("ni:///early", 1e9, ["urn:x:2"])])
    s.write(lambda view: view.epcis_put([epcis_record("ni:///third", 1.5e9, ["urn:x:1"], step="receiving")]))
    assert s.epcis_last_seq() == 3
    recs, last = s.epcis_since(None, 0)
    assert [r.event_id for r in recs] == ["ni:///late", "ni:///early", "ni:///third"] and last == 3
    assert [r.seq for r in recs] == [1, 2, 3]
    recs, last = s.epcis_since(None, 1, limit=1)
    assert [r.event_id for r in recs] == ["ni:///early"] and last == 2
    recs, last = s.epcis_since(EpcisQuery(epcs=("urn:x:1",)), 0)
    assert [r.event_id for r in recs] == ["ni:///late", "ni:///third"] and last == 3
    recs, last = s.epcis_since(EpcisQuery(biz_steps=("receiving",)), 0, limit=10)
    assert [r.event_id for r in recs] == ["ni:///third"] and last == 3
    recs, last = s.epcis_since(EpcisQuery(epcs=("urn:x:2",), epc_roles=("parent",)), 0)
    assert recs == [] and last == 3   # nothing matched, the bookmark still moves past it all
    assert s.epcis_since(None, 3) == ([], 3)
    for bad in (-1, "1", 1.5):
        with pytest.raises(ValueError):
            s.epcis_since(None, bad)


def test_subscriptions_keep_their_state_and_bookmark_across_a_reopen(backend, tmp_path):
    s = backend.store
    s.epcis_put([epcis_record("ni:///a", 1e9), epcis_record("ni:///b", 1e9)])
    got = s.subscription_put({"id": "sub-1", "dest": "http://x/", "owner": "prov"})
    assert got["state"]["bookmark"] == 2 and got["state"]["generation"] == 1   # from now on
    got = s.subscription_put({"id": "sub-0", "dest": "http://y/"}, bookmark=0)
    assert got["state"]["bookmark"] == 0
    assert [x["id"] for x in s.subscriptions()] == ["sub-0", "sub-1"]
    # redefined without a bookmark: delivery goes on where it was
    assert s.subscription_put({"id": "sub-0", "dest": "http://z/"})["state"]["generation"] == 1
    assert s.subscription_get("sub-0")["dest"] == "http://z/"
    assert s.subscription_get("nope") is None
    assert s.subscription_progress("sub-0", 1, {"bookmark": 1, "delivered": 1, "last_error": None})
    assert s.subscription_get("sub-0")["state"]["bookmark"] == 1
    with pytest.raises(ValueError):
        s.subscription_progress("sub-0", 1, {"generation": 7})
    state = s.subscription_rewind("sub-0", 0)
    assert state["bookmark"] == 0 and state["generation"] == 2 and state["delivered"] == 1
    # a delivery begun before the rewind cannot move the bookmark
    assert not s.subscription_progress("sub-0", 1, {"bookmark": 2})
    assert s.subscription_get("sub-0")["state"]["bookmark"] == 0
    assert s.subscription_rewind("nope", 0) is None
    assert not s.subscription_progress("nope", 1, {"bookmark": 2})
    with pytest.raises(ValueError):
        s.subscription_rewind("sub-0", -1)
    with pytest.raises(ValueError):
        s.subscription_put({"dest": "no id"})
    assert s.subscription_delete("sub-1") and not s.subscription_delete("sub-1")
    assert s.subscription_get("sub-1") is None
    again = backend.reopen()
    try:
        assert [(x["id"], x["state"]["bookmark"], x["state"]["generation"]) for x in again.subscriptions()] \
            == [("sub-0", 0, 2)]
    finally:
        backend.store = again


def test_subscription_progress_fenced_by_a_lease_is_recorded_only_for_its_current_holder(backend):
    import time
    s = backend.store
    s.subscription_put({"id": "sub-0", "dest": "http://y/"}, bookmark=0)
    assert not s.subscription_progress("sub-0", 1, {"bookmark": 0}, ("delivery", "w1"))   # nobody holds it
    assert s.lease("delivery", "w2", 0.05)
    assert not s.subscription_progress("sub-0", 1, {"bookmark": 0}, ("delivery", "w1"))   # a former holder
    assert s.subscription_progress("sub-0", 1, {"delivered": 3}, ("delivery", "w2"))
    time.sleep(0.1)
    assert not s.subscription_progress("sub-0", 1, {"delivered": 9}, ("delivery", "w2"))  # expired
    assert s.subscription_get("sub-0")["state"]["delivered"] == 3


def test_a_lease_is_held_by_one_holder_until_it_expires_or_is_released(backend):
    import time
    s = backend.store
    assert s.lease("delivery", "w1", 30) and s.lease("delivery", "w1", 30)   # renewed
    assert not s.lease("delivery", "w2", 30)
    assert s.lease("other", "w2", 30)          # leases are by name
    s.lease_release("delivery", "w2")          # not its lease: left alone
    assert not s.lease("delivery", "w2", 30)
    s.lease_release("delivery", "w1")
    assert s.lease("delivery", "w2", 0.05) and not s.lease("delivery", "w1", 30)
    time.sleep(0.1)
    assert s.lease("delivery", "w1", 30)       # the other's expired
    for bad in ((None, "w", 1), ("d", "", 1), ("d", "w", 0)):
        with pytest.raises(ValueError):
            s.lease(*bad)


def test_purging_a_scanner_removes_its_scans_and_mends_each_codes_summary(backend):
    s = backend.store
    backend.reserve(10)
    with s.reading() as view:
        pid = view.product_id("cn-drug-20", PK)
    a, b, c = (backend.ref(pid, n) for n in (1, 2, 3))
    backend.record([a, b, None], [1, 1, 6], "gun-1", "Hangzhou", 1.7e9)     # seq 1..3
    backend.record([a], [1], "pda-9", "Ningbo", 1.7e9 + 5)                  # 4: the one purged
    backend.record([a, c], [1, 1], "gun-1", "Wenzhou", 1.7e9 + 9)           # 5, 6
    backend.record_one(c, 1, "pda-9", None, 1.7e9 + 12)                     # 7: c's last
    backend.record_one(b, 1, "pda-9", "Ningbo", 1.7e9 + 3)                  # 8: b's
    s.flush_scans()
    with s.reading() as view:
        before_b = view.code_record(b)
    assert s.purge_scanner("pda-9", dry_run=True) == {"scans": 3, "codes": 3}
    assert s.stats()["scans"] == 8
    assert s.purge_scanner("pda-9") == {"scans": 3, "codes": 3}
    assert s.stats()["scans"] == 5
    with s.reading() as view:
        assert [sc["scanner"] for _, sc in view.scans_of(a)] == ["gun-1", "gun-1"]
        assert [sc["place"] for _, sc in view.scans_of(a)] == ["Wenzhou", "Hangzhou"]
        status, seq, count, places, first_time, first_seq, last_seq = view.code_record(a)
        assert (count, len(places), first_time, first_seq, last_seq) == (2, 2, 1.7e9, 1, 5)
        assert view.code_record(c)[2:] == (1, view.code_record(c)[3], 1.7e9 + 9, 6, 6)
        assert [seq for seq, _ in view.scans_of(c)] == [6]
        assert view.code_record(b)[2] == before_b[2] - 1 == 1 and view.code_record(b)[6] == 2
        assert all(sc["scanner"] != "pda-9" for code in (a, b, c) for _, sc in view.scans_of(code))
    assert s.purge_scanner("pda-9") == {"scans": 0, "codes": 0}
    backend.record_one(a, 1, "pda-9", "Lishui", 1.7e9 + 20)   # recording goes on after a purge
    s.flush_scans()
    with s.reading() as view:
        assert [sc["place"] for _, sc in view.scans_of(a)] == ["Lishui", "Wenzhou", "Hangzhou"]
        assert view.code_record(a)[2] == 3
    for bad in ("", "public"):
        with pytest.raises(ValueError, match="name a scanner"):
            s.purge_scanner(bad)


def test_purging_every_scan_of_a_code_removes_its_summary(backend):
    s = backend.store
    backend.reserve(10)
    with s.reading() as view:
        pid = view.product_id("cn-drug-20", PK)
    a = backend.ref(pid, 4)
    backend.record([a, a], [1, 1], "pda-9", "Ningbo", 1.7e9)
    s.flush_scans()
    assert s.purge_scanner("pda-9") == {"scans": 2, "codes": 1}
    with s.reading() as view:
        assert view.scans_of(a) == [] and view.code_record(a)[2] == 0


def test_purging_scans_before_a_time_takes_the_public_queries_with_them(backend):
    s = backend.store
    backend.reserve(10)
    with s.reading() as view:
        pid = view.product_id("cn-drug-20", PK)
    a, b = backend.ref(pid, 6), backend.ref(pid, 7)
    backend.record([a, b], [1, 1], "public", "330102", 1.0e9)     # old: seq 1, 2
    backend.record([a], [1], "gun-1", "Hangzhou", 1.0e9 + 10)      # old: 3
    backend.record([a], [1], "public", "330106", 1.7e9)            # kept: 4
    backend.record([b], [1], "gun-1", None, 1.7e9 + 1)             # kept: 5
    s.flush_scans()
    with s.reading() as view:
        assert view.public_queries(a, 10) == (2, 1.0e9, "330102")
    assert s.purge_before(1.5e9, dry_run=True) == {"scans": 3, "codes": 2}
    assert s.purge_before(1.5e9) == {"scans": 3, "codes": 2}
    with s.reading() as view:
        assert view.public_queries(a, 10) == (1, 1.7e9, "330106")
        assert view.public_queries(b, 10) == (0, None, None)
        assert [seq for seq, _ in view.scans_of(a)] == [4] and [seq for seq, _ in view.scans_of(b)] == [5]
        assert view.code_record(a)[2:3] + view.code_record(a)[4:] == (1, 1.7e9, 4, 4)
        assert view.code_record(b)[3] == ()      # its one kept scan had no place
    assert s.stats()["scans"] == 2 and s.purge_before(1.5e9) == {"scans": 0, "codes": 0}


def test_epcis_log_gives_each_event_json_as_epcis_since_decodes_it(backend):
    import json
    from tracecode.store.port import EpcisQuery
    s = backend.store
    odd = epcis_record("ni:///odd", 1e9, ["urn:x:1"])
    odd.event = {"type": "ObjectEvent", "ext:a": {"epcs": {"epc": [',"epcs":']}}, "name": "\ud800 中"}
    s.epcis_put([odd, epcis_record("ni:///b", 1e9, ["urn:x:2"]), epcis_record("ni:///c", 1e9)])
    since, last = s.epcis_since(None, 0)
    logged, last2 = s.epcis_log(None, 0)
    assert last == last2 == 3 and [x.seq for x in logged] == [1, 2, 3]
    for rec, log in zip(since, logged):
        assert json.loads(log.event_json.decode("utf-8", "surrogatepass")) == rec.event
        assert (log.event_id, log.client, log.epcs) == (rec.event_id, rec.client, rec.epcs)
    assert [x.epcs for x in s.epcis_log(None, 0, with_epcs=False)[0]] == [{}, {}, {}]
    got, last = s.epcis_log(EpcisQuery(epcs=("urn:x:2",)), 0, limit=5)
    assert [x.event_id for x in got] == ["ni:///b"] and last == 3


def test_alerts_are_stored_once_by_id_and_a_closed_one_stays_closed(backend):
    s = backend.store

    def alert(i, **kw):
        return {"id": f"{i:020x}", "rule": "clone_velocity" if i % 2 else "diversion", "code": f"c{i}",
                "subject": f"c{i}", "first_time": "2026-01-21T00:00:00Z", "last_time": f"2026-01-2{i}T00:00:00Z",
                "evidence": {"km": i}, **kw}
    assert s.alerts_find() == []
    assert s.alerts_put([alert(1), alert(2), alert(3), alert(1, evidence={"km": 9})]) == [True, True, True, False]
    assert [a["id"] for a in s.alerts_find()] == [alert(i)["id"] for i in (3, 2, 1)]   # newest last_time first
    (one,) = s.alerts_find(code="c1")
    assert one["evidence"] == {"km": 9} and one["status"] == "open"
    assert s.alerts_put([alert(1, first_time="2026-01-25T00:00:00Z", last_time="2026-01-29T00:00:00Z")]) == [False]
    (one,) = s.alerts_find(code="c1")
    assert one["first_time"] == "2026-01-21T00:00:00Z" and one["last_time"].startswith("2026-01-29")
    assert s.alert_close(one["id"], by="regulator-3", note="checked") and not s.alert_close(one["id"], by="x")
    assert not s.alert_close("0" * 20, by="x")
    s.alerts_put([alert(1)])   # found again by the next analysis: stays closed
    (one,) = s.alerts_find(code="c1")
    assert (one["status"], one["closed_by"], one["note"]) == ("closed", "regulator-3", "checked")
    assert [a["code"] for a in s.alerts_find(open_only=True)] == ["c3", "c2"]
    assert sorted(a["code"] for a in s.alerts_find(rule="clone_velocity")) == ["c1", "c3"]
    assert len(s.alerts_find(limit=2)) == 2 and s.alerts_find(subject="c2")[0]["code"] == "c2"
    with pytest.raises(ValueError):
        s.alerts_put([{"rule": "x"}])


def test_a_closed_alert_opens_again_on_new_evidence_and_the_open_codes_read(backend):
    s = backend.store

    def alert(i, last, rule="diversion", **kw):
        return {"id": f"{i:020x}", "rule": rule, "code": f"c{i}", "subject": f"c{i}", "window": "all",
                "first_time": "2026-01-21T00:00:00Z", "last_time": last, "evidence": {}, **kw}
    s.alerts_put([alert(1, "2026-01-22T00:00:00Z"), alert(2, "2026-01-22T00:00:00Z", rule="probing"),
                  alert(3, "2026-01-22T00:00:00Z", rule="clone_spread", code=None)])
    assert s.alerts_open_codes(["diversion", "clone_spread"]) == [("c1", "diversion", f"{1:020x}")]
    assert s.alert_close(f"{1:020x}", by="regulator-3", note="checked")
    assert s.alerts_open_codes(["diversion"]) == []
    s.alerts_put([alert(1, "2026-01-22T00:00:00Z")])   # the same evidence: stays closed
    assert s.alerts_find(code="c1")[0]["status"] == "closed"
    v = s.alerts_version()
    s.alerts_put([alert(1, "2026-02-03T00:00:00Z")])   # a later scan out of market: open again
    (one,) = s.alerts_find(code="c1")
    assert one["status"] == "open" and "closed_by" not in one and s.alerts_version() != v
    assert one["reopened"][0]["closed_by"] == "regulator-3" and one["reopened"][0]["note"] == "checked"
    assert s.alerts_open_codes(["diversion"]) == [("c1", "diversion", f"{1:020x}")]
