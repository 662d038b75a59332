"""The LMDB index: batch records, verdicts, lifecycle, scan log, history, imports."""
import datetime as dt
import json
import re

import numpy as np
import pytest

import tracecode
from tracecode.index import IndexFull, Verdict, open_env, run_write

DRUG = {"drug_id": "8177322"}
SSCC = "(00)106141411234567897"
T0 = 1_700_000_000.0    # event and scan times are checked: from 2000 to now


def issue(d, count=100, **details):
    b = d.issue("cn-drug-20", DRUG, count, **details)
    return b, [c.decode() for c in b.codes()]


def ok(results):
    assert all(r["ok"] for r in results), results
    return results


def test_issuing_stores_one_record_per_batch(d):
    b1, _ = issue(d, 1000, lot="L1", expiry="20281231", line="line-3", requester="factory-a")
    b2, _ = issue(d, 10_000_000)  # ten million codes, one record
    assert (b1.id, b1.start, b2.id, b2.start) == (1, 0, 2, 1000)
    batches = d.index.batches.list()
    assert [(r.id, r.start, r.count, r.lot, r.line) for r in batches] == [
        (1, 0, 1000, "L1", "line-3"), (2, 1000, 10_000_000, None, None)]
    with d.index.env.begin() as txn:
        entries = sum(txn.stat(db)["entries"] for db in (d.index.batches.records, d.index.batches.ranges))
    assert entries == 4
    assert d.index.env.info()["last_pgno"] < 50  # no per-code storage


def test_verdicts_follow_the_lifecycle(d):
    b, codes = issue(d, lot="L1", expiry="20281231")
    a = d.verify(codes[0])
    assert a.verdict == Verdict.NOT_COMMISSIONED and a.batch == b.id and a.lot == "L1"
    ok(d.apply([{"id": "c1", "action": "commission", "codes": codes[:20]}]))
    a = d.verify(codes[0])
    assert (a.verdict, a.status, a.product, a.expiry) == (Verdict.GENUINE, "commissioned", DRUG, "20281231")
    ok(d.apply([{"id": "s1", "action": "sell", "codes": [codes[1]]},
                {"id": "x1", "action": "destroy", "codes": [codes[2]]},
                {"id": "r1", "action": "recall", "codes": [codes[3]]},
                {"id": "d1", "action": "decommission", "codes": [codes[30]]}]))
    assert d.verify(codes[1]).verdict == Verdict.ALREADY_SOLD
    assert d.verify(codes[2]).verdict == Verdict.DESTROYED
    assert d.verify(codes[3]).verdict == Verdict.RECALLED
    assert d.verify(codes[30]).verdict == Verdict.UNKNOWN
    assert d.verify(codes[4], today=dt.date(2029, 1, 1)).verdict == Verdict.EXPIRED


def test_unknown_codes(d):
    _, codes = issue(d, 10)
    assert d.verify("81773220000000000002").verdict == Verdict.UNKNOWN  # bad check digit
    later = d.issuer("cn-drug-20", DRUG).codes(10, 1)[0].decode()  # valid, never issued
    a = d.verify(later)
    assert a.verdict == Verdict.UNKNOWN and a.reasons == ["never issued"]
    assert d.verify("junk").reasons == ["unreadable: WRONG_LENGTH"]


def test_illegal_moves_are_refused_with_reasons(d):
    _, codes = issue(d, 10)
    res = d.apply([{"id": "a", "action": "ship", "codes": [codes[0]]},
                   {"id": "b", "action": "commission", "codes": [codes[1], "81773220000000000002"]},
                   {"id": "c", "action": "teleport", "codes": [codes[2]]},
                   {"id": "d", "action": "commission", "codes": [codes[3]]},
                   {"id": "d", "action": "commission", "codes": [codes[4]]},
                   {"action": "commission", "codes": [codes[5]]}])
    assert [r["ok"] for r in res] == [False, False, False, True, False, False]
    assert "it is issued (ship needs commissioned, received)" in res[0]["error"]
    assert "unknown code" in res[1]["error"]
    assert "unknown action" in res[2]["error"]
    assert "duplicate event id" in res[4]["error"]
    assert "needs an id" in res[5]["error"]
    # event b was refused whole: its valid code stayed uncommissioned
    assert d.verify(codes[1]).verdict == Verdict.NOT_COMMISSIONED


