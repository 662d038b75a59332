"""Base backup, WAL archiving and point-in-time restore of a PostgreSQL data directory
(store/postgres/backup.py, `tracecode backup` / `tracecode restore`), on real servers: issue,
back up, issue more, lose the server, restore to a time before the second issuance, open,
issue: no code of the second issuance is handed out again. Refusals: no high-water mark, a
gap in the WAL archive, a changed backup."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

import tracecode
from tracecode.index import Verdict
from tracecode.store.postgres import backup as pgbackup
from tracecode.store.postgres import highwater
from tracecode.store.postgres.backup import PgBackupError, check_archive, segment_name

DRUG = {"drug_id": "8177322"}
SEG = 16 << 20


def _tracecode(*args, env=None):
    run = subprocess.run([sys.executable, "-m", "tracecode.cli", *map(str, args)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, **(env or {})})
    return run


def _postgres_dir():
    """A directory the server's user may write (tests run as root: PostgreSQL as `postgres`)."""
    d = Path(tempfile.mkdtemp(prefix="tc-pgb-"))
    if os.getuid() == 0:
        shutil.chown(d, "postgres", "postgres")
    return d


def _chown_tree(path: Path):
    if os.getuid() == 0:
        for p in [path, *path.rglob("*")]:
            shutil.chown(p, "postgres", "postgres")


def _archived(dsn, timeout=60):
    """Switch to a new WAL segment and wait until the finished one is archived."""
    with psycopg.connect(dsn, autocommit=True) as c:
        seg = c.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = c.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0]
            if last and last >= seg:
                return seg
            time.sleep(0.2)
    raise AssertionError(f"{seg} was not archived in {timeout} s")


def test_a_backup_through_the_api_and_a_changed_backup_refused(tmp_path, pg_dsn):
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        dd.issue("cn-drug-20", DRUG, 10)
        m = dd.backup(tmp_path / "bk")   # while open: pg_basebackup is online
    assert m["store"] == "postgresql" and m["archive_mode"] == "off" and not m["key_included"]
    assert sorted(m["files"]) == ["highwater.json", "index.stamp", "keys.json", "schemes/README.txt",
                               "settings.toml"]
    assert pgbackup.is_pg_backup(tmp_path / "bk") and not (tmp_path / "bk" / "master.key").exists()
    (tmp_path / "bk" / "index.stamp").write_text("{}")
    with pytest.raises(PgBackupError, match="changed since the backup"):
        pgbackup.restore(tmp_path / "bk", tmp_path / "dd", pgdata=tmp_path / "pgdata",
                         wal_archive=tmp_path)
    assert not (tmp_path / "pgdata").exists()
    with pytest.raises(PgBackupError, match="not empty"):
        dd.backup(tmp_path / "bk")


def test_a_damaged_mark_in_dir_gives_way_to_a_copy_named(tmp_path, pg_dsn):
    with tracecode.init(tmp_path / "dd", store=pg_dsn) as dd:
        dd.issue("cn-drug-20", DRUG, 10)
        dd.backup(tmp_path / "bk")
    arch = tmp_path / "arch"   # the WAL the base backup carries, as an archive would hold it
    shutil.copytree(tmp_path / "bk" / "base" / "pg_wal", arch,
                    ignore=shutil.ignore_patterns("archive_status", "*.history"))
    own = tmp_path / "dd" / highwater.NAME
    own.write_bytes(b"{not json")
    with pytest.raises(PgBackupError, match="highwater.json is damaged .*: give a copy of it .*set aside"):
        pgbackup.restore(tmp_path / "bk", tmp_path / "dd", pgdata=tmp_path / "pg", wal_archive=arch)
    assert own.read_bytes() == b"{not json" and not (tmp_path / "pg").exists()
    r = pgbackup.restore(tmp_path / "bk", tmp_path / "dd", pgdata=tmp_path / "pg", wal_archive=arch,
                         high_water=[tmp_path / "bk" / highwater.NAME])
    assert r["high_water"] == [str(tmp_path / "bk" / highwater.NAME)] and r["products"] == 1
    assert highwater.read(own)["identity"] is None
    assert [p.read_bytes() for p in (tmp_path / "dd").glob("highwater.json.damaged-*")] == [b"{not json"]
    assert (tmp_path / "pg" / "recovery.signal").exists()
    conf = (tmp_path / "pg" / "postgresql.auto.conf").read_text()
    assert f"restore_command = 'cp \"{arch}/%f\"" in conf and "recovery_target_time =" not in conf


