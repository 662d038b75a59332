"""A full disk, for real: data directories on a small tmpfs filled to the last byte.

Every write path (issuance, events, recorded scans, imported codes, registry imports)
answers IndexFull with nothing written, whether LMDB sees ENOSPC or a short write (which
it reports as EIO), and the same open objects work again once space is freed. The
audit log is never torn into unreadable lines. Needs root (mount -t tmpfs): skipped
otherwise, except under CI=true, where a missing mount is a failure.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import time
import uuid

import pytest

import tracecode
from tracecode.index import IndexFull, Verdict
from tracecode.store.lmdb import scanlog
from tracecode.store.lmdb.env import open_db
from tracecode.store.lmdb.scanlog import MAX_PENDING

DRUG = {"drug_id": "8177322"}
AMOX = "兽药字(2015)010012345"
REG_HEADER = "approval_number,product,company,enterprise_id,dosage_form,specification,status," \
             "status_since,valid_until\n"


def _unusable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, but {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def small_disk(where, size="8m"):
    """A tmpfs of `size` at `where` (a fresh directory), unmounted afterwards."""
    if os.geteuid() != 0:
        _unusable("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        _unusable(f"mount -t tmpfs failed: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


class Filler:
    """Takes a disk's free space, to the last byte (or all but `leave` bytes)."""

    def __init__(self, disk):
        self.path = disk / f"filler-{uuid.uuid4().hex}"

    def fill(self, leave: int = 0) -> "Filler":
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for block in (1 << 20, 4096, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * block)
                except OSError:
                    pass
        finally:
            os.close(fd)
        if leave:
            os.truncate(self.path, os.path.getsize(self.path) - leave)
        return self

    def free(self) -> None:
        os.remove(self.path)