def test_atomic_calls_refuse_everything_or_nothing(d):
    _, codes = issue(d, 10)
    res = d.apply([{"id": "a", "action": "commission", "codes": codes[:5]},
                   {"id": "b", "action": "sell", "codes": [codes[9]]}], atomic=True)
    assert [r["ok"] for r in res] == [False, False]
    assert "another event" in res[0]["error"]
    assert d.verify(codes[0]).verdict == Verdict.NOT_COMMISSIONED
    ok(d.apply([{"id": "a", "action": "commission", "codes": codes[:5]}], atomic=True))


def test_aggregation_applies_to_everything_inside(d):
    _, codes = issue(d, 20)
    ok(d.apply([{"id": "c", "action": "commission", "codes": codes}]))
    case = codes[19]
    ok(d.apply([{"id": "p1", "action": "pack", "codes": codes[:10], "parent": case},
                {"id": "p2", "action": "pack", "codes": [case], "parent": SSCC},
                {"id": "ship", "action": "ship", "codes": [SSCC]}]))
    assert d.verify(codes[3]).status == "shipped"  # unit < case < pallet
    assert d.verify(codes[15]).status == "commissioned"
    res = d.apply([{"id": "again", "action": "pack", "codes": [codes[3]], "parent": codes[18]}])
    assert not res[0]["ok"]
    ok(d.apply([{"id": "recv", "action": "receive", "codes": [SSCC]},
                {"id": "u", "action": "unpack", "codes": [codes[3]], "parent": case},
                {"id": "sell", "action": "sell", "codes": [codes[3]]}]))
    assert d.verify(codes[3]).verdict == Verdict.ALREADY_SOLD
    assert d.verify(codes[4]).status == "received"
    with d.index.env.begin() as txn:  # no record per child for the pallet's events
        key = d.index._keys_of(d.index.store.view(txn), [codes[5]], None)[0][0]
        assert txn.get(key + b"\x00", db=d.index.db_codes)[0] == 1  # still its own commissioned record


def test_recall_by_lot_and_by_batch(d):
    b1, c1 = issue(d, 10, lot="L1")
    b2, c2 = issue(d, 10, lot="L2")
    b3, c3 = issue(d, 10, lot="L3")
    ok(d.apply([{"id": "c", "action": "commission", "codes": c1 + c2 + c3}]))
    ok(d.apply([{"id": "r1", "action": "recall", "scheme": "cn-drug-20", "product": DRUG, "lot": "L2"},
                {"id": "r2", "action": "recall", "batch": b3.id}]))
    assert [d.verify(c[0]).verdict for c in (c1, c2, c3)] == [
        Verdict.GENUINE, Verdict.RECALLED, Verdict.RECALLED]
    assert [a.verdict for a in d.verify_many([c1[0], c2[0], c3[0]])] == [
        Verdict.GENUINE, Verdict.RECALLED, Verdict.RECALLED]
    ok(d.apply([{"id": "x", "action": "destroy", "codes": [c2[1]]}]))
    assert d.verify(c2[1]).verdict == Verdict.DESTROYED
    assert [a.verdict for a in d.verify_many([c2[1], c2[2]])] == [Verdict.DESTROYED, Verdict.RECALLED]


def test_bulk_commissioning(d):
    b, _ = issue(d, 200_000)
    codes = [c.decode() for c in b.codes()]
    res = d.apply([{"id": "line-3/0001", "action": "commission", "codes": codes}])
    assert res[0]["ok"]
    answers = d.verify_many(codes[::1000], record=False)
    assert {a.verdict for a in answers} == {Verdict.GENUINE}


