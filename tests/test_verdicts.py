"""One verdict path: verify() and verify_many() decide by the same rule (verdicts.DECIDE)
and explain in the same words, for every verdict there is."""

from tracecode.index import Verdict
from tracecode.index.verdicts import DECIDE, VERDICT_OF_STATUS, _decide, decide_one
from tracecode.index.lifecycle import Status

DRUG = {"drug_id": "8177322"}
T0 = 1_700_000_000.0


def test_the_table_is_the_rule():
    assert set(VERDICT_OF_STATUS) == set(Status)
    for known, status, imported, expired, crowded in ((0, 1, 0, 0, 0), (1, 1, 0, 1, 1), (1, 0, 1, 0, 0),
                                                      (1, 0, 0, 0, 0), (1, 7, 0, 1, 1), (1, 1, 0, 0, 1)):
        assert DECIDE[known, status, imported, expired, crowded] == _decide(known, status, imported,
                                                                            expired, crowded)
    for status in Status:
        for imported in (False, True):
            for expired in (False, True):
                for crowded in (False, True):
                    assert decide_one(status, imported, expired, crowded) == \
                        DECIDE[1, status, int(imported), int(expired), int(crowded)]


def test_single_and_bulk_answers_are_the_same(d):
    fresh = [c.decode() for c in d.issue("cn-drug-20", DRUG, 40, lot="L1", expiry="20991231").codes()]
    old = [c.decode() for c in d.issue("cn-drug-20", DRUG, 5, lot="L2", expiry="20200100").codes()]
    d.apply([{"id": "c", "action": "commission", "codes": fresh[:30] + old[:3]},
             {"id": "s", "action": "sell", "codes": [fresh[1]]},
             {"id": "x", "action": "destroy", "codes": [fresh[2]]},
             {"id": "r", "action": "recall", "codes": [fresh[3]]},
             {"id": "o", "action": "decommission", "codes": [fresh[4]]}])
    d.index.import_codes(["NATIONAL-0001"], product={"name": "theirs"}, expiry="20991231")
    for place in ("A", "B", "C", "D"):   # fresh[5]: four places, three expected
        d.verify(fresh[5], place=place, when=T0)
    d.index.log.flush()
    scans = [fresh[0], fresh[1], fresh[2], fresh[3], fresh[4], fresh[5], fresh[35], old[0],
             "NATIONAL-0001", "81773229999999999990", "(01)0952123454321X", ""]
    kw = dict(place="E", when=T0 + 10, record=False)
    single = [d.verify(s, **kw) for s in scans]
    bulk = list(d.verify_many(scans, **kw))
    want = [Verdict.GENUINE, Verdict.ALREADY_SOLD, Verdict.DESTROYED, Verdict.RECALLED, Verdict.UNKNOWN,
            Verdict.SUSPICIOUS, Verdict.NOT_COMMISSIONED, Verdict.EXPIRED, Verdict.GENUINE]
    assert [a.verdict for a in single[:len(want)]] == want
    for s, one, many in zip(scans, single, bulk):
        assert (one.verdict, one.reasons, one.status, one.fault) == \
               (many.verdict, many.reasons, many.status, many.fault), s
