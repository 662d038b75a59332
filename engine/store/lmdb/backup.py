"""Backup and restore of a data directory's index.

    tracecode backup DIR DEST        (online: `tracecode serve` may keep running)
    tracecode restore BACKUP DIR [--journal FILE]... [--key FILE] [--pkcs11-module PATH]

A backup is a directory:

    DEST/index/data.mdb          LMDB's compacting copy, made in one read transaction:
                                 consistent while writers go on
    DEST/index.stamp             the index's identity
    DEST/reservations.journal    the journal, copied after the index (so it holds at
                                 least every reservation the copy does)
    DEST/schemes/                custom schemes (codes of them verify only with them)
    DEST/settings.toml           the directory's settings (base URL, [web]), byte for byte
    DEST/backup.json             what the backup holds, with a SHA-256 of each file
    DEST/keys.json               the cipher suite and master-key versions (no key material)
    DEST/master*.key.wrapped     master keys wrapped by an HSM's key (`tracecode key wrap`):
                                 always, as they are useless without the token
    DEST/master.key, master.vN.key   only with --with-key, the keys in clear: without them no
                                 code can be verified or issued, so they are kept apart by
                                 default (and a directory whose keys are wrapped has none)

It is built under a temporary name and renamed into place once complete, so a
backup that exists is whole.

A restore must never let counters handed out after the backup be handed out
again. The backup is a moment in the past; the journal of reservations kept
beside the live index knows what came after. A restore therefore replays
every journal it is given over the restored index (raising each product's next
counter, batch and product ids to their marks and putting back the batch
records the backup lacks) and refuses to run with only the backup's own
journal unless that journal is named explicitly (--journal BACKUP/...), which
says "nothing was issued since". The index the restore sets aside, when it can
still be read, is replayed too (every batch it committed, and its counters):
it knows what came after the backup even when its journal is lost.

Settings: a restore puts the backup's settings.toml back when the data directory has
none (a new directory, or one that lost it with its disk). One already there that
differs is kept (it is the newer word: `tracecode settings` wrote it after the backup)
and the restore says so, naming the backup's copy; the same holds for schemes/ and the
key, which a restore never overwrites either.
"""
from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import json
import os
import shutil
import time
from pathlib import Path

from ...errors import TracecodeError
from ...keys import MASTER_KEY_FILE, load_master_key
from . import journal, lineage, stamp
from .batches import Batches, u64
from .durable import file_sha256 as _sha256, fsync_path, write_atomically
from .env import DAMAGED_PAGES, StoreFailure, open_db, open_env, run_write
from .lmdbfile import check_data_file

MANIFEST = "backup.json"
KEYRING_FILE = "keys.json"   # engine/keyring.py's NAME (not imported: it imports the store)
SETTINGS = "settings.toml"   # engine/settings.py's NAME (not imported: settings imports the store)
FORMAT = 1


class BackupError(TracecodeError):
    """A backup cannot be made, or a restore is refused (and nothing was changed)."""


