"""Backup and point-in-time restore of a data directory whose index is in PostgreSQL.

    tracecode backup DIR DEST [--with-key]           (online: pg_basebackup while serving)
    tracecode restore BACKUP DIR --pgdata PATH --wal-archive WALDIR [--to-time TIME]
                      [--high-water FILE]... [--key FILE]

A backup is a directory, built under a temporary name and renamed into place once whole:

    DEST/base/              pg_basebackup -Fp -X stream: the cluster, consistent with the WAL
                            it needs, and PostgreSQL's own backup_manifest (pg_verifybackup)
    DEST/index.stamp, schemes/, settings.toml, keys.json, master*.key.wrapped
                            as `tracecode backup` of an LMDB directory (master.key only with
                            --with-key: keep the key apart)
    DEST/highwater.json     the counters' mark as of the backup (highwater.py)
    DEST/backup.json        what it holds: the index, the WAL segment and timeline the base
                            backup starts at, the segment size, when it ended (no recovery
                            target before), a SHA-256 of each DIR file and of base/backup_manifest

WAL archiving is the server's: archive_mode = on and an archive_command copying each
finished segment into a directory (the lab's Patroni sets postgresql.parameters; README).
A point-in-time restore is the base backup plus that archive replayed to a time.

A restore must never let counters handed out after the restore point be handed out again:
it needs the mark of the data directory it restores (DIR/highwater.json, or --high-water
FILE from where a copy survived; several are merged, the highest mark of each product wins)
and refuses without one. It writes the merged mark into DIR un-stamped, so the first open of
DIR against the restored database moves every counter past it (highwater.check_at_open), and
prepares PGDATA (the base backup, recovery.signal, restore_command from the archive,
recovery_target_time) for the operator to start PostgreSQL on: PostgreSQL replays the
archive, stops at the time and promotes (a new timeline)."""
from __future__ import annotations

import datetime as _dt
import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from ...errors import TracecodeError
from ...keys import MASTER_KEY_FILE, load_master_key
from .. import stamp
from ..durable import file_sha256 as _sha256, fsync_path, write_atomically
from . import highwater
from .connection import redact

MANIFEST = "backup.json"
KEYRING_FILE = "keys.json"
SETTINGS = "settings.toml"
FORMAT = 1
SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")


class PgBackupError(TracecodeError):
    """A PostgreSQL backup cannot be made, or a restore is refused (and nothing was changed)."""


def pg_tool(name: str) -> str:
    """A PostgreSQL client program: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    cands = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not cands:
        raise PgBackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return cands[-1]


def _dir_files(datadir: Path, with_key: bool) -> list[str]:
    """The data directory's files a backup carries (relative names)."""
    names = [n for n in (stamp.NAME, SETTINGS, KEYRING_FILE, highwater.NAME) if (datadir / n).is_file()]
    for p in sorted(datadir.iterdir()):
        if p.is_file() and p.name.startswith("master") and ".key" in p.name and not p.name.endswith(".tmp"):
            if p.name.endswith(".wrapped") or with_key:
                names.append(p.name)
    if (datadir / "schemes").is_dir():
        names += [str(p.relative_to(datadir)) for p in sorted((datadir / "schemes").rglob("*")) if p.is_file()]
    return names


