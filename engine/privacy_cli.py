"""`tracecode privacy purge DIR --scanner ID`: a scanner's scans removed from the scan log
(PIPL: an operator erases a person's data on request), the per-code summaries they were in
mended, the purge audited (tracecode.app.privacy)."""
from __future__ import annotations

import sys


def cmd_purge(args) -> int:
    from .app.privacy import purge_scanner
    from .app.service import Service
    from .datadir import DataDir
    dd = DataDir(args.dir)
    svc = Service(dd)
    try:
        done = purge_scanner(svc, args.scanner, dry_run=args.dry_run)
    finally:
        svc.close()
        dd.close()
    if args.dry_run:
        print(f"{done['scans']:,} scans of scanner {args.scanner!r} would be removed, in the scan summaries "
              f"of {done['codes']:,} codes (nothing changed)", file=sys.stderr)
    else:
        print(f"removed {done['scans']:,} scans of scanner {args.scanner!r} from the scan log and mended the "
              f"scan summaries of {done['codes']:,} codes; audited in {args.dir}/audit.log (the scanner by a "
              f"keyed pseudonym)", file=sys.stderr)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser("privacy", help="personal information: purge a scanner's scans",
                              description="Personal information in a data directory (PIPL).")
    sub = p.add_subparsers(dest="privacy_command", metavar="purge", required=True)
    s = sub.add_parser("purge", help="remove a scanner's scans from the scan log and the per-code summaries")
    s.add_argument("dir", help="data directory")
    s.add_argument("--scanner", required=True, metavar="ID", help="the scanner identity, as scans recorded it")
    s.add_argument("--dry-run", action="store_true", help="count what would be removed, change nothing")
    s.set_defaults(func=cmd_purge)