def test_the_archive_check_finds_gaps_and_missing_history(tmp_path):
    for n in (2, 3, 4, 6):
        (tmp_path / segment_name(1, n, SEG)).touch()
    start = segment_name(1, 2, SEG)
    got = check_archive(tmp_path, start, SEG)
    assert got["missing"] == [segment_name(1, 5, SEG)] and got["last"] == segment_name(1, 6, SEG)
    (tmp_path / segment_name(1, 5, SEG)).touch()
    assert check_archive(tmp_path, start, SEG)["missing"] == []
    (tmp_path / segment_name(2, 6, SEG)).touch()   # a later timeline needs its history file
    assert check_archive(tmp_path, start, SEG)["missing"] == ["00000002.history"]
    (tmp_path / "00000002.history").write_text("1\t0/6000000\tno recovery target specified\n")
    assert check_archive(tmp_path, start, SEG)["last"] == segment_name(2, 6, SEG)
    assert check_archive(tmp_path, segment_name(1, 1, SEG), SEG)["missing"][0] == segment_name(1, 1, SEG)
    # a segment number crossing the 4 GiB "log id" boundary
    assert segment_name(1, 256, SEG) == "000000010000000100000000"
    assert pgbackup.segment_number("000000010000000100000000", SEG) == (1, 256)