def test_scans_are_logged_and_counted(d):
    _, codes = issue(d, 10)
    ok(d.apply([{"id": "c", "action": "commission", "codes": codes, "time": T0 + 1}]))
    d.verify(codes[0], scanner="pda-1", place="Hangzhou", when=T0 + 1000)
    d.index.log.flush()
    a = d.verify(codes[0], scanner="pda-2", place="Ningbo", when=T0 + 2000)
    assert (a.scan_count, a.first_scan_time, a.first_scan_place) == (2, T0 + 1000, "Hangzhou")
    for when, p in ((T0 + 3000, "Wenzhou"), (T0 + 4000, "Shaoxing")):
        d.index.log.flush()
        a = d.verify(codes[0], place=p, when=when)
    assert a.verdict == Verdict.SUSPICIOUS and "4 places" in a.reasons[0]
    d.index.log.flush()
    hist = d.history(codes[0])
    assert [h["kind"] for h in hist] == ["event", "scan", "scan", "scan", "scan"]
    assert hist[1]["place"] == "Hangzhou" and hist[1]["verdict"] == "GENUINE"


def test_history_includes_the_containers(d):
    _, codes = issue(d, 5)
    ok(d.apply([{"id": "c", "action": "commission", "codes": codes, "time": T0 + 1},
                {"id": "p", "action": "pack", "codes": codes[:2], "parent": SSCC, "time": T0 + 2},
                {"id": "s", "action": "ship", "codes": [SSCC], "time": T0 + 3}]))
    hist = d.history(codes[0])
    assert [(h["action"], h["via"]) for h in hist] == [
        ("commission", None), ("pack", None), ("ship", SSCC)]
    assert hist[0]["bizStep"] == "commissioning" and hist[2]["disposition"] == "in_transit"


def test_imported_codes_verify_like_ours(d, tmp_path):
    national = ["201403270000200101860785", "201403270000200101860786"]
    path = tmp_path / "vet.txt"
    path.write_text("\n".join(national) + "\n")
    with open(path) as f:
        n = d.index.import_codes(f, product={"name": "阿莫西林"}, approval_number="兽药字(2015)010012345",
                                 lot="B7", expiry="20301231")
    assert n == 2
    a = d.verify(national[0])
    assert (a.verdict, a.lot, a.product) == (Verdict.GENUINE, "B7", {"name": "阿莫西林"})
    assert "imported code" in a.reasons
    assert d.verify("201403270000200101860787").verdict == Verdict.UNKNOWN
    ok(d.apply([{"id": "r", "action": "recall", "codes": [national[1]]}]))
    assert d.verify(national[1]).verdict == Verdict.RECALLED
    # codes no scheme reads are found by their text, spaces and dashes removed, any case
    d.index.import_codes(["ab-12 cd"], lot="T1")
    scans = ["AB12CD", " ab-12-cd ", national[0], "AB12CE", national[1]]
    batch = d.verify_many(scans, record=False)
    assert [a.verdict for a in batch] == [Verdict.GENUINE, Verdict.GENUINE, Verdict.GENUINE,
                                          Verdict.UNKNOWN, Verdict.RECALLED]
    assert [a.lot for a in batch] == ["T1", "T1", "B7", None, "B7"]
    assert [bool(f) for f in batch.found] == [True, True, True, False, True]
    assert d.verify(" ab 12 CD").lot == "T1"


def test_a_full_map_is_a_clear_error_and_changes_nothing(tmp_path):
    env = open_env(tmp_path / "small", map_size=64 * 4096, map_limit=128 * 4096)
    db = env.open_db(b"x")
    run_write(env, lambda txn: txn.put(b"a", b"1", db=db))
    with pytest.raises(IndexFull, match="map limit"):
        run_write(env, lambda txn: [txn.put(b"k%08d" % i, b"v" * 200, db=db) for i in range(10_000)])
    with env.begin(db=db) as txn:
        assert txn.get(b"a") == b"1" and txn.stat(db)["entries"] == 1
    grown = open_env(tmp_path / "grow", map_size=64 * 4096)
    gdb = grown.open_db(b"x")
    run_write(grown, lambda txn: [txn.put(b"k%08d" % i, b"v" * 200, db=gdb) for i in range(10_000)])
    assert grown.info()["map_size"] > 64 * 4096


