"""The counters' high-water mark of a PostgreSQL data directory (store/postgres/highwater.py):
written before counters are handed out, one write per block; a database that went back in
time (its identity changed: a PITR, a restore into another cluster) has its counters moved
past the mark at open; a missing or damaged mark refuses issuance and nothing else."""
import json

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracecode
from tracecode.index import Verdict
from tracecode.store.postgres import highwater
from tracecode.store.postgres.highwater import HighWaterDamaged, HighWaterError, HighWaterMissing

DRUG = {"drug_id": "8177322"}


def _rewind(dsn, dd_path, to: int):
    """What a restore to before the last issuance leaves: the counter back at `to`, and a
    database identity the mark was not written against (the restored cluster's new timeline)."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("UPDATE tc_counters SET next = %s", (to,))
    path = dd_path / highwater.NAME
    doc = highwater.read(path)
    path.write_bytes(highwater.encode(doc["index"], doc["marks"], ("123", 1)))


def test_the_mark_is_ahead_of_every_counter_handed_out(tmp_path, pg_dsn):
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        dd.issue("cn-drug-20", DRUG, 1000)
        doc = highwater.read(tmp_path / "dd" / highwater.NAME)
        (mark,) = doc["marks"].values()
        assert mark >= 1000 + highwater.MIN_BLOCK
        assert doc["identity"] is not None
        assert dd.index.store.meta_get(highwater.META_KEY) is not None


def test_one_write_per_block_not_per_reservation(tmp_path, pg_dsn, monkeypatch):
    writes = []
    real = highwater.write_atomically
    monkeypatch.setattr(highwater, "write_atomically", lambda p, d: (writes.append(p), real(p, d)))
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        writes.clear()
        for _ in range(50):
            dd.issue("cn-drug-20", DRUG, 1000)   # 50,000 counters: inside the first block
        assert len(writes) == 2   # this process's claim of the database, the first block
        dd.issue("cn-drug-20", DRUG, highwater.MIN_BLOCK)   # past it: one more write
        assert len(writes) == 3


def test_a_rewound_database_never_hands_out_again_what_it_handed_out(tmp_path, pg_dsn):
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        first = set(dd.issue("cn-drug-20", DRUG, 500).codes())
        second = set(dd.issue("cn-drug-20", DRUG, 700).codes())
    _rewind(pg_dsn, tmp_path / "dd", 500)
    with tracecode.open(tmp_path / "dd") as dd, pytest.warns(highwater.CountersMoved, match="1 products"):
        third = set(dd.issue("cn-drug-20", DRUG, 700).codes())
        assert not third & second and not third & first
        applied = json.loads(dd.index.store.meta_get(highwater.APPLIED_KEY))
        assert applied["products_moved"] == 1 and applied["counters_skipped"] > 700
        assert applied["identity_before"] == ["123", 1]
        code = next(iter(first))
        assert dd.verify(code).verdict == Verdict.NOT_COMMISSIONED
        assert dd.apply([{"id": "e1", "action": "commission", "codes": [code.decode()]}])[0]["ok"]
    with tracecode.open(tmp_path / "dd") as dd:   # the next open: the same database, nothing moved
        dd.issue("cn-drug-20", DRUG, 1)
        assert json.loads(dd.index.store.meta_get(highwater.APPLIED_KEY)) == applied


def test_without_the_mark_issuance_is_refused_and_verification_works(tmp_path, pg_dsn):
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        code = dd.issue("cn-drug-20", DRUG, 10).codes()[0]
    (tmp_path / "dd" / highwater.NAME).unlink()
    with tracecode.open(tmp_path / "dd") as dd:
        with pytest.raises(HighWaterMissing, match="highwater.json is missing.*--high-water"):
            dd.issue("cn-drug-20", DRUG, 10)
        assert dd.verify(code).verdict == Verdict.NOT_COMMISSIONED
        assert dd.issued("cn-drug-20", DRUG) == 10


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "empty", "negative"])
def test_a_damaged_mark_is_refused_never_read_as_zero(tmp_path, pg_dsn, damage):
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        code = dd.issue("cn-drug-20", DRUG, 10).codes()[0]
    path = tmp_path / "dd" / highwater.NAME
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flipped":   # a digit of the mark changed: the SHA-256 catches it
        doc = json.loads(raw)
        doc["marks"][0][2] = 0
        path.write_text(json.dumps(doc))
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff" * 40)
    elif damage == "empty":
        path.write_bytes(b"")
    else:   # a well-formed file with a checksum over a negative mark
        doc = highwater.read(path)
        doc["marks"] = {k: -5 for k in doc["marks"]}
        body = json.loads(highwater.encode(doc["index"], {}, doc["identity"]))
        body.pop("sha256")
        body["marks"] = [[s, k.hex(), -5] for s, k in doc["marks"]]
        import hashlib
        body["sha256"] = hashlib.sha256(highwater._body_bytes(body)).hexdigest()
        path.write_text(json.dumps(body))
    with tracecode.open(tmp_path / "dd") as dd:
        with pytest.raises(HighWaterDamaged, match="damaged"):
            dd.issue("cn-drug-20", DRUG, 10)
        assert dd.verify(code).verdict == Verdict.NOT_COMMISSIONED
    assert path.exists()   # left for the operator, not replaced


def test_a_mark_of_another_index_is_refused(tmp_path, pg_dsn):
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        dd.issue("cn-drug-20", DRUG, 10)
    path = tmp_path / "dd" / highwater.NAME
    doc = highwater.read(path)
    path.write_bytes(highwater.encode("another-index", doc["marks"], doc["identity"]))
    with tracecode.open(tmp_path / "dd") as dd:
        with pytest.raises(HighWaterError, match="another-index"):
            dd.issue("cn-drug-20", DRUG, 10)


def test_the_block_never_passes_the_capacity_and_covers_the_reservation():
    assert highwater.block_of(10, 10**8) == highwater.MIN_BLOCK
    assert highwater.block_of(10**5, 10**8) == 4 * 10**5
    assert highwater.block_of(10**5, 10**6) == 10**5            # 1/64 of a small product, at least the batch
    assert highwater.block_of(10, 6400) == 100


def test_merge_takes_the_highest_mark_of_each_product():
    a, b = {("s", b"1"): 5, ("s", b"2"): 9}, {("s", b"1"): 7, ("t", b"1"): 1}
    assert highwater.merge(a, b) == {("s", b"1"): 7, ("s", b"2"): 9, ("t", b"1"): 1}


def test_two_openers_of_one_directory_share_the_mark(tmp_path, pg_dsn):
    """Two processes on one DIR (serve's workers): each extends the file under its lock,
    merging what the other wrote, so after a rewind neither's codes are handed out again."""
    d = tmp_path / "dd"
    tracecode.init(d, store=pg_dsn).close()
    one, two = tracecode.open(d), tracecode.open(d)
    try:
        big = highwater.MIN_BLOCK
        handed = set(one.issue("cn-drug-20", DRUG, 1000).codes())
        handed |= set(two.issue("cn-drug-20", DRUG, big).codes())    # past one's block: two extends
        handed |= set(one.issue("cn-drug-20", DRUG, big).codes())    # one's cached mark is stale: extends
        mark = max(highwater.read(d / highwater.NAME)["marks"].values())
        assert mark >= one.issued("cn-drug-20", DRUG)
    finally:
        one.close()
        two.close()
    _rewind(pg_dsn, d, 1000)
    with tracecode.open(d) as dd, pytest.warns(highwater.CountersMoved):
        again = set(dd.issue("cn-drug-20", DRUG, 5000).codes())
        assert not again & handed


def test_a_bare_store_has_no_mark(pg_dsn):
    from tracecode.store.postgres import PgStore
    from tracecode.schemes import builtin
    store = PgStore(pg_dsn, builtin())
    try:
        assert store.highwater is None
        assert store.reserve("cn-drug-20", b"k", DRUG, 10, 10**8).start == 0
    finally:
        store.close()


def test_a_copy_of_the_directory_does_not_issue_into_the_same_database(tmp_path, pg_dsn):
    """Two copies of one mark would each move ahead on their own: after a rewind the lower
    one could hand out what the other handed out. A copy is told by its generation: each
    process's first reservation moves it on in the file and the database together."""
    import shutil
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        dd.issue("cn-drug-20", DRUG, 10)
    shutil.copytree(tmp_path / "dd", tmp_path / "copy")
    with tracecode.open(tmp_path / "dd") as dd:   # the original issues on: a generation on
        dd.issue("cn-drug-20", DRUG, 10)
        with tracecode.open(tmp_path / "copy") as cp:
            with pytest.raises(HighWaterError, match="another copy of this data directory.*not by .*copy"):
                cp.issue("cn-drug-20", DRUG, 10)
            assert cp.verify(dd.issue("cn-drug-20", DRUG, 1).codes()[0]).verdict == Verdict.NOT_COMMISSIONED
        assert dd.issued("cn-drug-20", DRUG) == 21


def test_a_copy_issuing_alongside_stops_the_other(tmp_path, pg_dsn):
    """A copy made under a live store: the first of the two to issue after it keeps the
    database; the other is refused from its next reservation (no alternating)."""
    import shutil
    d = tmp_path / "dd"
    with tracecode.init(d, store=pg_dsn) as dd:
        dd.issue("cn-drug-20", DRUG, 10)
        shutil.copytree(d, tmp_path / "copy")
        with tracecode.open(tmp_path / "copy") as cp:
            cp.issue("cn-drug-20", DRUG, 10)
            with pytest.raises(HighWaterError, match="another copy"):
                dd.issue("cn-drug-20", DRUG, 10)
            cp.issue("cn-drug-20", DRUG, 10)
    with tracecode.open(d) as dd, pytest.raises(HighWaterError, match="another copy"):
        dd.issue("cn-drug-20", DRUG, 10)


def test_a_moved_directory_or_a_new_hostname_issues_on(tmp_path, pg_dsn, monkeypatch):
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        first = set(dd.issue("cn-drug-20", DRUG, 100).codes())
    (tmp_path / "dd").rename(tmp_path / "moved")
    monkeypatch.setattr(highwater.socket, "gethostname", lambda: "a-recreated-container")
    with tracecode.open(tmp_path / "moved") as dd:
        assert not set(dd.issue("cn-drug-20", DRUG, 100).codes()) & first
        holder = json.loads(dd.index.store.meta_get(highwater.META_KEY))
        assert holder["file"].startswith("a-recreated-container:") and holder["generation"] == 2


def test_the_first_mark_of_two_new_directories_goes_to_one(tmp_path, pg_dsn):
    import shutil
    tracecode.init(tmp_path / "dd", store=pg_dsn).close()
    shutil.copytree(tmp_path / "dd", tmp_path / "copy")   # before any issuance: neither marked yet
    with tracecode.open(tmp_path / "dd") as a, tracecode.open(tmp_path / "copy") as b:
        a.issue("cn-drug-20", DRUG, 10)
        with pytest.raises(HighWaterError, match="not by .*copy"):
            b.issue("cn-drug-20", DRUG, 10)
        assert a.issued("cn-drug-20", DRUG) == 10   # b's reservation rolled back whole


def test_a_failover_under_a_live_store_moves_the_counters_before_the_next_issue(tmp_path, pg_dsn, monkeypatch):
    """A promoted standby with asynchronous replication: counters behind, a new timeline, and
    the server's workers still running. Their next reservation sees the new identity (checked
    in every reservation's transaction) and moves the counters past the mark first."""
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        handed = set(dd.issue("cn-drug-20", DRUG, 500).codes())
        with psycopg.connect(pg_dsn, autocommit=True) as c:
            c.execute("UPDATE tc_counters SET next = 0")   # the standby had not replayed them
        monkeypatch.setattr(highwater, "STATE_COLUMNS",   # what a promoted standby reports: a new timeline
                            highwater.STATE_COLUMNS.replace("::int END", "::int + 1 END"))
        with pytest.warns(highwater.CountersMoved, match="1 products"):
            again = set(dd.issue("cn-drug-20", DRUG, 500).codes())
        assert not again & handed
        applied = json.loads(dd.index.store.meta_get(highwater.APPLIED_KEY))
        assert applied["identity_now"][1] == applied["identity_before"][1] + 1
        assert highwater.read(tmp_path / "dd" / highwater.NAME)["identity"][1] == applied["identity_now"][1]
        dd.issue("cn-drug-20", DRUG, 1)   # the same database from now on: nothing moved again
        assert json.loads(dd.index.store.meta_get(highwater.APPLIED_KEY)) == applied


def test_counters_set_back_under_a_live_store_are_never_handed_out_again(tmp_path, pg_dsn):
    """The reviewer's simulation: no identity change at all, the counters set back under a
    live data directory; the next issue must not start again at 0."""
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        handed = set(dd.issue("cn-drug-20", DRUG, 500).codes())
        with psycopg.connect(pg_dsn, autocommit=True) as c:
            c.execute("UPDATE tc_counters SET next = 0")
        with pytest.warns(highwater.CountersMoved):
            batch = dd.issue("cn-drug-20", DRUG, 500)
        assert batch.start >= 500 + highwater.MIN_BLOCK and not set(batch.codes()) & handed


def test_a_deadlock_rerun_still_marks_the_database_protected(tmp_path, pg_dsn, monkeypatch):
    """The reservation that first marks the database is ended by a deadlock and run again:
    the database must still say a mark protects it, so a deleted mark is noticed."""
    real, calls = highwater.Mark.cover, []

    def deadlock_once(self, view, *a):
        real(self, view, *a)
        calls.append(1)
        if len(calls) == 1:
            raise psycopg.errors.DeadlockDetected("deadlock detected (injected)")
    monkeypatch.setattr(highwater.Mark, "cover", deadlock_once)
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        dd.issue("cn-drug-20", DRUG, 10)
        assert len(calls) == 2 and dd.index.store.meta_get(highwater.META_KEY) is not None
    (tmp_path / "dd" / highwater.NAME).unlink()
    with tracecode.open(tmp_path / "dd") as dd, pytest.raises(HighWaterMissing):
        dd.issue("cn-drug-20", DRUG, 10)

_marks = st.dictionaries(st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=24)),
                         st.integers(0, (1 << 63) - 1), max_size=20)