@pytest.mark.slow
def test_point_in_time_restore_never_reissues_counters(tmp_path):
    from postgres_server import PgServer, pg_bindir
    if pg_bindir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not installed: CI must have it")
        pytest.skip("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb missing)")
    arch, b_root = _postgres_dir(), _postgres_dir()
    a = PgServer(settings={"archive_mode": "on", "wal_level": "replica",
                           "archive_command": f"'test ! -f {arch}/%f && cp %p {arch}/%f'"})
    b = None
    try:
        a.start()
        url = a.create_database("pitr")
        d = tmp_path / "dd"
        with tracecode.init(d, store=url) as dd:
            first = dd.issue("cn-drug-20", DRUG, 2000).codes()
            assert dd.apply([{"id": "c1", "action": "commission",
                              "codes": [c.decode() for c in first[:100]]}])[0]["ok"]
        run = _tracecode("backup", d, tmp_path / "bk")   # the directory's store is PostgreSQL
        assert run.returncode == 0, run.stderr
        assert "base backup from WAL segment" in run.stderr and "master.key NOT included" in run.stderr
        assert (tmp_path / "bk" / "base" / "backup_label").is_file()
        time.sleep(1.1)
        point = datetime.now(UTC).isoformat()
        time.sleep(1.1)
        with tracecode.open(d) as dd:
            second = set(dd.issue("cn-drug-20", DRUG, 3000).codes())
        _archived(url)
        a.stop()   # the server is lost; DIR (keys, highwater.json) and the archive survive

        # refused: no mark (a new directory, none given), and a backup changed since
        refused = _tracecode("restore", tmp_path / "bk", tmp_path / "new", "--pgdata", b_root / "x",
                             "--wal-archive", arch, "--key", d / "master.key")
        assert refused.returncode == 1 and "no high-water mark" in refused.stderr, refused.stderr
        assert not (b_root / "x").exists() and not (tmp_path / "new").exists()
        gap = _postgres_dir()
        segs = sorted(p.name for p in arch.iterdir() if pgbackup.SEGMENT.match(p.name))
        assert len(segs) >= 3, segs
        for name in segs[:-2] + segs[-1:]:   # one segment after the backup left out
            shutil.copy(arch / name, gap / name)
        with pytest.raises(PgBackupError, match=f"misses 1 file.*first {segs[-2]}"):
            pgbackup.restore(tmp_path / "bk", d, pgdata=b_root / "x", wal_archive=gap, to_time=point)
        shutil.rmtree(gap)

        run = _tracecode("restore", tmp_path / "bk", d, "--pgdata", b_root / "pgdata",
                         "--wal-archive", arch, "--to-time", point)
        assert run.returncode == 0, run.stderr
        assert "high-water mark of 1 products" in run.stderr and "pg_ctl -D" in run.stderr
        assert highwater.read(d / highwater.NAME)["identity"] is None   # un-stamped: moved at first open
        _chown_tree(b_root / "pgdata")
        b = PgServer(root=b_root)
        b.start()
        restored = b.dsn("pitr")
        deadline = time.monotonic() + 60
        while True:   # recovery to the target, then promotion
            with psycopg.connect(restored, autocommit=True) as c:
                if not c.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    break
            assert time.monotonic() < deadline, "the restored server did not promote"
            time.sleep(0.2)
        with psycopg.connect(restored) as c:   # the restore point: the second batch is not there
            assert c.execute("SELECT count(*), sum(count) FROM tc_batches").fetchone() == (1, 2000)

        with tracecode.open(d, store=restored) as dd, pytest.warns(highwater.CountersMoved, match="1 products"):
            third = dd.issue("cn-drug-20", DRUG, 3000).codes()
            assert not set(third) & second and not set(third) & set(first)
            assert dd.verify(first[0]).verdict == Verdict.GENUINE   # commissioned before the backup
            assert dd.verify(first[500]).verdict == Verdict.NOT_COMMISSIONED
            assert dd.verify(next(iter(second))).verdict == Verdict.UNKNOWN   # lost with the rewind
            assert dd.apply([{"id": "c3", "action": "commission",
                              "codes": [c.decode() for c in third[:10]]}])[0]["ok"]
            assert dd.verify(third[0]).verdict == Verdict.GENUINE
            applied = dd.index.store.meta_get(highwater.APPLIED_KEY)
            assert applied is not None and b'"products_moved": 1' in applied
        assert highwater.read(d / highwater.NAME)["identity"] is not None   # stamped again
    finally:
        if b is not None:
            b.stop()
        a.stop()
        for p in (arch, b_root):
            shutil.rmtree(p, ignore_errors=True)


def _history(path, *switches):
    """A .history file: (parent timeline, LSN it was left at) per line, as PostgreSQL writes it."""
    path.write_text("".join(f"{tl}\t{lsn}\tno recovery target specified\n\n" for tl, lsn in switches))