def test_batch_records_survive_reopen(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        b, codes = issue(d, 50, lot="L9")
        ok(d.apply([{"id": "c", "action": "commission", "codes": codes}]))
        d.verify(codes[0], place="here")
    with tracecode.open(path) as d:
        a = d.verify(codes[0])
        assert (a.verdict, a.lot, a.scan_count, a.first_scan_place) == (Verdict.GENUINE, "L9", 2, "here")
        assert json.loads(json.dumps(d.history(codes[0])))  # plain data


def test_an_index_of_another_format_is_refused(tmp_path):
    path = tmp_path / "d"
    tracecode.init(path).close()
    env = open_env(path / "index")
    meta = env.open_db(b"meta")
    run_write(env, lambda txn: txn.put(b"format", b"99", db=meta))
    env.close()
    with pytest.raises(tracecode.TracecodeError, match="format 99"):
        tracecode.open(path).index


def test_transitions_see_batch_recalls_and_refuse_repeated_codes(d):
    b, codes = issue(d, 10)
    ok(d.apply([{"id": "c", "action": "commission", "codes": codes},
                {"id": "r", "action": "recall", "batch": b.id}]))
    res = d.apply([{"id": "s", "action": "sell", "codes": [codes[0]]},
                   {"id": "x", "action": "destroy", "codes": [codes[1], codes[1]]},
                   {"id": "y", "action": "destroy", "codes": [codes[1]]}])
    assert not res[0]["ok"] and "it is recalled" in res[0]["error"]
    assert not res[1]["ok"] and "listed twice" in res[1]["error"]
    assert res[2]["ok"] and d.verify(codes[1]).verdict == Verdict.DESTROYED


def test_unreadable_expiry_is_refused_before_it_is_stored(d):
    with pytest.raises(ValueError, match="YYYYMMDD"):
        d.issue("cn-drug-20", DRUG, 10, expiry="2030-12-31")
    with pytest.raises(ValueError, match="YYYYMMDD"):
        d.index.import_codes(["201403270000200101860785"], expiry="20301332")
    assert d.index.batches.list() == []


def test_the_c_kernels_refuse_transactions_they_cannot_read(d, tmp_path):
    import lmdb

    from tracecode.store.lmdb import _codes
    ix = d.index
    key = b"\x00" * 12
    with ix.env.begin() as txn:
        assert _codes.read_code(ix.env, txn, ix.db_codes, key, 0)[:4] == (0, 0, 0, ())
    with ix.env.begin(db=ix.db_codes) as txn, pytest.raises(ValueError, match="without db="):
        _codes.read_code(ix.env, txn, ix.db_codes, key, 0)
    txn = ix.env.begin()
    txn.abort()
    with pytest.raises(lmdb.Error, match="no longer valid"):
        _codes.read_code(ix.env, txn, ix.db_codes, key, 0)
    with ix.env.begin() as txn, pytest.raises(TypeError):
        _codes.read_code(ix.env, object(), ix.db_codes, key, 0)
    other = lmdb.open(str(tmp_path / "other"), max_dbs=2)
    with ix.env.begin() as txn, pytest.raises(lmdb.Error, match="another"):
        _codes.read_code(ix.env, txn, other.open_db(b"x"), key, 0)
    with other.begin() as txn, pytest.raises(ValueError, match="another environment"):
        _codes.read_code(ix.env, txn, ix.db_codes, key, 0)
    other.close()
    with pytest.raises(lmdb.Error, match="closed"):
        with other.begin() as txn:
            _codes.read_code(other, txn, ix.db_codes, key, 0)


def test_the_c_kernels_check_their_arrays(d):
    from tracecode.store.lmdb import _codes
    ix = d.index
    keys = np.zeros(24, np.uint8)
    out = [np.zeros(2, t) for t in ("u1", "u8", "u4", "u1", "f8", "u8")]
    with ix.env.begin() as txn:
        _codes.read_codes(ix.env, txn, ix.db_codes, keys, np.array([0, 12, 24]), 0, *out)
        with pytest.raises(ValueError, match="shorter"):
            _codes.read_codes(ix.env, txn, ix.db_codes, keys, np.array([0, 12, 24, 24]), 0, *out)
        with pytest.raises(ValueError, match="outside"):
            _codes.read_codes(ix.env, txn, ix.db_codes, keys, np.array([12, 24, 36]), 0, *out)
        with pytest.raises(ValueError, match="longer than"):
            _codes.read_codes(ix.env, txn, ix.db_codes, np.zeros(99, np.uint8), np.array([0, 99, 99]),
                              0, *out)
    args = dict(prefixes=np.zeros(4, np.uint8), hashes=np.zeros(1, np.uint32), times=np.zeros(2))

    def record(prefix_off, sources=(0, 0), **kw):
        a = {**args, **kw}
        with ix.env.begin(write=True) as txn:
            _codes.record_scans(ix.env, txn, ix.db_codes, ix.db_scans, 1, keys, np.array([0, 12, 24]),
                                np.zeros(2, np.uint8), np.array(sources, np.int32), a["prefixes"],
                                np.array(prefix_off, np.int64), a["hashes"], a["times"])
    with pytest.raises(ValueError, match="disagree"):
        record([0, 4], hashes=np.zeros(2, np.uint32))
    with pytest.raises(ValueError, match="disagree"):
        record([0, 4], times=np.zeros(1))
    with pytest.raises(ValueError, match="outside"):
        record([0, 40])
    with pytest.raises(ValueError, match="names source 1"):
        record([0, 4], sources=(0, 1))


def test_after_fork_the_parent_environment_is_refused(d):
    import os
    _, codes = issue(d, 2)
    d.verify(codes[0], record=False)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what verify said, and leave without cleanup
        try:
            d.index.verify(codes[0], record=False)
            os.write(w, b"verified")
        except Exception as exc:  # noqa: BLE001 - the message is the result
            os.write(w, str(exc).encode())
        os._exit(0)
    os.close(w)
    message = os.read(r, 1000).decode()
    os.waitpid(pid, 0)
    assert "another process" in message


def test_packing_refuses_cycles_and_nesting_deeper_than_the_limit(d):
    from tracecode.index.index import MAX_DEPTH
    _, codes = issue(d, MAX_DEPTH + 3)
    ok(d.apply([{"id": "c", "action": "commission", "codes": codes}]))
    for k in range(MAX_DEPTH):  # codes[0] < codes[1] < ... < codes[MAX_DEPTH]
        ok(d.apply([{"id": f"p{k}", "action": "pack", "codes": [codes[k]], "parent": codes[k + 1]}]))
    res = d.apply([{"id": "deep", "action": "pack", "codes": [codes[MAX_DEPTH]],
                    "parent": codes[MAX_DEPTH + 1]}])
    assert "containers deep" in res[0]["error"]
    res = d.apply([{"id": "cycle", "action": "pack", "codes": [codes[MAX_DEPTH]], "parent": codes[2]}])
    assert "contains" in res[0]["error"]
    ok(d.apply([{"id": "ship", "action": "ship", "codes": [codes[MAX_DEPTH]]}]))
    assert d.verify(codes[0], record=False).status == "shipped"  # through all 8 levels
    assert d.contents(codes[3]) == [codes[2]]
    assert d.contents(codes[0]) == []


def test_max_places_and_imported_codes_are_checked(tmp_path):
    with pytest.raises(ValueError, match="max_places"):
        tracecode.index.Index(open_env(tmp_path / "e"), tracecode.schemes.builtin(), None,
                              max_places=8)
    with tracecode.init(tmp_path / "d") as d, pytest.raises(ValueError, match="control character"):
        d.index.import_codes(["AB\x01C"])


def test_a_failed_scan_log_commit_keeps_the_scans_for_the_next(d, monkeypatch):
    from tracecode.store.lmdb import scanlog
    _, codes = issue(d, 2)
    real, calls = scanlog.run_write, []

    def flaky(env, fn):
        calls.append(1)
        if len(calls) == 1:
            raise tracecode.index.IndexFull("disk full (simulated)")
        return real(env, fn)
    monkeypatch.setattr(scanlog, "run_write", flaky)
    d.verify_many(codes, record=False)
    d.index.log.add(tracecode.store.lmdb.codekeys.Keys.packed([None]), np.zeros(1, np.uint8), None, None, 1.0)
    with pytest.raises(tracecode.index.IndexFull):
        d.index.log.flush()
    d.verify(codes[0])
    assert d.index.log.flush() == 2   # the refused scan and the new one
    assert d.verify(codes[0], record=False).scan_count == 2


def test_each_scan_names_the_previous_one_of_its_code(d):
    _, codes = issue(d, 3)
    ok(d.apply([{"id": "c", "action": "commission", "codes": codes}]))
    for k, place in enumerate(["A", "B", "A", "C"]):
        d.verify_many([codes[0], codes[1]] if k % 2 else [codes[0]], place=place, when=T0 + 100 + k)
    d.index.log.flush()
    scans = [h for h in d.history(codes[0]) if h["kind"] == "scan"]
    assert [(s["time"], s["place"]) for s in scans] == [(T0 + 100, "A"), (T0 + 101, "B"), (T0 + 102, "A"),
                                                        (T0 + 103, "C")]
    assert [s["time"] for s in d.history(codes[1]) if s["kind"] == "scan"] == [T0 + 101, T0 + 103]
    a = d.verify(codes[0], place="D", record=False)
    assert (a.scan_count, a.first_scan_place, a.first_scan_time) == (5, "A", T0 + 100)
    assert a.verdict == Verdict.SUSPICIOUS  # A, B, C and now D: more than 3 places


def test_machine_readable_refusals_faults_and_packed_scans(d):
    from tracecode.index import lifecycle
    _, codes = issue(d, 150)
    res = d.apply([{"id": "c", "action": "commission", "codes": codes},
                   {"id": "c", "action": "commission", "codes": codes[:1]},
                   {"id": "s", "action": "receive", "codes": codes[:1]},
                   {"id": "u", "action": "sell", "codes": ["81773229999999999990"]},
                   {"id": "x", "action": "melt", "codes": codes[:1]}])
    assert [r.get("reason") for r in res] == [None, lifecycle.DUPLICATE_EVENT, lifecycle.ILLEGAL_TRANSITION,
                                              lifecycle.UNKNOWN_CODE, lifecycle.INVALID_EVENT]
    res = d.apply([{"id": "a1", "action": "sell", "codes": codes[:1]},
                   {"id": "a2", "action": "sell", "codes": codes[:1]}], atomic=True)
    assert [r["reason"] for r in res] == [lifecycle.NOT_APPLIED, lifecycle.ILLEGAL_TRANSITION]
    hist = d.history(codes[0])
    assert hist[0]["codes_total"] == 150 and len(hist[0]["codes"]) == 100
    assert d.verify("81773220000").fault == "WRONG_LENGTH"
    scans = [codes[0], "garbage", codes[1]]
    data = "".join(scans).encode()
    offsets = np.cumsum([0] + [len(s) for s in scans])
    batch = d.verify_many(data, offsets, record=False)
    assert [a.verdict for a in batch] == [Verdict.GENUINE, Verdict.UNKNOWN, Verdict.GENUINE]
    assert [a.fault for a in batch] == [None, "WRONG_LENGTH", None]


def test_events_of_one_call_see_the_earlier_ones_as_separate_calls_do(tmp_path):
    # apply() parses a call's codes and reads their states once; a later event of the call
    # must still see what the earlier ones did: pack then ship, unpack then pack, recalls.
    def run(d, together):
        _, u = issue(d, 60, lot="L9")
        sscc = ["(00)061414100000000007", "(00)061414100000000014"]

        def steps():
            yield [{"id": "c", "action": "commission", "codes": u[:50]}]
            yield [{"id": "p1", "action": "pack", "codes": u[:10], "parent": u[40]},
                   {"id": "p2", "action": "pack", "codes": u[10:20], "parent": u[41]},
                   {"id": "pp", "action": "pack", "codes": [u[40]], "parent": sscc[0]},
                   {"id": "s1", "action": "ship", "codes": [sscc[0]]},
                   {"id": "r1", "action": "receive", "codes": u[:5]},     # shipped through two levels
                   {"id": "bad", "action": "pack", "codes": [u[0]], "parent": u[42]},  # packed
                   {"id": "sell", "action": "sell", "codes": [u[20]]},
                   {"id": "sell2", "action": "sell", "codes": [u[20]]},   # sold by "sell"
                   {"id": "up", "action": "unpack", "codes": u[10:12], "parent": u[41]},
                   {"id": "rp", "action": "pack", "codes": u[10:12] + [u[21]], "parent": sscc[1]},
                   {"id": "s2", "action": "ship", "codes": [sscc[1]]},
                   {"id": "r2", "action": "receive", "codes": u[10:12]},
                   {"id": "sell", "action": "sell", "codes": [u[20]]},    # the same again: replayed
                   {"id": "p1", "action": "pack", "codes": u[25:27], "parent": u[40]},  # id used
                   {"id": "p4", "action": "pack", "codes": u[26:28], "parent": sscc[1]},  # shipped unit
                   {"id": "p5", "action": "pack", "codes": u[28:30], "parent": u[41]},  # packed before
                   {"id": "x", "action": "destroy", "codes": [u[22]]},
                   {"id": "x2", "action": "ship", "codes": [u[22], u[23]]},   # destroyed
                   {"id": "rc", "action": "recall", "lot": "L9", "scheme": "cn-drug-20",
                    "product": DRUG},
                   {"id": "after", "action": "sell", "codes": [u[24]]},        # recalled
                   {"id": "c2", "action": "commission", "codes": u[50:55]},   # recalled too
                   {"id": "p3", "action": "pack", "codes": u[50:55], "parent": u[23]},
                   {"id": "dup", "action": "ship", "codes": [u[30], u[30]]},
                   {"id": "unk", "action": "ship", "codes": [u[31], "not a code"]}]
        out = []
        for call in steps():
            if together:
                out += d.apply(call)
            else:
                for ev in call:
                    out += d.apply([ev])
        names = {c: f"u{i}" for i, c in enumerate(u)}
        named = re.compile("|".join(map(re.escape, sorted(u, key=len, reverse=True))))
        got = [(r["id"], r["ok"], r.get("reason"), r.get("seq"),
                named.sub(lambda m: names[m.group()], r.get("error", ""))) for r in out]
        states = [(a.verdict, a.status) for a in d.verify_many(u + sscc, record=False)]
        return got, states, [[names.get(c, c) for c in d.contents(x)] for x in [u[40], u[41], *sscc]]

    with tracecode.init(tmp_path / "one") as one, tracecode.init(tmp_path / "many") as many:
        together, apart = run(one, True), run(many, False)
    assert together == apart
    assert [r[0] for r in together[0] if not r[1]] == ["bad", "sell2", "p1", "x2", "after", "c2", "p3",
                                                       "dup", "unk"]
    first, again = [r for r in together[0] if r[0] == "sell"]   # the resend: the first one's seq
    assert first[1] and again[1] and first[3] == again[3]