def wait_for(condition, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk", "32m") as where:
        yield where


def use_up_free_pages(d) -> None:
    """A commit that takes every page LMDB has free for reuse: a write after it needs
    new pages, so new disk (writes into reused pages need none, and succeed when full)."""
    # env.open_db with no transaction waits for the write lock holding the GIL, against the
    # scan log's writer thread that holds the lock and needs the GIL: the store's open_db doesn't.
    ballast = open_db(d.index.env, b"test-ballast")
    with d.index.env.begin(write=True, db=ballast) as txn:
        txn.put(b"ballast", os.urandom(1 << 20))


LMDB_SAYS = {"enospc": "No space left on device", "short-write": "Input/output error"}


# ENOSPC: no byte left. A short write (LMDB: EIO): one page left, commits need more.
@pytest.fixture(params=["enospc", "short-write"])
def full(request, disk):
    """(data directory with a batch and 10 commissioned codes, its codes, the filler)."""
    d = tracecode.init(disk / "d")
    batch = d.issue("cn-drug-20", DRUG, 20_000)
    codes = [c.decode() for c in batch.codes()]
    assert d.apply([{"id": "c-0", "action": "commission", "codes": codes[:10]}])[0]["ok"]
    d.verify_many(codes[:5])
    d.index.log.flush()
    use_up_free_pages(d)
    filler = Filler(disk).fill(leave=0 if request.param == "enospc" else 4096)
    filler.mode = request.param
    yield d, codes, filler
    with contextlib.suppress(FileNotFoundError):
        filler.free()
    d.close()


def test_issuance_refused_whole_then_works_again(full):
    d, codes, filler = full
    before = d.index.batches.list()
    for product in (DRUG, {"drug_id": "1234567"}):  # a known product, and a new one
        with pytest.raises(IndexFull, match="disk under the index .* is full") as info:
            d.issue("cn-drug-20", product, 1_000_000, lot="L1")
        assert LMDB_SAYS[filler.mode] in str(info.value)
    assert d.index.batches.list() == before
    assert d.issued("cn-drug-20", DRUG) == 20_000
    filler.free()
    again = d.issue("cn-drug-20", DRUG, 1000)  # the same objects, no reopening
    assert (again.id, again.start) == (before[-1].id + 1, 20_000)


def test_events_are_not_acknowledged_and_apply_later(full):
    d, codes, filler = full
    event = {"id": "c-1", "action": "commission", "codes": codes[10:15_000]}
    with pytest.raises(IndexFull):
        d.apply([event])
    with pytest.raises(IndexFull):
        d.apply([event, {"id": "c-2", "action": "commission", "codes": codes[15_000:]}],
                atomic=True)
    assert {a.verdict for a in d.verify_many(codes[10:15_000], record=False)} == \
        {Verdict.NOT_COMMISSIONED}
    filler.free()
    assert d.apply([event]) == [{"id": "c-1", "ok": True, "seq": 2}]  # the id was never used
    assert d.verify(codes[14_999], record=False).verdict == Verdict.GENUINE


def test_imports_say_what_got_in_and_finish_later(full):
    d, codes, filler = full
    national = [f"NC{k:022d}" for k in range(120_000)]
    with pytest.raises(IndexFull, match="codes were imported before this chunk"):
        d.index.import_codes(national, product={"name": "x"}, lot="N1")
    rows = "".join(f"兽药字(2015)0100{k:05d},产品{k},甲,00002,粉剂,{'规格' * 80},valid,,2030-12-31\n"
                   for k in range(400))
    with pytest.raises(IndexFull):
        d.registry.import_file(io.StringIO(REG_HEADER + rows), fmt="csv")
    filler.free()
    assert d.index.import_codes(national, product={"name": "x"}, lot="N1") == 120_000
    assert d.verify(national[-1], record=False).verdict == Verdict.GENUINE
    assert len(d.registry.import_file(io.StringIO(REG_HEADER + rows), fmt="csv").added) == 400


def test_recorded_scans_wait_within_the_bound_and_commit_when_space_returns(full, caplog):
    d, codes, filler = full
    log = d.index.log
    seen_before = d.verify(codes[0], record=False).scan_count
    # queued: the answers come back; the commit fails, the scans stay in the queue
    queued = 0
    while log.failure is None:
        d.verify_many(codes[:1000])
        queued += 1000
        if log.failure is None:
            with contextlib.suppress(IndexFull):
                log.flush()
        assert queued <= 2 * MAX_PENDING
    assert isinstance(log.failure, IndexFull)
    # once the queue holds its bound, recording calls are refused: not recorded, not queued
    with pytest.raises(IndexFull, match="scans are not being recorded"):
        while True:
            d.verify_many(codes[:1000])
            queued += 1000
            assert queued <= MAX_PENDING + 1000
    singles = 0
    with pytest.raises(IndexFull, match="scans are not being recorded"):
        while True:  # the single-scan path fills the rest, then is refused too
            d.verify(codes[0])
            singles += 1
            assert singles <= 1000
    assert log.pending == queued + singles <= MAX_PENDING
    assert d.verify(codes[0], record=False).verdict == Verdict.GENUINE   # reading still works
    assert log._thread.is_alive()
    filler.free()
    wait_for(lambda: log.failure is None and log.pending == 0, "the writer to commit the queue")
    # every queued scan of codes[0] got in (scan_count counts the asking scan too)
    recorded = seen_before + queued // 1000 + singles
    assert d.verify(codes[0], record=False).scan_count == recorded
    d.verify(codes[0])   # records again
    log.flush()
    assert d.verify(codes[0], record=False).scan_count == recorded + 1


def test_the_writer_backs_off_instead_of_spinning(full, monkeypatch, caplog):
    d, codes, filler = full
    attempts = []
    real = scanlog.run_write

    def counted(env, fn):
        attempts.append(time.monotonic())
        return real(env, fn)
    monkeypatch.setattr(scanlog, "run_write", counted)
    caplog.set_level(logging.INFO, logger="tracecode.scanlog")
    d.verify_many(codes[:100])
    wait_for(lambda: len(attempts) >= 6, "six commit attempts")
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps[-1] > 4 * d.index.log.interval, gaps   # slower each time, not every 5 ms
    failures = [r for r in caplog.records if "could not commit" in r.getMessage()]
    assert len(failures) == 1   # said once, not at every retry
    filler.free()
    wait_for(lambda: d.index.log.pending == 0, "the commit once space is back")
    assert any("commit again" in r.getMessage() for r in caplog.records)


def test_idempotent_issuance_full_at_the_binding_returns_the_batch(tmp_path, monkeypatch):
    """The reservation committed, then the disk filled before the key was bound: the
    request gets its batch (a retry finds it by its requester), never a second one."""
    from tracecode.app.idempotency import IdempotentIssuer
    d = tracecode.init(tmp_path / "d")
    issuing = IdempotentIssuer(d)
    put = issuing._put

    def full_at_binding(dbkey, entry):
        if entry.get("batch"):
            raise IndexFull("the disk under the index is full (test)")
        put(dbkey, entry)
    monkeypatch.setattr(issuing, "_put", full_at_binding)
    batch, replayed = issuing.issue("line-3", "k", "cn-drug-20", DRUG, 100)
    assert not replayed
    monkeypatch.setattr(issuing, "_put", put)
    assert issuing.issue("line-3", "k", "cn-drug-20", DRUG, 100) == (batch, True)
    assert [b.id for b in d.index.batches.list()] == [batch.id]
    d.close()


def test_an_approved_issuance_full_at_its_link_issues_nothing(tmp_path, monkeypatch):
    """issue_approved's batch and its link to the approval are one commit: a full disk
    (here at the link's write) leaves no unlinked batch behind that a retry would double."""
    from tracecode.store.lmdb import registry as store_module
    d = tracecode.init(tmp_path / "d")
    d.registry.import_file(io.StringIO(REG_HEADER + f"{AMOX},阿莫西林,甲,00002,粉剂,,valid,,"
                                                    f"2030-12-31\n"), fmt="csv")

    def full(*args, **kw):
        raise IndexFull("the disk under the index is full (test)")
    monkeypatch.setattr(store_module, "run_write", full)           # a separate link commit
    monkeypatch.setattr(d.registry.store, "put_link", full, raising=False)  # or the link itself
    with pytest.raises(IndexFull):
        d.issue_approved(AMOX, 100)
    assert d.index.batches.list() == []
    monkeypatch.undo()
    batch = d.issue_approved(AMOX, 100)
    assert [b.id for b in d.index.batches.list()] == [batch.id]
    with d.index.env.begin() as txn:
        assert d.registry.store.links(txn, [batch.id]) == {
            batch.id: {"number": d.registry.get(AMOX).number, "level": 1}}
    d.close()


def test_a_map_that_must_grow_on_a_full_disk_is_index_full_and_grows_later(disk):
    """An environment opened small grows its map before the retry; the disk then refuses
    the pages: IndexFull, and the same environment takes the write once space is back."""
    from tracecode.store.lmdb.env import open_env, run_write
    env = open_env(disk / "small", map_size=1 << 20, map_limit=1 << 30)
    db = env.open_db(b"t")
    big = [(b"k%06d" % i, os.urandom(1000)) for i in range(3000)]   # 3 MB > the 1 MiB map
    filler = Filler(disk).fill(leave=4096)   # a page: the commit's write is cut short (EIO)
    with pytest.raises(IndexFull, match="disk under the index"):
        run_write(env, lambda txn: txn.cursor(db=db).putmulti(big))
    assert env.info()["map_size"] > 1 << 20   # it grew, then the disk said no
    with env.begin(db=db) as txn:
        assert txn.stat(db)["entries"] == 0
    filler.free()
    run_write(env, lambda txn: txn.cursor(db=db).putmulti(big))
    with env.begin(db=db) as txn:
        assert txn.stat(db)["entries"] == 3000
    env.close()


def test_what_lmdb_says_about_a_disk_is_told_apart_from_other_errors(tmp_path):
    import lmdb
    from tracecode.store.lmdb.env import disk_full
    env = lmdb.open(str(tmp_path / "e"), map_size=1 << 20)
    assert "over its quota" in str(disk_full(env, lmdb.Error("mdb_txn_commit: Disk quota exceeded")))
    assert "full or failing" in str(disk_full(env, lmdb.Error("mdb_txn_commit: Input/output error")))
    assert "restart the process" in str(disk_full(env, lmdb.PanicError("mdb_txn_begin: MDB_PANIC")))
    assert disk_full(env, lmdb.BadValsizeError("mdb_put: MDB_BAD_VALSIZE")) is None
    env.close()