def test_the_archive_check_follows_the_history_across_a_switch(tmp_path):
    for n in range(1, 6):
        (tmp_path / segment_name(1, n, SEG)).touch()
    for n in (9, 10):
        (tmp_path / segment_name(2, n, SEG)).touch()
    start = segment_name(1, 1, SEG)
    _history(tmp_path / "00000002.history", (1, "0/6000000"))   # timeline 2 begins at segment 6
    got = check_archive(tmp_path, start, SEG)
    assert got["missing"] == [segment_name(2, n, SEG) for n in (6, 7, 8)]
    _history(tmp_path / "00000002.history", (1, "0/9000000"))   # timeline 1 ran on to segment 8
    assert check_archive(tmp_path, start, SEG)["missing"] == [segment_name(1, n, SEG) for n in (6, 7, 8)]
    # left in the middle of segment 5: it is read on timeline 2 (which begins with a copy of it);
    # timeline 1's own 5 is not needed, timeline 2's is
    _history(tmp_path / "00000002.history", (1, "0/5800028"))
    (tmp_path / segment_name(1, 5, SEG)).unlink()
    assert check_archive(tmp_path, start, SEG)["missing"] == [segment_name(2, n, SEG) for n in range(5, 9)]
    for n in range(5, 9):
        (tmp_path / segment_name(2, n, SEG)).touch()
    got = check_archive(tmp_path, start, SEG)
    assert got["missing"] == [] and got["last"] == segment_name(2, 10, SEG)
    # timeline 3, from 2 at segment 10: its history names both switches; 2's file is still
    # needed (recovery probes 2, 3, ... upwards and stops at the first absent)
    (tmp_path / segment_name(3, 10, SEG)).touch()
    (tmp_path / segment_name(3, 12, SEG)).touch()
    _history(tmp_path / "00000003.history", (1, "0/5800028"), (2, "0/A000000"))
    assert check_archive(tmp_path, start, SEG)["missing"] == [segment_name(3, 11, SEG)]
    (tmp_path / segment_name(3, 11, SEG)).touch()
    assert check_archive(tmp_path, start, SEG)["last"] == segment_name(3, 12, SEG)
    os.rename(tmp_path / "00000002.history", tmp_path / "saved")
    assert check_archive(tmp_path, start, SEG)["missing"] == ["00000002.history"]
    os.rename(tmp_path / "saved", tmp_path / "00000002.history")
    # a segment on timeline 2 past its switch is of an abandoned branch: not looked at
    (tmp_path / segment_name(2, 11, SEG)).touch()
    assert check_archive(tmp_path, start, SEG)["missing"] == []
    # a history recovery cannot follow is refused, not read as "nothing missing"
    (tmp_path / "00000003.history").write_text("garbage\n")
    with pytest.raises(PgBackupError, match="00000003.history is damaged"):
        check_archive(tmp_path, start, SEG)
    _history(tmp_path / "00000003.history", (1, "0/3000000"), (2, "0/A000000"))   # 1 left before 5
    with pytest.raises(PgBackupError, match="does not descend from the backup's timeline 1"):
        check_archive(tmp_path, segment_name(1, 5, SEG), SEG)


@pytest.fixture
def backed_up(tmp_path, pg_dsn):
    """A data directory on PostgreSQL, its backup and an archive of the WAL the backup holds."""
    d, bk, arch = tmp_path / "dd", tmp_path / "x" / "bk", tmp_path / "arch"
    with tracecode.init(d, store=pg_dsn) as dd:
        dd.issue("cn-drug-20", DRUG, 10)
        dd.backup(bk)
    shutil.copytree(bk / "base" / "pg_wal", arch, ignore=shutil.ignore_patterns("archive_status", "*.history"))
    return d, bk, arch


def _rewrite_manifest(bk, **changes):
    path = bk / pgbackup.MANIFEST
    m = json.loads(path.read_text())
    m.update(changes)
    path.write_text(json.dumps(m))
    return m


def test_a_manifest_naming_files_outside_the_backup_is_refused(tmp_path, backed_up):
    d, bk, arch = backed_up
    outside = tmp_path / "escape.txt"   # bk/../../escape.txt
    outside.write_text("not of the backup")
    files = json.loads((bk / pgbackup.MANIFEST).read_text())["files"]
    new = tmp_path / "a" / "b" / "dd"
    kw = dict(pgdata=tmp_path / "pg", wal_archive=arch, high_water=[bk / highwater.NAME],
              key_file=d / "master.key")
    for name in ("../../escape.txt", str(outside), "schemes/../../../escape.txt", "./keys.json"):
        _rewrite_manifest(bk, files={**files, name: pgbackup._sha256(outside)})
        with pytest.raises(PgBackupError, match="is damaged .*file name .* not inside the backup"):
            pgbackup.restore(bk, new, **kw)
        assert not (tmp_path / "a").exists() and not (tmp_path / "pg").exists()
    (bk / "link").symlink_to(tmp_path)   # inside by name, outside through a link
    _rewrite_manifest(bk, files={**files, "link/escape.txt": pgbackup._sha256(outside)})
    with pytest.raises(PgBackupError, match="leads out of .* through a link"):
        pgbackup.restore(bk, new, **kw)
    assert not (tmp_path / "a").exists() and not (tmp_path / "pg").exists()
    (bk / "link").unlink()
    _rewrite_manifest(bk, files=files)
    (new.parent).mkdir(parents=True)
    (new).symlink_to(tmp_path / "elsewhere")   # DIR itself may be a link; a name in it may not lead out
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "schemes").symlink_to(tmp_path)
    with pytest.raises(PgBackupError, match="leads out of .* through a link"):
        pgbackup.restore(bk, new, **kw)
    (tmp_path / "elsewhere" / "schemes").unlink()
    r = pgbackup.restore(bk, new, **kw)
    assert r["products"] == 1 and (new / "schemes" / "README.txt").is_file()
    assert outside.read_text() == "not of the backup" and not (tmp_path / "a" / "escape.txt").exists()


