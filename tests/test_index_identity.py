"""A data directory knows its index: a deleted, emptied, truncated, damaged or foreign
index/data.mdb is refused with one line naming the file (never recreated at counter 0,
never a SIGBUS), and the reservation journal keeps counters ahead of an older copy."""
import json
import logging
import os
import shutil
import subprocess
import sys

import lmdb
import pytest
import tracecode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracecode.index import IndexDamaged, StampError, Verdict
from tracecode.store.lmdb import journal, stamp
from tracecode.store.lmdb.lmdbfile import check_data_file

DRUG = {"drug_id": "8177322"}


def _open_index(path):
    """Open a data directory's index (where the checks happen), then close it."""
    d = tracecode.open(path)
    try:
        return d.index
    finally:
        d.close()


def _issued_dir(path, batches=200):
    """A data directory with a few pages of index: batches, and events on 2,000 codes."""
    with tracecode.init(path) as d:
        for i in range(batches):
            d.issue("cn-drug-20", DRUG, 10, lot=f"L{i}")
        codes = d.issue("cn-drug-20", DRUG, 2000).codes()
        d.apply([{"id": "c1", "action": "commission", "codes": codes}])
        return d.issued("cn-drug-20", DRUG)


# A child process: a SIGBUS (what LMDB does on a truncated file) must show as such, and a
# fresh index would issue counter 0 again.
OPEN_AND_ISSUE = """
import sys, tracecode
d = tracecode.open(sys.argv[1])
print(d.issue("cn-drug-20", {"drug_id": "8177322"}, 5).start, flush=True)
"""