def _empty_or_missing(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _label(base: Path) -> dict:
    """The base backup's backup_label: where its WAL starts."""
    text = (base / "backup_label").read_text()
    m = re.search(r"START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)", text)
    t = re.search(r"START TIMELINE: (\d+)", text)
    if not m or not t:
        raise PgBackupError(f"{base / 'backup_label'} does not name its start segment: not a base backup")
    return {"start_segment": m.group(1), "timeline": int(t.group(1))}


def backup(datadir: str | Path, url: str, dest: str | Path, *, with_key: bool = False) -> dict:
    """pg_basebackup of the index's cluster and the data directory's files into `dest`."""
    import psycopg
    datadir, dest = Path(datadir), Path(dest)
    if not _empty_or_missing(dest):
        raise PgBackupError(f"{dest} exists and is not empty; give a new directory for the backup")
    st = stamp.read(datadir)
    if st is None:
        raise PgBackupError(f"{datadir} has no {stamp.NAME}: not a data directory")
    try:
        with psycopg.connect(url, connect_timeout=10) as c:
            inner = c.execute("SELECT value FROM tc_meta WHERE key = 'index_uuid'").fetchone()
            archive_mode = c.execute("SHOW archive_mode").fetchone()[0]
            segsize = int(c.execute("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'").fetchone()[0])
            version = c.execute("SHOW server_version").fetchone()[0]
            where = c.execute("SELECT host(inet_server_addr()), inet_server_port()").fetchone()
    except psycopg.Error as exc:
        raise PgBackupError(f"cannot reach PostgreSQL at {redact(url)}: {' '.join(str(exc).split())}") from None
    if inner is None or bytes(inner[0]).decode() != st["index"]:
        raise PgBackupError(f"{redact(url)} is not the index {datadir / stamp.NAME} names")
    work = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.mkdir(mode=0o700, parents=True)
        run = subprocess.run([pg_tool("pg_basebackup"), "-d", _this_server(url, where),
                              "-D", str(work / "base"), "-Fp",
                              "-X", "stream", "-c", "fast", "--no-password",
                              "-l", f"tracecode backup of index {st['index']}"],
                             capture_output=True, text=True, timeout=3600)
        if run.returncode != 0:
            raise PgBackupError(f"pg_basebackup failed: {' '.join(run.stderr.split())}; no backup was made")
        ended = _dt.datetime.now(_dt.UTC)   # after pg_basebackup's end: a restore point is not earlier
        label = _label(work / "base")
        if not (work / "base" / "backup_manifest").is_file():
            raise PgBackupError(f"pg_basebackup wrote no backup_manifest in {work / 'base'}; no backup was made")
        names = _dir_files(datadir, with_key)
        for name in names:
            (work / name).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(datadir / name, work / name)
            os.chmod(work / name, 0o600)
        manifest = {
            "tracecode_backup": FORMAT, "store": "postgresql", "index": st["index"],
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "source": str(datadir.resolve()), "server": redact(url), "server_version": version,
            "archive_mode": archive_mode, "wal_segment_size": segsize, **label,
            "key_fingerprint": load_master_key(datadir).fingerprint()
            if (datadir / MASTER_KEY_FILE).exists() else None,
            "key_included": with_key and (datadir / MASTER_KEY_FILE).exists(),
            "files": {n: _sha256(work / n) for n in names},
            "end_time": ended.isoformat(), "base_manifest": _sha256(work / "base" / "backup_manifest"),
        }
        write_atomically(work / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode())
        for name in names:
            fsync_path(work / name)
        fsync_path(work)
        if dest.exists():
            dest.rmdir()
        os.rename(work, dest)
        fsync_path(dest.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    manifest["copied"] = ["base"] + sorted({n.split("/", 1)[0] for n in names})
    return manifest


def _this_server(url: str, where) -> str:
    """The URL of the one server a connection to `url` reached (a multi-host URL's primary,
    found by target_session_attrs): pg_basebackup's replication connection checks no session
    attributes, so it is pointed at that server by address."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    if where is None or where[0] is None:   # a unix socket: the URL names one server
        return url
    parts = conninfo_to_dict(url)
    parts.pop("target_session_attrs", None)
    parts.update(host=where[0], port=str(where[1]))
    parts.pop("hostaddr", None)
    return make_conninfo(**parts)


def read_manifest(backup_dir: Path) -> dict:
    path = backup_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
        manifest["index"], manifest["start_segment"]
    except FileNotFoundError:
        raise PgBackupError(f"{path} is missing: {backup_dir} is not a complete tracecode backup") from None
    except (ValueError, KeyError, TypeError):
        raise PgBackupError(f"{path} is damaged; use another backup") from None
    for name, digest in files.items():
        p = _inside(backup_dir, name, path)
        if not p.is_file() or _sha256(p) != digest:
            raise PgBackupError(f"{p} is missing or changed since the backup was made (SHA-256 "
                                f"differs); use another backup")
    return manifest


def _inside(root: Path, name, manifest: Path) -> Path:
    """root/name, refused unless `name` is a plain relative name that stays inside root (a
    damaged or forged manifest must not read or write elsewhere)."""
    parts = name.split("/") if isinstance(name, str) else None
    if (not parts or name.startswith("/") or "\\" in name or "\0" in name
            or any(part in ("", ".", "..") for part in parts)):
        raise PgBackupError(f"{manifest} is damaged (file name {name!r} is not inside the backup); "
                            f"use another backup")
    p = root / name
    if not p.resolve().is_relative_to(root.resolve()):
        raise PgBackupError(f"{manifest} is damaged (file name {name!r} leads out of {root} through "
                            f"a link); use another backup")
    return p


def is_pg_backup(backup_dir: str | Path) -> bool:
    try:
        return json.loads((Path(backup_dir) / MANIFEST).read_text()).get("store") == "postgresql"
    except (OSError, ValueError, AttributeError):
        return False


# -- the WAL archive -----------------------------------------------------------------------

def segment_number(name: str, segsize: int) -> tuple[int, int]:
    """(timeline, segment number) of a WAL file name."""
    m = SEGMENT.match(name)
    if m is None:
        raise ValueError(f"{name!r} is not a WAL segment name")
    per_id = 0x1_0000_0000 // segsize
    return int(m.group(1), 16), int(m.group(2), 16) * per_id + int(m.group(3), 16)


def segment_name(timeline: int, number: int, segsize: int) -> str:
    per_id = 0x1_0000_0000 // segsize
    return f"{timeline:08X}{number // per_id:08X}{number % per_id:08X}"


def _history(path: Path, segsize: int) -> list[tuple[int, int]]:
    """A timeline's .history file: [(parent timeline, segment its successor begins at)], the
    oldest first (each line "TLI<tab>X/Y<tab>reason": the parent was left at LSN X/Y)."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(\d+)\s+([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})(\s|$)", line)
        if m is None:
            raise PgBackupError(f"{path} is damaged (line {line!r}): recovery cannot follow the "
                                f"timeline switch; find an intact copy")
        out.append((int(m.group(1)), ((int(m.group(2), 16) << 32) | int(m.group(3), 16)) // segsize))
    if not out:
        raise PgBackupError(f"{path} is empty: recovery cannot follow the timeline switch; find an intact copy")
    return out


def check_archive(wal_dir: str | Path, start_segment: str, segsize: int) -> dict:
    """Whether the archive holds every WAL segment recovery reads from the base backup's start
    on: recovery_target_timeline = 'latest' goes to the newest timeline whose .history file
    is found probing upwards from the backup's (each one between must be there), and follows
    that history: every timeline on the way is read from where it began (the backup's from
    its start segment) up to the segment its successor begins at (that segment is read on
    the successor, which begins with a copy of it), the newest up to its last archived
    segment. Recovery stops at the first missing segment, so a gap silently shortens a
    restore: it is an error here."""
    wal_dir = Path(wal_dir)
    if not wal_dir.is_dir():
        raise PgBackupError(f"{wal_dir} is not a directory: give the WAL archive (archive_command's target)")
    tl0, first = segment_number(start_segment, segsize)
    by_tl: dict[int, set] = {}
    for p in wal_dir.iterdir():
        if SEGMENT.match(p.name):
            tl, n = segment_number(p.name, segsize)
            by_tl.setdefault(tl, set()).add(n)
    missing: list[str] = []
    newest = max([t for t in by_tl if t >= tl0], default=tl0)
    latest = tl0   # what recovery finds: the history files probed upwards, stopping at a missing one
    while (wal_dir / f"{latest + 1:08X}.history").is_file():
        latest += 1
    if latest < newest:   # segments of a later timeline that recovery would never reach
        missing.append(f"{latest + 1:08X}.history")
    # [(timeline, first segment read on it, segment its successor begins at or None)]
    path: list[tuple[int, int, int | None]] = []
    if latest == tl0:
        path.append((tl0, first, None))
    else:
        begin = 0
        for tl, switch in _history(wal_dir / f"{latest:08X}.history", segsize):
            if tl >= tl0:
                path.append((tl, first if tl == tl0 else begin, switch))
            begin = switch
        if not path or path[0][0] != tl0 or (path[0][2] is not None and path[0][2] < first):
            raise PgBackupError(f"{wal_dir / f'{latest:08X}.history'} does not descend from the "
                                f"backup's timeline {tl0}: the archive is of another branch of the "
                                f"cluster's history; use a base backup taken on it")
        path.append((latest, begin, None))
    last = None
    for tl, lo, upto in path:
        have = by_tl.get(tl, set())
        if upto is None:   # the newest: to its last archived segment (the backup's start at least)
            hi = max(have, default=lo - 1) if tl != tl0 else max(max(have, default=lo), lo)
        else:
            hi = upto - 1
        missing += [segment_name(tl, n, segsize) for n in range(lo, hi + 1) if n not in have]
        if hi >= lo:
            last = segment_name(tl, hi, segsize)
    return {"start": start_segment, "last": last, "missing": missing,
            "segments": sum(len(v) for t, v in by_tl.items() if t >= tl0)}


# -- restore -------------------------------------------------------------------------------

def _marks(backup_dir: Path, datadir: Path, sources, uuid: str) -> tuple[dict, list[str]]:
    """Every mark given (DIR's own and --high-water files) merged; each checked to be of `uuid`."""
    own = datadir / highwater.NAME
    paths = [Path(p) for p in sources] + ([own] if own.exists() else [])
    maps = []
    for p in list(paths):
        if not p.exists():
            raise PgBackupError(f"{p} does not exist; give a high-water mark of this index")
        try:
            doc = highwater.read(p)
        except highwater.HighWaterDamaged as exc:
            if p == own and sources:   # DIR's own unreadable: the copies named stand in for it
                paths.remove(p)
                continue
            raise PgBackupError(f"{p} is damaged ({exc.why}): "
                                f"give a copy of it that reads back whole with --high-water FILE"
                                + (" (DIR's own is then set aside)" if p == own else "")) from None
        if doc["index"] != uuid:
            raise PgBackupError(f"{p} is the mark of index {doc['index']}, not of the backed-up index {uuid}")
        maps.append(doc["marks"])
    return highwater.merge(*maps), [str(p) for p in paths]


def restore(backup_dir: str | Path, datadir: str | Path, *, pgdata: str | Path,
            wal_archive: str | Path, to_time: str | None = None, high_water=(),
            key_file: str | Path | None = None) -> dict:
    """Prepare PGDATA for a point-in-time recovery from the backup and the WAL archive, and DIR
    with the merged high-water mark; refused (nothing changed) without a mark, with a gap in
    the archive, a damaged backup (pg_verifybackup of base/, a file name leading out of the
    backup or DIR), a target time before the backup's end, a PGDATA in use or another index's DIR."""
    backup_dir, datadir, pgdata = Path(backup_dir), Path(datadir), Path(pgdata)
    manifest = read_manifest(backup_dir)
    uuid = manifest["index"]
    for name in manifest["files"]:   # checked against the backup in read_manifest; here against DIR
        _inside(datadir, name, backup_dir / MANIFEST)
    target = _target_time(to_time) if to_time else None
    if target is not None:
        end = _backup_end(backup_dir, manifest)
        if _dt.datetime.fromisoformat(target) < end:
            raise PgBackupError(f"--to-time {to_time!r} is before the end of the backup "
                                f"({end.isoformat(sep=' ')}): PostgreSQL cannot stop a recovery "
                                f"before the base backup is consistent; give a later time, or restore "
                                f"an older backup")
    if not _empty_or_missing(pgdata):
        raise PgBackupError(f"{pgdata} exists and is not empty; give a new directory for the "
                            f"restored PostgreSQL cluster")
    have = stamp.read(datadir) if datadir.exists() else None
    if have is not None and have["index"] != uuid:
        raise PgBackupError(f"{datadir} is index {have['index']}, the backup is of index {uuid}")
    marks, mark_sources = _marks(backup_dir, datadir, high_water, uuid)
    if not mark_sources:
        raise PgBackupError(
            f"no high-water mark of the counters: codes issued after the restore point could be "
            f"issued again; give the surviving {highwater.NAME} of "
            f"{manifest.get('source', 'the data directory')} with --high-water FILE (or "
            f"--high-water {backup_dir / highwater.NAME} if nothing was issued since the backup)")
    archive = check_archive(wal_archive, manifest["start_segment"], manifest["wal_segment_size"])
    if archive["missing"]:
        raise PgBackupError(f"the WAL archive {wal_archive} misses {len(archive['missing'])} "
                            f"file(s) after the base backup (first {archive['missing'][0]}): "
                            f"recovery would stop there; find them or restore to before the gap "
                            f"from a later base backup")
    base = backup_dir / "base"
    _verify_base(base, manifest)
    key_src = Path(key_file) if key_file else None
    if not (datadir / MASTER_KEY_FILE).exists() and not (backup_dir / (MASTER_KEY_FILE + ".wrapped")).exists():
        key_src = key_src or (backup_dir / MASTER_KEY_FILE if manifest.get("key_included") else None)
        if key_src is None:
            raise PgBackupError(f"{backup_dir} holds no master key: give the data directory's key "
                                f"with --key FILE (fingerprint {manifest['key_fingerprint']})")
    if key_src is not None:
        from ...keys import Key
        raw = key_src.read_bytes()
        if len(raw) != 32 or Key(raw).fingerprint() != manifest["key_fingerprint"]:
            raise PgBackupError(f"{key_src} is not the master key of the backup (fingerprint "
                                f"{manifest['key_fingerprint']}); its codes would not verify")

    shutil.copytree(base, pgdata, dirs_exist_ok=True)
    os.chmod(pgdata, 0o700)
    arch = str(Path(wal_archive).resolve())
    with open(pgdata / "postgresql.auto.conf", "a") as f:
        f.write("# tracecode restore: a point-in-time recovery from the WAL archive\n"
                f"restore_command = 'cp \"{arch}/%f\" \"%p\"'\n"
                "recovery_target_timeline = 'latest'\n"
                "recovery_target_action = 'promote'\n"
                # a Patroni member's copy names its standbys: alone, every commit would wait for them
                "synchronous_standby_names = ''\n"
                + (f"recovery_target_time = '{target}'\n" if target else ""))
    (pgdata / "recovery.signal").touch()
    (pgdata / "postmaster.pid").unlink(missing_ok=True)

    datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in manifest["files"]:   # the DIR files a new directory lacks; never over DIR's own
        if name == highwater.NAME or (datadir / name).exists():
            continue
        (datadir / name).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(backup_dir / name, datadir / name)
        os.chmod(datadir / name, 0o600)
    if key_src is not None and not (datadir / MASTER_KEY_FILE).exists():
        shutil.copyfile(key_src, datadir / MASTER_KEY_FILE)
        os.chmod(datadir / MASTER_KEY_FILE, 0o600)
    own = datadir / highwater.NAME
    if own.exists() and str(own) not in mark_sources:   # damaged, not used: kept for a look, not lost
        os.rename(own, datadir / f"{highwater.NAME}.damaged-{_dt.datetime.now():%Y%m%dT%H%M%S}")
    # un-stamped (identity None): the first open against the restored database moves the counters
    write_atomically(own, highwater.encode(uuid, marks, None))
    fsync_path(datadir)
    return {"index": uuid, "backup_created": manifest["created"], "pgdata": str(pgdata),
            "to_time": target, "archive": archive, "high_water": mark_sources, "products": len(marks)}


def _verify_base(base: Path, manifest: dict) -> None:
    """The base backup whole, by PostgreSQL's own manifest of it (pg_basebackup writes one;
    pg_verifybackup checks every file's size and checksum against it), and that manifest the
    one the backup was made with (its SHA-256 in backup.json, in backups that record it)."""
    pg_manifest = base / "backup_manifest"
    if not pg_manifest.is_file():
        raise PgBackupError(f"{pg_manifest} is missing: {base} is not a whole base backup; use another backup")
    if "base_manifest" in manifest and _sha256(pg_manifest) != manifest["base_manifest"]:
        raise PgBackupError(f"{pg_manifest} changed since the backup was made (SHA-256 differs); "
                            f"use another backup")
    run = subprocess.run([pg_tool("pg_verifybackup"), "-n", str(base)],
                         capture_output=True, text=True, timeout=3600)
    if run.returncode != 0:
        raise PgBackupError(f"pg_verifybackup refuses {base}: {' '.join(run.stderr.split())}; "
                            f"use another backup")


def _backup_end(backup_dir: Path, manifest: dict) -> _dt.datetime:
    """When the backup ended (backup.json's end_time); a backup made before that was recorded:
    the base backup's START TIME (backup_label), the earliest a restore could stop at."""
    if manifest.get("end_time"):
        try:
            return _dt.datetime.fromisoformat(manifest["end_time"])
        except (TypeError, ValueError):
            raise PgBackupError(f"{backup_dir / MANIFEST} is damaged (end_time); use another backup") from None
    label = backup_dir / "base" / "backup_label"
    m = re.search(r"START TIME: (\S+ \S+) (\S+)", label.read_text()) if label.is_file() else None
    if m is None:
        raise PgBackupError(f"{label} names no START TIME: {backup_dir / 'base'} is not a whole base backup")
    t = _dt.datetime.fromisoformat(m.group(1))
    if m.group(2) in ("UTC", "GMT"):
        return t.replace(tzinfo=_dt.UTC)
    return t.astimezone()   # a time zone by name: the server's, taken as this machine's


def _target_time(text: str) -> str:
    """An ISO time for recovery_target_time, with its offset (a time without one is local, as
    every time option of the CLI: clitime.py)."""
    try:
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise PgBackupError(f"--to-time {text!r}: give an ISO date or time (2026-12-01, "
                            f"2026-12-01T08:00+08:00)") from None
    if t.tzinfo is None:
        t = t.astimezone()
    return t.astimezone(_dt.UTC).isoformat(sep=" ")