def test_a_base_backup_not_whole_is_refused(tmp_path, backed_up):
    d, bk, arch = backed_up
    kw = dict(pgdata=tmp_path / "pg", wal_archive=arch)
    saved = tmp_path / "base.saved"
    shutil.copytree(bk / "base", saved, symlinks=True)
    (bk / "base" / "global" / "pg_control").write_bytes(b"\0" * 8192)   # same size, other bytes
    with pytest.raises(PgBackupError, match="pg_verifybackup refuses .*checksum mismatch"):
        pgbackup.restore(bk, d, **kw)
    assert not (tmp_path / "pg").exists()
    shutil.rmtree(bk / "base")
    (bk / "base").mkdir()   # an empty base: no manifest of PostgreSQL's to check it by
    with pytest.raises(PgBackupError, match="backup_manifest is missing: .* not a whole base backup"):
        pgbackup.restore(bk, d, **kw)
    assert not (tmp_path / "pg").exists()
    shutil.rmtree(bk / "base")
    shutil.copytree(saved, bk / "base", symlinks=True)
    m = json.loads((bk / pgbackup.MANIFEST).read_text())
    assert m["base_manifest"] == pgbackup._sha256(bk / "base" / "backup_manifest")
    with open(bk / "base" / "backup_manifest", "a") as f:
        f.write("\n")
    with pytest.raises(PgBackupError, match="backup_manifest changed since the backup"):
        pgbackup.restore(bk, d, **kw)
    assert not (tmp_path / "pg").exists()
    shutil.copyfile(saved / "backup_manifest", bk / "base" / "backup_manifest")
    assert pgbackup.restore(bk, d, **kw)["products"] == 1 and (tmp_path / "pg" / "recovery.signal").exists()


def test_a_target_time_before_the_backup_ended_is_refused_before_anything_is_written(tmp_path, backed_up):
    d, bk, arch = backed_up
    new = tmp_path / "new"
    kw = dict(pgdata=tmp_path / "pg", wal_archive=arch, high_water=[bk / highwater.NAME],
              key_file=d / "master.key")
    label = (bk / "base" / "backup_label").read_text()
    started = datetime.strptime(label.split("START TIME: ")[1].split("\n")[0], "%Y-%m-%d %H:%M:%S %Z")
    before_start = (started.replace(tzinfo=UTC) - timedelta(seconds=1)).isoformat()
    with pytest.raises(PgBackupError, match="is before the end of the backup"):
        pgbackup.restore(bk, new, to_time=before_start, **kw)
    assert not new.exists() and not (tmp_path / "pg").exists()
    m = json.loads((bk / pgbackup.MANIFEST).read_text())
    end = datetime.fromisoformat(m["end_time"])   # recorded after pg_basebackup returned
    with pytest.raises(PgBackupError, match="is before the end of the backup"):
        pgbackup.restore(bk, new, to_time=(end - timedelta(milliseconds=1)).isoformat(), **kw)
    assert not new.exists() and not (tmp_path / "pg").exists()
    # a backup that did not record its end: the base backup's START TIME bounds it
    _rewrite_manifest(bk, end_time=None)
    with pytest.raises(PgBackupError, match="is before the end of the backup"):
        pgbackup.restore(bk, new, to_time=before_start, **kw)
    assert not new.exists() and not (tmp_path / "pg").exists()
    _rewrite_manifest(bk, end_time=m["end_time"])
    later = (end + timedelta(seconds=1)).isoformat()
    r = pgbackup.restore(bk, new, to_time=later, **kw)
    assert r["to_time"] == pgbackup._target_time(later)
    assert f"recovery_target_time = '{r['to_time']}'" in (tmp_path / "pg" / "postgresql.auto.conf").read_text()