def _open_and_issue(path):
    return subprocess.run([sys.executable, "-c", OPEN_AND_ISSUE, str(path)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("damage", ["deleted", "emptied", "half", "short by 4 KiB"])
def test_a_lost_or_cut_index_is_refused_not_recreated_or_crashing(tmp_path, damage):
    path = tmp_path / "d"
    issued = _issued_dir(path)
    data = path / "index" / "data.mdb"
    size = data.stat().st_size
    assert size > 16 * 4096
    if damage == "deleted":
        data.unlink()
    else:
        os.truncate(data, {"emptied": 0, "half": size // 2, "short by 4 KiB": size - 4096}[damage])
    run = _open_and_issue(path)
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr[-500:])  # not -SIGBUS
    assert run.stdout == ""   # nothing issued, certainly not counter 0 again
    last = run.stderr.strip().splitlines()[-1]
    assert "IndexDamaged" in last and str(data) in last and "tracecode restore" in last
    with pytest.raises(IndexDamaged, match="missing|empty|truncated"):
        _open_index(path)
    assert not data.exists() or data.stat().st_size < size   # nothing recreated in its place
    assert issued > 2000


def test_meta_pages_are_read_as_lmdb_does(tmp_path):
    """The check reads LMDB's own meta pages: the newer one (higher txnid) decides."""
    env = lmdb.open(str(tmp_path / "e"), map_size=1 << 30, max_dbs=2)
    db = env.open_db(b"x")
    for i in range(3):
        with env.begin(write=True) as txn:
            for j in range(2000):
                txn.put(b"%d-%d" % (i, j), b"v" * 100, db=db)
    info, psize = env.info(), env.stat()["psize"]
    env.close()
    meta = check_data_file(tmp_path / "e" / "data.mdb", "restore")
    assert (meta.last_pg, meta.txnid, meta.psize) == (info["last_pgno"], info["last_txnid"], psize)
    assert meta.needed == (info["last_pgno"] + 1) * psize


@pytest.mark.parametrize("page", [0, 1])
def test_a_damaged_meta_page_is_refused(tmp_path, page):
    path = tmp_path / "d"
    _issued_dir(path, batches=5)
    data = path / "index" / "data.mdb"
    with open(data, "r+b") as f:
        f.seek(page * 4096 + 16)
        f.write(b"\xff" * 8)   # the magic and version
    with pytest.raises(IndexDamaged, match=f"meta page {page} is damaged") as info:
        _open_index(path)
    assert str(data) in str(info.value) and "\n" not in str(info.value)


def test_garbage_in_place_of_the_index_is_refused(tmp_path):
    path = tmp_path / "d"
    _issued_dir(path, batches=1)
    (path / "index" / "data.mdb").write_bytes(os.urandom(3 * 4096))
    with pytest.raises(IndexDamaged, match="not an LMDB file"):
        _open_index(path)


def test_another_directorys_index_is_refused(tmp_path):
    _issued_dir(tmp_path / "a", batches=1)
    _issued_dir(tmp_path / "b", batches=1)
    shutil.rmtree(tmp_path / "b" / "index")
    shutil.copytree(tmp_path / "a" / "index", tmp_path / "b" / "index")
    with pytest.raises(StampError, match="not this directory's index"):
        _open_index(tmp_path / "b")


def test_the_stamp_and_the_uuid_inside_agree(tmp_path):
    path = tmp_path / "d"
    tracecode.init(path).close()
    st = json.loads((path / stamp.NAME).read_text())
    with tracecode.open(path) as d, d.index.env.begin() as txn:
        assert txn.get(stamp.UUID_KEY, db=d.index.batches.meta).decode() == st["index"]
    assert journal.read(path / journal.NAME)[0] == st["index"]
    (path / stamp.NAME).write_text("{not json")
    with pytest.raises(StampError, match="index.stamp is damaged"):
        _open_index(path)


def test_an_older_copy_of_the_index_put_in_place_catches_up_from_the_journal(tmp_path):
    """No restore command used: the journal still raises the counters past every batch."""
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        first = d.issue("cn-drug-20", DRUG, 100)
    shutil.copy2(path / "index" / "data.mdb", tmp_path / "old.mdb")
    with tracecode.open(path) as d:
        later = d.issue("cn-drug-20", DRUG, 100)
        later_code = later.codes()[:1].tolist()
    shutil.copy2(tmp_path / "old.mdb", path / "index" / "data.mdb")
    with tracecode.open(path) as d:
        again = d.issue("cn-drug-20", DRUG, 100)
        assert again.start == later.start + later.count > first.count
        # the later batch is put back from the journal: its codes are still ours
        assert d.verify_many(later_code, record=False)[0].batch == later.id
        assert again.id == later.id + 1


def test_a_torn_journal_line_is_skipped_and_the_next_one_starts_afresh(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        d.issue("cn-drug-20", DRUG, 10)
    with open(path / journal.NAME, "ab") as f:
        f.write(b'{"k":"00","end":99999')   # a crash in the middle of a line
    with tracecode.open(path) as d:
        b = d.issue("cn-drug-20", DRUG, 10)
    _, entries, _, skipped = journal.read(path / journal.NAME)
    assert skipped == 1 and [e.end for e in entries] == [10, 20] and entries[-1].batch == b.id


def test_a_lost_journal_is_rebuilt_from_the_index(tmp_path, caplog):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        d.issue("cn-drug-20", DRUG, 10)
    (path / journal.NAME).unlink()
    with caplog.at_level(logging.WARNING, "tracecode.index"):
        with tracecode.open(path) as d:
            assert d.issue("cn-drug-20", DRUG, 10).start == 10
    assert "rebuilt it from the index" in caplog.text
    assert [e.end for e in journal.read(path / journal.NAME)[1]] == [10, 20]


def test_a_directory_made_before_stamps_is_adopted_once(tmp_path, caplog):
    """Older tracecode wrote no stamp, uuid or journal: the first open adopts the index."""
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        d.issue("cn-drug-20", DRUG, 10)
        with d.index.env.begin(write=True) as txn:
            for k in (stamp.UUID_KEY, b"journal_end"):
                txn.delete(k, db=d.index.batches.meta)
    (path / stamp.NAME).unlink()
    (path / journal.NAME).unlink()
    with caplog.at_level(logging.WARNING, "tracecode.index"):
        with tracecode.open(path) as d:
            assert d.issue("cn-drug-20", DRUG, 10).start == 10
    assert "adopted its index" in caplog.text
    st = stamp.read(path)
    assert st is not None and journal.read(path / journal.NAME)[0] == st["index"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, "tracecode.index"):
        tracecode.open(path).close()
        with tracecode.open(path) as d:
            assert d.issue("cn-drug-20", DRUG, 1).start == 20
    assert caplog.text == ""   # once


def test_the_cli_says_it_in_one_line(tmp_path):
    path = tmp_path / "d"
    tracecode.init(path).close()
    (path / "index" / "data.mdb").unlink()
    run = subprocess.run([sys.executable, "-m", "tracecode", "issue", str(path), "--scheme",
                          "cn-drug-20", "-p", "8177322", "-n", "5"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "data.mdb is missing" in lines[0] and "restore" in lines[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ends=st.lists(st.integers(1, 2**63), min_size=1, max_size=12),
       cut=st.integers(0, 10**6), noise=st.binary(max_size=40), at=st.integers(0, 11))
def test_the_journal_reader_keeps_every_whole_line_and_only_those(tmp_path, ends, cut, noise, at):
    """Whatever a crash or a bad disk leaves after a line (a torn line, garbage without a
    newline), the reader returns exactly the whole lines before it, and appending goes on."""
    path = tmp_path / f"j-{abs(hash((tuple(ends), cut, noise, at)))}"
    uuid = stamp.new_uuid()
    entries = [journal.Entry(b"s\x00k", e, i + 1, 16, {}) for i, e in enumerate(ends)]
    journal.create(path, uuid, entries)
    raw = path.read_bytes()
    head = len(journal.header(uuid))
    lines = [journal.entry_line(e) for e in entries]
    keep = min(at, len(lines))
    body = b"".join(lines[:keep])
    torn = lines[keep][: cut % len(lines[keep])] if keep < len(lines) else b""
    tail = torn + noise.replace(b"\n", b"")
    path.write_bytes(raw[:head] + body + tail)
    # a whole line that only lost its newline still counts (a mark kept is always safe)
    whole = [ends[keep]] if keep < len(lines) and tail == lines[keep][:-1] else []
    owner, got, _, skipped = journal.read(path)
    assert owner == uuid and [e.end for e in got] == ends[:keep] + whole
    assert skipped == (1 if tail and not whole else 0)
    writer = journal.Writer(path)
    writer.append(journal.Entry(b"s\x00k", 7, 99, 16, {}))
    writer.close()
    assert [e.end for e in journal.read(path)[1]] == ends[:keep] + whole + [7]


def test_damaged_pages_inside_the_index_are_one_line_not_a_traceback(tmp_path):
    """Meta pages intact, the pages after them zeroed: LMDB's MDB_CORRUPTED is one line."""
    path = tmp_path / "d"
    _issued_dir(path)
    data = path / "index" / "data.mdb"
    with open(data, "r+b") as f:   # every page but the two metas: the trees' roots too
        f.seek(2 * 4096)
        f.write(bytes(data.stat().st_size - 2 * 4096))
    run = subprocess.run([sys.executable, "-m", "tracecode", "issue", str(path), "--scheme",
                          "cn-drug-20", "-p", "8177322", "-n", "5"],
                         capture_output=True, text=True, timeout=60)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and run.stdout == "" and len(lines) == 1, run.stderr
    assert "damaged" in lines[0] and "restore" in lines[0]


def test_a_journal_line_that_lost_only_its_newline_still_counts(tmp_path):
    path = tmp_path / "j"
    uuid = stamp.new_uuid()
    journal.create(path, uuid, [journal.Entry(b"s\x00k", 5, 1, 16, {})])
    path.write_bytes(path.read_bytes() + journal.entry_line(journal.Entry(b"s\x00k", 9, 2, 16, {}))[:-1])
    assert [e.end for e in journal.read(path)[1]] == [5, 9]
    writer = journal.Writer(path)
    writer.append(journal.Entry(b"s\x00k", 12, 3, 16, {}))
    writer.close()
    assert [e.end for e in journal.read(path)[1]] == [5, 9, 12]


def test_a_journal_write_cut_short_by_a_full_disk_reserves_nothing(tmp_path, monkeypatch):
    """The disk fills in the middle of a journal line: IndexFull, no batch, the index
    unchanged; once there is room the next reservation works and the torn line is skipped."""
    from tracecode.index import IndexFull
    path = tmp_path / "d"
    d = tracecode.init(path)
    d.issue("cn-drug-20", DRUG, 10)
    real_write = os.write

    def half_write(fd, data):   # what a file system does when it runs out mid-write
        return real_write(fd, data[: len(data) // 2])
    monkeypatch.setattr(journal.os, "write", half_write)
    with pytest.raises(IndexFull, match="disk under the index .* is full .*nothing was reserved"):
        d.issue("cn-drug-20", DRUG, 10)
    monkeypatch.setattr(journal.os, "write", real_write)
    assert d.issued("cn-drug-20", DRUG) == 10 and len(d.index.batches.list()) == 1
    assert d.issue("cn-drug-20", DRUG, 10).start == 10
    d.close()
    _, entries, _, skipped = journal.read(path / journal.NAME)
    assert [e.end for e in entries] == [10, 20] and skipped == 1
    with tracecode.open(path) as d:   # reopening replays nothing it should not
        assert d.issue("cn-drug-20", DRUG, 1).start == 20


def test_a_lost_stamp_and_an_older_index_put_back_replay_the_journal_not_set_it_aside(tmp_path):
    """The index names itself (its uuid inside): with the stamp lost and an older data.mdb
    put back, the journal of that same index is replayed before the stamp is written again,
    so the batches issued since are neither issued again nor forgotten (review 11, #1)."""
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        d.issue("cn-drug-20", DRUG, 5)
    shutil.copy2(path / "index" / "data.mdb", tmp_path / "old.mdb")
    with tracecode.open(path) as d:
        later = d.issue("cn-drug-20", DRUG, 5)
        later_codes = later.codes().tolist()
    uuid = stamp.read(path)["index"]
    (path / stamp.NAME).unlink()
    shutil.copy2(tmp_path / "old.mdb", path / "index" / "data.mdb")
    (path / "index" / "lock.mdb").unlink()
    with tracecode.open(path) as d:
        again = d.issue("cn-drug-20", DRUG, 5)
        assert again.start == 10 and again.id == later.id + 1
        assert {a.batch for a in d.verify_many(later_codes, record=False)} == {later.id}
    assert stamp.read(path)["index"] == uuid
    assert not [p for p in path.iterdir() if ".damaged-" in p.name]
    # a journal of another index beside a stamp-less index is refused, not set aside
    tracecode.init(tmp_path / "other").close()
    (path / stamp.NAME).unlink()
    shutil.copy2(tmp_path / "other" / journal.NAME, path / journal.NAME)
    with pytest.raises(StampError, match="is the journal of index"):
        _open_index(path)


def _refuse_after_the_journal_line(monkeypatch):
    """A commit that fails after the journal line was written and fsynced (what a full
    disk does: the line fits in the file's slack, LMDB's pages do not)."""
    from tracecode.index import IndexFull
    real = journal.Writer.append

    def append_then_fail(self, e):
        real(self, e)
        raise IndexFull("the disk is full (simulated commit failure): nothing was reserved")
    monkeypatch.setattr(journal.Writer, "append", append_then_fail)
    return real


def test_a_refused_reservation_never_becomes_a_batch(tmp_path, monkeypatch):
    """Refused reservations leave journal lines, unmarked: reopening raises the counters past
    them (never reused) but invents no batch; a restore puts back the real batch that
    took the same batch id, not a refused one (review 11, #2)."""
    from tracecode.index import IndexFull
    from tracecode.store.lmdb.backup import backup, restore
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        d.issue("cn-drug-20", DRUG, 5)
    backup(path, tmp_path / "bk")
    d = tracecode.open(path)
    real = _refuse_after_the_journal_line(monkeypatch)
    for i in range(3):
        with pytest.raises(IndexFull):
            d.issue("cn-drug-20", {"drug_id": str(8177400 + i)}, 1000, lot=f"PHANTOM{i}")
    monkeypatch.setattr(journal.Writer, "append", real)
    good = d.issue("cn-drug-20", {"drug_id": "9999999"}, 7, lot="REAL")
    good_codes = good.codes().tolist()
    assert good.id == 2
    d.close()
    _, entries, _, _ = journal.read(path / journal.NAME)
    assert [(e.batch, e.committed) for e in entries] == [(1, True)] + [(2, False)] * 3 + [(2, True)]
    restore(tmp_path / "bk", tmp_path / "r", journals=[path / journal.NAME],
            key_file=path / "master.key")
    with tracecode.open(tmp_path / "r") as r:
        assert r.index.batches.get(2).lot == "REAL"
        assert [b.lot for b in r.index.batches.list()] == [None, "REAL"]
        assert {a.verdict for a in r.verify_many(good_codes, record=False)} == {Verdict.NOT_COMMISSIONED}
        # the refused ones' counters are never handed out, though nobody got them
        assert r.issued("cn-drug-20", {"drug_id": "8177400"}) == 1000
        assert r.issue("cn-drug-20", DRUG, 1).id == 3
    # refused, then the process restarts: the reopen replays the lines as marks only
    d = tracecode.open(path)
    _refuse_after_the_journal_line(monkeypatch)
    with pytest.raises(IndexFull):
        d.issue("cn-drug-20", {"drug_id": "8177500"}, 1000, lot="PHANTOM")
    d.close()
    monkeypatch.setattr(journal.Writer, "append", real)
    with tracecode.open(path) as d:
        assert [b.lot for b in d.index.batches.list()] == [None, "REAL"]
        assert d.issued("cn-drug-20", {"drug_id": "8177500"}) == 1000
        after = d.issue("cn-drug-20", {"drug_id": "8177500"}, 10)
        assert after.start == 1000 and after.id == 4


@pytest.mark.parametrize("forge", ["huge batch", "unknown rec key", "non-hex key", "bool end",
                                   "string pid", "record of another batch"])
def test_a_journal_line_with_a_good_crc_but_foreign_content_is_skipped(tmp_path, forge, caplog):
    """Valid CRC, content tracecode never writes: skipped like a damaged line, with a
    warning, never a traceback on every writable open (review 11, #10)."""
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        d.issue("cn-drug-20", DRUG, 5)
    raw = (path / journal.NAME).read_bytes().split(b"\n")
    obj = json.loads(raw[1].rpartition(b"\t")[0])
    change = {"huge batch": {"batch": 10**30, "end": 99999999}, "unknown rec key":
              {"rec": {"bogus": 1}, "batch": 99}, "non-hex key": {"k": "zz"},
              "bool end": {"end": True}, "string pid": {"pid": "16"},
              "record of another batch": {"batch": 7}}[forge]
    obj.update(change)
    with open(path / journal.NAME, "ab") as f:
        f.write(journal._line(obj))
    _, entries, _, skipped = journal.read(path / journal.NAME)
    assert skipped == 1 and [e.batch for e in entries] == [1]
    with caplog.at_level(logging.WARNING, "tracecode.index"):
        with tracecode.open(path) as d:
            assert d.issue("cn-drug-20", DRUG, 5).start == 5
    assert "not tracecode's" in caplog.text


def test_a_capped_address_space_says_what_it_is_and_a_lower_map_limit_works(tmp_path):
    """Under ulimit -v the 1 TiB map cannot be reserved (ENOMEM): one line saying so and
    naming TRACECODE_MAP_LIMIT, not "restore a backup"; with a lower limit it works."""
    import resource
    path = tmp_path / "d"
    tracecode.init(path).close()

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
    argv = [sys.executable, "-m", "tracecode", "issue", str(path), "--scheme", "cn-drug-20",
            "-p", "8177322", "-n", "5"]
    env = {k: v for k, v in os.environ.items() if k != "TRACECODE_MAP_LIMIT"}
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60, preexec_fn=cap, env=env)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, run.stderr
    assert "address space" in lines[0] and "TRACECODE_MAP_LIMIT" in lines[0]
    assert "restore" not in lines[0] and "damaged" not in lines[0].replace("nothing is wrong", "")
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60, preexec_fn=cap,
                         env=env | {"TRACECODE_MAP_LIMIT": "1G"})
    assert run.returncode == 0 and len(run.stdout.split()) == 5, run.stderr


def test_a_journal_set_aside_is_replayed_first(tmp_path):
    """A journal rebuilt because it is shorter than the index's record of it is replayed
    before it is set aside: a mark it holds beyond the index is never lost."""
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        d.issue("cn-drug-20", DRUG, 5)
        d.issue("cn-drug-20", DRUG, 5)
        b = d.index.batches
        with d.index.env.begin(write=True) as txn:   # an index that lost the second batch,
            key = next(iter(txn.cursor(db=b.counters)))[0]   # yet records a longer journal
            txn.put(key, (5).to_bytes(8, "big"), db=b.counters)
            txn.put(b"journal_end", (10**9).to_bytes(8, "big"), db=b.meta)
    with tracecode.open(path) as d:
        assert d.issue("cn-drug-20", DRUG, 5).start == 10
    assert [p for p in path.iterdir() if ".damaged-" in p.name]


def test_on_a_real_full_disk_refused_reservations_leave_no_phantom_batch(tmp_path):
    """The review's case on a real full tmpfs: journal lines fit in the file's slack, the
    LMDB commits do not. After a restart and after a restore with that journal, the only
    batches are the ones issued, and the real batch 2 verifies as itself (review 11, #2)."""
    from test_full_disk import Filler, small_disk
    from tracecode.index import IndexFull
    from tracecode.store.lmdb.backup import backup, restore
    with small_disk(tmp_path / "disk", "8m") as disk:
        path = disk / "d"
        with tracecode.init(path) as d:
            d.issue("cn-drug-20", DRUG, 5)
        backup(path, tmp_path / "bk")
        d = tracecode.open(path)
        filler = Filler(disk).fill()
        issued, refused = [(1, None)], 0
        for i in range(20):
            try:   # a commit that only reuses free pages may still fit: then it is a batch
                b = d.issue("cn-drug-20", {"drug_id": str(8177400 + i)}, 1000, lot=f"L{i}")
                issued.append((b.id, b.record.lot))
            except IndexFull:
                refused += 1
        assert refused >= 10
        filler.free()
        real = d.issue("cn-drug-20", {"drug_id": "9999999"}, 7, lot="REAL")
        issued.append((real.id, "REAL"))
        codes = real.codes().tolist()
        d.close()
        with tracecode.open(path) as d:
            assert [(b.id, b.lot) for b in d.index.batches.list()] == issued
        restore(tmp_path / "bk", tmp_path / "r", journals=[path / journal.NAME],
                key_file=path / "master.key")
    with tracecode.open(tmp_path / "r") as r:
        assert [(b.id, b.lot) for b in r.index.batches.list()] == issued
        assert {a.batch for a in r.verify_many(codes, record=False)} == {real.id}
        assert r.issue("cn-drug-20", DRUG, 1).start == 5


def test_a_commit_marker_the_disk_refused_is_written_before_the_next_line(tmp_path, monkeypatch):
    """The disk fills between the commit and its marker: the batch stands (it was handed
    out), and its marker is owed and written with the next reservation's line."""
    path = tmp_path / "d"
    d = tracecode.init(path)
    real_write = os.write
    refuse = {"on": False}

    def write(fd, data):
        if refuse["on"] and b'"ok"' in data:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)
    monkeypatch.setattr(journal.os, "write", write)
    refuse["on"] = True
    first = d.issue("cn-drug-20", DRUG, 5)
    refuse["on"] = False
    assert [e.committed for e in journal.read(path / journal.NAME)[1]] == [False]
    d.issue("cn-drug-20", DRUG, 5)
    d.close()
    _, entries, _, skipped = journal.read(path / journal.NAME)
    assert [(e.batch, e.committed) for e in entries] == [(first.id, True), (2, True)] and not skipped
