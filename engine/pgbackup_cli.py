"""`tracecode backup` and `tracecode restore` of a data directory whose index is in PostgreSQL
(store/postgres/backup.py): the same verbs as for LMDB, chosen by the directory's store (its
settings.toml or --store) and by the backup's manifest."""
from __future__ import annotations

import os
import sys
from pathlib import Path

STORE_VAR = "TRACECODE_STORE"   # cli.STORE_VAR: set by the global --store


def pg_store(datadir) -> str | None:
    """The PostgreSQL URL of DIR's index, or None (LMDB)."""
    from . import settings
    if os.environ.get(STORE_VAR):
        return os.environ[STORE_VAR]
    try:
        return settings.load(datadir).store if Path(datadir).is_dir() else None
    except settings.SettingsError:   # an LMDB backup copies a damaged settings.toml as it is
        return None


def is_pg_backup(backup_dir) -> bool:
    from .store.postgres.backup import is_pg_backup as _is
    return _is(backup_dir)


def _redact(url: str) -> str:
    from .store.postgres.connection import redact
    return redact(url)


def cmd_backup(args, url: str) -> None:
    from .store.postgres.backup import backup
    m = backup(args.dir, url, args.dest, with_key=args.with_key)
    key = ("master.key included (keep the backup as secret as the key)" if m["key_included"] else
           "the master keys wrapped by the HSM included (useless without its token)"
           if any(c.endswith(".wrapped") for c in m["files"]) else
           f"master.key NOT included: keep it apart, a restore needs it "
           f"(fingerprint {m['key_fingerprint']})")
    print(f"backed up {args.dir} to {args.dest}: index {m['index']} on {_redact(url)}, base backup "
          f"from WAL segment {m['start_segment']} (timeline {m['timeline']}); copied "
          f"{', '.join(m['copied'])}; {key}", file=sys.stderr)
    if m["archive_mode"] != "on" and m["archive_mode"] != "always":
        print(f"warning: archive_mode is {m['archive_mode']} on {_redact(url)}: without WAL archiving "
              f"this backup restores only to its own end, no later point in time", file=sys.stderr)


def cmd_restore(args) -> None:
    from .store.postgres.backup import PgBackupError, restore
    if not args.pgdata or not args.wal_archive:
        raise PgBackupError("a PostgreSQL backup restores into a new cluster: give --pgdata PATH "
                         "(a new directory) and --wal-archive DIR (archive_command's target)")
    r = restore(args.backup, args.dir, pgdata=args.pgdata, wal_archive=args.wal_archive,
                to_time=args.to_time, high_water=args.high_water or (), key_file=args.key)
    a = r["archive"]
    print(f"prepared {r['pgdata']} from the backup of {r['backup_created']} (index {r['index']}): "
          f"recovery replays {a['segments']} archived WAL segments (through {a['last'] or a['start']}, "
          f"none missing) {'to ' + r['to_time'] if r['to_time'] else 'to the end of the archive'} "
          f"and promotes; high-water mark of {r['products']:,} products merged from "
          f"{', '.join(r['high_water'])} into {Path(args.dir) / 'highwater.json'}", file=sys.stderr)
    print(f"next: start PostgreSQL on it (pg_ctl -D {r['pgdata']} start), then open {args.dir} "
          f"against it (tracecode --store URL ... or store in {Path(args.dir) / 'settings.toml'}): its "
          f"first open moves every counter past the mark, so no code handed out after the restore "
          f"point is handed out again; lifecycle events and scans after that point are not in it",
          file=sys.stderr)


def add_restore_options(s) -> None:
    """The restore parser's options of a PostgreSQL backup."""
    s.add_argument("--pgdata", metavar="PATH", help="PostgreSQL backup: a new directory for the "
                   "restored cluster (start PostgreSQL on it afterwards)")
    s.add_argument("--wal-archive", metavar="DIR", help="PostgreSQL backup: the WAL archive "
                   "(archive_command's target), checked for gaps")
    s.add_argument("--to-time", metavar="TIME", help="PostgreSQL backup: recover to this ISO time "
                   "(default: the end of the archive)")
    s.add_argument("--high-water", action="append", metavar="FILE", help="PostgreSQL backup: a "
                   "copy of DIR/highwater.json (the counters' mark; DIR's own is always used)")