def test_a_restore_without_pgdata_is_a_tracecode_error(tmp_path, backed_up):
    d, bk, arch = backed_up
    from tracecode import pgbackup_cli
    from tracecode.errors import TracecodeError
    args = argparse.Namespace(backup=bk, dir=d, pgdata=None, wal_archive=arch, to_time=None,
                              high_water=None, key=None)
    with pytest.raises(TracecodeError, match="give --pgdata PATH"):
        pgbackup_cli.cmd_restore(args)
    run = _tracecode("restore", bk, d, "--wal-archive", arch)
    assert run.returncode == 1 and "give --pgdata PATH" in run.stderr, run.stderr


def test_the_target_time_is_read_as_every_time_option():
    assert pgbackup._target_time("2026-12-02T15:04:05+08:00") == "2026-12-02 07:04:05+00:00"
    with pytest.raises(PgBackupError, match="give an ISO date or time"):
        pgbackup._target_time("yesterday")


@pytest.mark.slow
def test_point_in_time_restore_of_a_lab_shard_across_a_failover(tmp_path):
    """A lab shard (Patroni, archive_command into LAB/archive/SHARD): issue, back up through
    the shard's multi-host URL, kill -9 the primary (a new timeline), note the time, issue
    more, restore to that time: recovery follows the archive across the timeline switch, and
    nothing issued after the time is handed out again."""
    from cluster_lab import running_lab, wait_healthy
    from postgres_server import PgServer
    with running_lab(1, 2) as lab:
        shard = lab.shard_names()[0]
        wait_healthy(lab, shard)
        url = lab.dsn(shard, connect_timeout=5)
        arch = Path(lab.shard(shard)["archive"])
        d = tmp_path / "dd"
        with tracecode.init(d, store=url) as dd:
            first = set(dd.issue("cn-drug-20", DRUG, 1000).codes())
            dd.backup(tmp_path / "bk")
            lab.kill_primary_postgres(shard)
            wait_healthy(lab, shard)
            with psycopg.connect(url) as c:
                assert c.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0][:8] != "00000001"
            time.sleep(1.1)
            point = datetime.now(UTC).isoformat()
            time.sleep(1.1)
            second = set(dd.issue("cn-drug-20", DRUG, 2000).codes())   # the store rode the failover
        _archived(url)
        got = check_archive(arch, pgbackup.read_manifest(tmp_path / "bk")["start_segment"], SEG)
        assert got["missing"] == [] and got["last"][:8] != "00000001", got
        b_root = _postgres_dir()
        b = PgServer(root=b_root)
        try:
            pgbackup.restore(tmp_path / "bk", d, pgdata=b_root / "pgdata", wal_archive=arch, to_time=point)
            with open(b_root / "pgdata" / "postgresql.auto.conf", "a") as f:
                f.write("archive_mode = off\n")   # the test's copy: leave the lab's archive alone
            _chown_tree(b_root / "pgdata")
            b.start()
            restored = f"postgresql://postgres:{lab.state['passwords']['postgres']}@127.0.0.1:{b.port}/postgres"
            deadline = time.monotonic() + 60
            while True:
                with psycopg.connect(restored, autocommit=True) as c:
                    if not c.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        break
                assert time.monotonic() < deadline, "the restored server did not promote"
                time.sleep(0.2)
            with tracecode.open(d, store=restored) as dd, pytest.warns(highwater.CountersMoved):
                third = set(dd.issue("cn-drug-20", DRUG, 2000).codes())
                assert not third & second and not third & first
                assert dd.index.store.stats()["batches"] == 2   # the first, and this one
        finally:
            b.stop()
            shutil.rmtree(b_root, ignore_errors=True)
