"""`tracecode privacy purge DIR --scanner ID`: a scanner's scans removed from the scan log
(PIPL: an operator erases a person's data on request); `--before DATE`: every scan recorded
before a date (a retention period). The per-code summaries they were in are mended, the
purge audited (tracecode.app.privacy)."""
from __future__ import annotations

import datetime as _dt
import sys

from .clitime import local_timestamp
from .errors import TracecodeError


class PrivacyCliError(TracecodeError):
    pass


def _cutoff(text: str) -> float:
    return local_timestamp(text, "--before", PrivacyCliError)


def cmd_purge(args) -> int:
    from .app.privacy import purge_before, purge_scanner
    from .app.service import Service
    from .datadir import DataDir
    if (args.scanner is None) == (args.before is None):
        raise PrivacyCliError("give --scanner ID or --before DATE (one of them)")
    cutoff = _cutoff(args.before) if args.before is not None else None
    what = (f"scans of scanner {args.scanner!r}" if cutoff is None
            else f"scans recorded before {_dt.datetime.fromtimestamp(cutoff).astimezone().isoformat()}")
    dd = DataDir(args.dir)
    svc = Service(dd)
    try:
        done = (purge_scanner(svc, args.scanner, dry_run=args.dry_run) if cutoff is None
                else purge_before(svc, cutoff, dry_run=args.dry_run))
    finally:
        svc.close()
        dd.close()
    if args.dry_run:
        print(f"{done['scans']:,} {what} would be removed, in the scan summaries of {done['codes']:,} "
              f"codes (nothing changed)", file=sys.stderr)
    else:
        print(f"removed {done['scans']:,} {what} from the scan log and mended the scan summaries of "
              f"{done['codes']:,} codes; audited in {args.dir}/audit.log"
              + (" (the scanner by a keyed pseudonym)" if cutoff is None else ""), file=sys.stderr)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser("privacy", help="personal information: purge a scanner's scans, or scans past retention",
                              description="Personal information in a data directory (PIPL).")
    sub = p.add_subparsers(dest="privacy_command", metavar="purge", required=True)
    s = sub.add_parser("purge", help="remove a scanner's scans (or those before a date) from the scan log "
                                     "and the per-code summaries")
    s.add_argument("dir", help="data directory")
    s.add_argument("--scanner", metavar="ID", help="the scanner identity, as scans recorded it")
    s.add_argument("--before", metavar="DATE", help="every scan recorded before this date or time (ISO), "
                                                  "the public window's queries too: a retention period")
    s.add_argument("--dry-run", action="store_true", help="count what would be removed, change nothing")
    s.set_defaults(func=cmd_purge)
