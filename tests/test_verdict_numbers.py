"""One verdict, one number: the engine's Verdict is the wire's, and scan records on disk
keep the byte index format 2 wrote (so an existing index's history reads the same)."""
import numpy as np

import tracecode
from tracecode.index import Verdict
from tracecode.store.lmdb.batches import u64
from tracecode.store.lmdb.scanlog import _SCAN_HEAD, VERDICT_BIAS, unpack_scan
from tracecode.v1 import common_pb2 as cpb
from tracecode.v1.convert import answer, answer_pb, result_records, verdict_columns

DRUG = {"drug_id": "8177322"}


def test_the_engines_verdicts_are_the_wires():
    wire = {n[len("VERDICT_"):]: v for n, v in cpb.Verdict.items() if n != "VERDICT_UNSPECIFIED"}
    assert {v.name: v.value for v in Verdict} == wire
    assert 0 not in set(Verdict)  # 0 is no verdict on the wire (an unset field)


def test_the_other_enums_that_cross_the_wire_keep_their_stated_relation():
    from tracecode.index import Status
    from tracecode.scan import Fault
    faults = {n[len("FAULT_"):]: v for n, v in cpb.Fault.items()}
    assert {("NONE" if f.name == "OK" else f.name): f.value for f in Fault} == faults  # equal
    states = {n[len("STATUS_"):]: v for n, v in cpb.Status.items() if n != "STATUS_UNSPECIFIED"}
    assert {s.name: s.value + 1 for s in Status} == states  # the engine's number plus one


def test_columns_and_answers_cross_the_wire_unchanged(tmp_path):
    with tracecode.init(tmp_path / "data") as d:
        batch = d.issue("cn-drug-20", DRUG, 3)
        codes = batch.codes()
        d.apply([{"id": "c1", "action": "commission", "codes": codes[:1]}])
        got = d.verify_many([codes[0], codes[1], b"8177322000000000000X"], record=False)
        assert got.verdicts.tolist() == [Verdict.GENUINE, Verdict.NOT_COMMISSIONED, Verdict.UNKNOWN]
        cols = verdict_columns(got.records)
        assert np.frombuffer(cols["verdicts"], np.uint8).tolist() == [1, 3, 2]  # VERDICT_* values
        from tracecode.v1 import verification_pb2 as vpb
        back = result_records(vpb.VerifyBatchReply(count=3, **cols))
        assert back["verdict"].tolist() == got.verdicts.tolist()
        a = d.verify(codes[0], record=False)
        assert answer_pb(a).verdict == cpb.VERDICT_GENUINE and answer(answer_pb(a)).verdict is Verdict.GENUINE


def test_scan_records_keep_their_stored_byte(tmp_path):
    with tracecode.init(tmp_path / "data") as d:
        codes = d.issue("cn-drug-20", DRUG, 2).codes()
        d.apply([{"id": "c1", "action": "commission", "codes": codes[:1]}])
        d.verify(codes[0], place="Hangzhou")                 # GENUINE
        d.verify_many([codes[1]], place="Hangzhou")          # NOT_COMMISSIONED
        d.index.log.flush()
        ix = d.index
        with ix.env.begin() as txn:
            stored = []
            for seq in (1, 2):
                raw = txn.get(u64(seq), db=ix.db_scans)
                _, ls, lp = _SCAN_HEAD.unpack_from(raw)
                stored.append(raw[_SCAN_HEAD.size + ls + lp])
                assert unpack_scan(raw)["verdict"] == stored[-1] + VERDICT_BIAS
        # the bytes index format 2 wrote: 0 GENUINE, 2 NOT_COMMISSIONED
        assert sorted(stored) == [Verdict.GENUINE - 1, Verdict.NOT_COMMISSIONED - 1] == [0, 2]
        assert [h["verdict"] for h in d.history(codes[0]) if h["kind"] == "scan"] == ["GENUINE"]
        assert [h["verdict"] for h in d.history(codes[1]) if h["kind"] == "scan"] == ["NOT_COMMISSIONED"]