@settings(max_examples=200, deadline=None)
@given(_marks, st.one_of(st.none(), st.tuples(st.text(max_size=20), st.integers(1, 1 << 31))))
def test_the_file_reads_back_what_was_written(marks, ident):
    doc = highwater.read_bytes(highwater.encode("idx", marks, ident), "f")
    assert doc == {"index": "idx", "identity": ident, "marks": marks, "dir": None, "generation": 0}


@settings(max_examples=300, deadline=None)
@given(_marks, st.data())
def test_a_changed_byte_is_refused_or_changes_nothing(marks, data):
    raw = bytearray(highwater.encode("idx", marks, ("1", 1)))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]))
    try:
        doc = highwater.read_bytes(bytes(raw), "f")
    except HighWaterDamaged:
        return
    assert doc["marks"] == marks   # only a change JSON ignores (whitespace) may pass


def test_a_directory_the_mark_cannot_be_written_in_verifies_and_refuses_issuance(tmp_path, pg_dsn, monkeypatch):
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        code = dd.issue("cn-drug-20", DRUG, 10).codes()[0]

    def read_only(self):
        raise PermissionError(13, "Read-only file system")
    monkeypatch.setattr(highwater.Mark, "_locked", read_only)
    with tracecode.open(tmp_path / "dd") as dd:
        assert dd.verify(code).verdict == Verdict.NOT_COMMISSIONED
        with pytest.raises(HighWaterError, match="cannot be written .*Read-only"):
            dd.issue("cn-drug-20", DRUG, 10)