def _files(root: Path):
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def _empty_or_missing(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _write_failed(dest: Path, exc: BaseException) -> BackupError:
    """What a failure while writing the backup says: the backup's disk, not the index."""
    if isinstance(exc, DAMAGED_PAGES):
        return BackupError(f"the index is damaged ({exc}): nothing to back up; restore an "
                           f"earlier backup instead (nothing was written to {dest})")
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    full = (isinstance(exc, OSError) and exc.errno in _FULL) or any(
        os.strerror(e) in text for e in _FULL)
    if full:
        return BackupError(f"the disk under {dest} is full ({text}): no backup was made and the "
                           f"data directory is unchanged; free space there or back up to "
                           f"another disk")
    where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
    return BackupError(f"cannot make the backup in {dest} ({where}{text}): no backup was made "
                       f"and the data directory is unchanged")


def backup(datadir: str | Path, dest: str | Path, *, with_key: bool = False, env=None) -> dict:
    """Copy a data directory's index (consistently, while it is in use) to `dest`.

    `env`: the index's environment when this process has it open (DataDir.backup);
    LMDB refuses to open one environment twice in a process."""
    datadir, dest = Path(datadir), Path(dest)
    if not _empty_or_missing(dest):
        raise BackupError(f"{dest} exists and is not empty; give a new directory for the backup")
    st = stamp.read(datadir)
    if st is None:
        raise BackupError(f"{datadir} has no {stamp.NAME}; open it once with this tracecode "
                          f"(it adopts an older index), then back it up")
    fingerprint = _fingerprint(datadir)
    own_env = env is None
    if own_env:
        try:
            env = open_env(datadir / "index", readonly=True, create=False,
                           restore_hint="nothing to back up; restore an earlier backup instead")
        except StoreFailure as exc:
            if "already open" in str(exc):
                raise BackupError(f"{datadir} is open in this process: back it up with its "
                                  f"DataDir's backup(DEST), or close it first") from None
            raise
    work = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.mkdir(mode=0o700)   # the index is as private as the data directory
        (work / "index").mkdir(mode=0o700)
        meta = open_db(env, b"meta")
        with env.begin() as txn:
            inner = txn.get(stamp.UUID_KEY, db=meta)
            end = txn.get(lineage.JOURNAL_END, db=meta)
            if inner is None or inner.decode() != st["index"]:
                raise BackupError(f"{datadir / 'index'} is not the index {datadir / stamp.NAME} "
                                  f"names; open the data directory to see why")
            try:
                env.copy(str(work / "index"), compact=True, txn=txn)
            except StoreFailure as exc:
                raise _write_failed(dest, exc) from None
        # after the copy: the journal holds at least every reservation the copy holds
        shutil.copyfile(datadir / journal.NAME, work / journal.NAME)
        shutil.copyfile(datadir / stamp.NAME, work / stamp.NAME)
        if (datadir / "schemes").is_dir():
            shutil.copytree(datadir / "schemes", work / "schemes")
        if (datadir / SETTINGS).is_file():
            shutil.copyfile(datadir / SETTINGS, work / SETTINGS)
        for name in _key_files(datadir):
            if name.endswith(".wrapped") or name == KEYRING_FILE or with_key:
                shutil.copy2(datadir / name, work / name)
                os.chmod(work / name, 0o600)
        manifest = {
            "tracecode_backup": FORMAT, "index": st["index"],
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "source": str(datadir.resolve()), "journal_end": int.from_bytes(end or b"", "big"),
            "key_fingerprint": fingerprint,
            "key_included": with_key and (datadir / MASTER_KEY_FILE).exists(),
            "files": {str(p.relative_to(work)): _sha256(p) for p in _files(work)},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        for p in _files(work) + [work / MANIFEST]:
            os.chmod(p, 0o600)
        for p in _files(work) + [work / MANIFEST]:
            fsync_path(p)
        for d in [work, work / "index"] + ([work / "schemes"] if (work / "schemes").exists() else []):
            fsync_path(d)
        if dest.exists():
            dest.rmdir()   # empty (checked above)
        os.rename(work, dest)
        fsync_path(dest.parent)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise _write_failed(dest, exc) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if own_env:
            env.close()
    manifest["size"] = (dest / "index" / "data.mdb").stat().st_size
    manifest["copied"] = _copied(manifest["files"])
    return manifest


def _copied(files) -> list[str]:
    """What a backup holds, by name, for people: "schemes/ (2 files)" rather than each file."""
    tops: dict[str, int] = {}
    for name in sorted(files):
        top = name.split("/", 1)[0]
        tops[top] = tops.get(top, 0) + 1
    order = ["index", journal.NAME, stamp.NAME, "schemes", SETTINGS, KEYRING_FILE, MASTER_KEY_FILE]
    ranked = sorted(tops, key=lambda t: (order.index(t) if t in order else len(order), t))
    return [f"{t}/ ({tops[t]} file{'s' * (tops[t] != 1)})" if t == "schemes" else t for t in ranked]


def read_manifest(backup_dir: Path) -> dict:
    """The manifest, after checking every file it lists against its SHA-256."""
    path = backup_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
        manifest["index"]
    except FileNotFoundError:
        raise BackupError(f"{path} is missing: {backup_dir} is not a complete tracecode "
                          f"backup") from None
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{path} is damaged; use another backup") from None
    for name, digest in files.items():
        p = backup_dir / name
        if not p.is_file() or _sha256(p) != digest:
            raise BackupError(f"{p} is missing or changed since the backup was made "
                              f"(SHA-256 differs); use another backup")
    return manifest


def _journals(sources, uuid: str) -> list:
    """Every entry of the given journals, each checked to be of index `uuid`."""
    entries = []
    for src in sources:
        try:
            owner, found, _, _ = journal.read(src)
        except journal.JournalError as exc:
            raise BackupError(f"{exc}; give a journal of this index, or leave it out") from None
        if owner != uuid:
            raise BackupError(f"{src} is the journal of index {owner}, not of the backed-up "
                              f"index {uuid}")
        entries += found
    return entries


def restore(backup_dir: str | Path, datadir: str | Path, *, journals=(),
            key_file: str | Path | None = None, pkcs11_module: str | Path | None = None) -> dict:
    """Put a backup's index in place in `datadir` and replay the reservation journals.

    The data directory's own journal (if it is there) and `journals` are replayed;
    at least one journal besides the one inside the backup is required, or the
    backup's own named in `journals` (meaning: nothing was issued since the backup).
    The replaced index/ and journal are kept aside (…-before-restore-TIME), never
    deleted. Stop every process using the data directory first. A backup whose keys.json
    names an HSM module is restored only with ``pkcs11_module`` naming that module, or into
    a data directory whose keys.json names it already."""
    backup_dir, datadir = Path(backup_dir), Path(datadir)
    manifest = read_manifest(backup_dir)
    _check_keyring(backup_dir, datadir, pkcs11_module)
    uuid = manifest["index"]
    check_data_file(backup_dir / "index" / "data.mdb", "use another backup")
    own = datadir / journal.NAME
    sources = [Path(j) for j in journals] + ([own] if own.exists() else [])
    if _in_use(datadir / "index"):
        raise BackupError(f"{datadir / 'index'} is open in another process (a server, an "
                          f"issuer): stop it before restoring")
    # the index this restore sets aside knows every batch it committed: take them all
    live, live_why = _live_entries(datadir / "index", uuid)
    if live_why and "already open" in live_why:
        raise BackupError(f"{datadir} is open in this process: close it before restoring")
    if not sources and not live:
        raise BackupError(
            f"no reservation journal besides the backup's: codes issued after the backup "
            f"({manifest['created']}) could be issued again; give the surviving journal of "
            f"{manifest.get('source', 'the data directory')} with --journal FILE (or "
            f"--journal {backup_dir / journal.NAME} if nothing was issued since the backup)"
            + (f"; the index in {datadir} could not be read ({live_why})" if live_why else ""))
    fresh = _empty_or_missing(datadir)
    if not fresh:
        have = stamp.read(datadir)
        if have is not None and have["index"] != uuid:
            raise BackupError(f"{datadir} is index {have['index']}, the backup is of index "
                              f"{uuid}; restore it into its own data directory or a new one")
    key_src = Path(key_file) if key_file else None
    wrapped = (backup_dir / (MASTER_KEY_FILE + ".wrapped")).is_file()   # the HSM holds the key
    from_hsm = wrapped and key_src is None and not (datadir / MASTER_KEY_FILE).exists()
    if from_hsm:
        if _fingerprint(backup_dir) != manifest["key_fingerprint"]:
            raise BackupError(f"{backup_dir / KEYRING_FILE} does not name the backup's key "
                              f"(fingerprint {manifest['key_fingerprint']}); use another backup")
    elif key_src is None and not (datadir / MASTER_KEY_FILE).exists():
        if not manifest.get("key_included"):
            raise BackupError(f"{backup_dir} holds no master key: give the data directory's "
                              f"key with --key FILE (fingerprint {manifest['key_fingerprint']})")
        key_src = backup_dir / MASTER_KEY_FILE
    if key_src is not None:
        _check_key(key_src, manifest["key_fingerprint"])
    elif not from_hsm and _fingerprint(datadir) != manifest["key_fingerprint"]:
        raise BackupError(f"{datadir / MASTER_KEY_FILE} is not the key of the backup "
                          f"(fingerprint {manifest['key_fingerprint']}); its codes would not verify")
    entries = _merge(_journals([backup_dir / journal.NAME] + sources, uuid) + live)

    datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
    stage = datadir / "index.restoring"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(mode=0o700)
    shutil.copyfile(backup_dir / "index" / "data.mdb", stage / "data.mdb")
    jstage = datadir / (journal.NAME + ".restoring")
    end = journal.create(jstage, uuid, entries)
    env = open_env(stage, create=False)
    try:
        batches = Batches(env)

        def body(txn):
            n = lineage.replay(txn, batches, entries)
            txn.put(lineage.JOURNAL_END, u64(end), db=batches.meta)
            return n
        put_back = run_write(env, body)
    finally:
        env.close()
    (stage / "lock.mdb").unlink(missing_ok=True)
    fsync_path(stage / "data.mdb")

    when = time.strftime("%Y%m%dT%H%M%S")
    if (datadir / "index").exists():
        os.rename(datadir / "index", _aside(datadir / f"index-before-restore-{when}"))
    if own.exists():
        os.rename(own, _aside(datadir / f"{journal.NAME}-before-restore-{when}"))
    os.rename(stage, datadir / "index")
    os.rename(jstage, own)
    if key_src is not None and not (datadir / MASTER_KEY_FILE).exists():
        shutil.copyfile(key_src, datadir / MASTER_KEY_FILE)
        os.chmod(datadir / MASTER_KEY_FILE, 0o600)
    for name in _key_files(backup_dir):   # keys.json, wrapped keys, other versions: never over ours
        if name != MASTER_KEY_FILE and not (datadir / name).exists():
            shutil.copyfile(backup_dir / name, datadir / name)
            os.chmod(datadir / name, 0o600)
    if (backup_dir / "schemes").is_dir() and not (datadir / "schemes").exists():
        shutil.copytree(backup_dir / "schemes", datadir / "schemes")
    settings = _put_back_settings(backup_dir, datadir)
    old = stamp.read(backup_dir)
    stamp.write(datadir, uuid, old.get("format", ""), old.get("created"))
    fsync_path(datadir)
    return {"index": uuid, "backup_created": manifest["created"], "journal_entries": len(entries),
            "batches_put_back": put_back, "journals": [str(s) for s in sources],
            "replaced_index_entries": len(live), "settings": settings}


def _put_back_settings(backup_dir: Path, datadir: Path) -> str | None:
    """The backup's settings.toml into `datadir` unless one is there: "restored", "same"
    (already there as in the backup), "kept" (a different one left in place), None (the
    backup has none)."""
    src, dst = backup_dir / SETTINGS, datadir / SETTINGS
    if not src.is_file():
        return None
    theirs = src.read_bytes()
    try:
        ours = dst.read_bytes()
    except FileNotFoundError:
        write_atomically(dst, theirs)
        return "restored"
    return "same" if ours == theirs else "kept"


def _aside(path: Path) -> Path:
    """`path`, or `path.N` if a restore in the same second set one aside already."""
    n, free = 1, path
    while free.exists():
        free, n = path.with_name(f"{path.name}.{n}"), n + 1
    return free


def _live_entries(index_dir: Path, uuid: str) -> tuple[list, str | None]:
    """The index a restore replaces, as journal entries: its batches (records and all) if
    it is of index `uuid`, else only its marks; ([], why) if it is missing or unreadable
    (a damaged index is why one restores: then the journals must do)."""
    if not (index_dir / "data.mdb").exists():
        return [], None
    try:
        check_data_file(index_dir / "data.mdb", "")
        env = open_env(index_dir, readonly=True, create=False)
    except (TracecodeError, StoreFailure) as exc:
        return [], str(exc).rstrip("; ")
    try:
        batches = Batches(env)
        with env.begin() as txn:
            inner = txn.get(stamp.UUID_KEY, db=batches.meta)
            if inner is not None and inner.decode() == uuid:
                return lineage.entries_of(txn, batches), None
            return lineage.snapshot(txn, batches), None
    except (StoreFailure, ValueError, KeyError, TypeError) as exc:
        return [], f"damaged: {exc}"
    finally:
        env.close()


def _merge(entries) -> list:
    """The entries once each, in order; an entry is committed if any copy says so (the
    backup's copy of the journal may predate a marker the live one has)."""
    seen: dict = {}
    for e in entries:
        key = (e.counter_key, e.end, e.batch, e.product_id,
               json.dumps(e.record, sort_keys=True, ensure_ascii=False))
        have = seen.get(key)
        if have is None or (e.committed and not have.committed):
            seen[key] = e
    return list(seen.values())


def _in_use(index_dir: Path) -> bool:
    """Whether a process has the environment open: LMDB holds a shared lock on byte 0
    of lock.mdb in each (mdb_env_excl_lock), so an exclusive one is refused. Only with
    the environment closed in this process (closing the fd drops this process's locks)."""
    try:
        fd = os.open(index_dir / "lock.mdb", os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _key_files(directory: Path) -> list[str]:
    """keys.json and the master-key files (clear or wrapped) of a directory, by name."""
    names = [p.name for p in directory.iterdir() if p.is_file()
             and (p.name == KEYRING_FILE or (p.name.startswith("master") and ".key" in p.name))]
    return sorted(n for n in names if not n.endswith(".tmp"))


def _hsm_module(ring_path: Path) -> str | None:
    try:
        return (json.loads(ring_path.read_text()).get("hsm") or {}).get("module")
    except (OSError, ValueError, AttributeError):
        return None


def _check_keyring(backup_dir: Path, datadir: Path, pkcs11_module) -> None:
    """A backup's keys.json is data from elsewhere, not trusted: its key files must be the
    plain names tracecode gives (no path out of DIR), and an HSM module it names (a library
    loaded into this process later) must be one the operator named or the directory's own."""
    from ...keyring import key_file   # not at the top: keyring imports the store
    path = backup_dir / KEYRING_FILE
    if not path.is_file():
        return
    try:
        doc = json.loads(path.read_text())
        files = {int(v["version"]): v["file"] for v in doc["versions"]}
        hsm = doc.get("hsm")
        module = hsm.get("module") if hsm else None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BackupError(f"{path} is damaged (not the JSON tracecode wrote); use another backup") from None
    for v, name in files.items():
        if name not in (key_file(v), key_file(v) + ".wrapped"):
            raise BackupError(f"{path} names {name!r} as the file of master-key version {v}, not "
                              f"{key_file(v)!r} (or its .wrapped form): refusing a tampered backup")
    if hsm and not isinstance(module, str):
        raise BackupError(f"{path} names an HSM without a module path: use another backup")
    if module is None:
        return
    named = os.path.abspath(pkcs11_module) if pkcs11_module else None
    if module not in (named, _hsm_module(datadir / KEYRING_FILE)):
        raise BackupError(f"{path} names the PKCS#11 module {module}, which tracecode would load: "
                          f"name the same module with --pkcs11-module PATH to restore this backup"
                          + (f" (you named {named})" if named else ""))


def _fingerprint(datadir: Path) -> str:
    """Version 1's fingerprint, as backups have always named it: of master.key's bytes, or
    (its key wrapped in an HSM) the one keys.json recorded when it was wrapped."""
    if (datadir / MASTER_KEY_FILE).exists() or not (datadir / KEYRING_FILE).exists():
        return load_master_key(datadir).fingerprint()
    try:
        ring = json.loads((datadir / KEYRING_FILE).read_text())
        return next(v["backup_fingerprint"] for v in ring["versions"] if v["version"] == 1)
    except (ValueError, KeyError, TypeError, StopIteration):
        raise BackupError(f"{datadir / KEYRING_FILE} names no fingerprint for master-key "
                          f"version 1; restore it from a backup") from None


def _check_key(path: Path, fingerprint: str) -> None:
    from ...keys import Key
    raw = path.read_bytes()
    if len(raw) != 32 or Key(raw).fingerprint() != fingerprint:
        raise BackupError(f"{path} is not the master key of the backup (fingerprint "
                          f"{fingerprint}); its codes would not verify")
