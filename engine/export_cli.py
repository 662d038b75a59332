"""`tracecode export DIR --parquet OUT [--since DATE]`: the scans, events and codes of a data
directory as Parquet for analytics (tracecode.analytics.export), incrementally."""
from __future__ import annotations

import sys

from .clitime import local_timestamp
from .errors import TracecodeError


class ExportCliError(TracecodeError):
    pass


def cmd_export(args) -> int:
    from .analytics.export import export
    from .datadir import DataDir
    since = local_timestamp(args.since, "--since", ExportCliError) if args.since else None
    dd = DataDir(args.dir)
    try:
        done = export(dd, args.parquet, since=since)
    finally:
        dd.close()
    print(f"exported {done['scans']:,} scans, {done['events']:,} events and the state of "
          f"{done['codes']:,} codes to {args.parquet} (up to scan {done['scan_seq']:,}, event "
          f"{done['event_seq']:,}; the next run writes only what is newer)"
          + (f"; {done['purged']:,} purged scans removed from the parts written before" if done["purged"] else "")
          + (f"; {done['undone']:,} lifecycle events undone by an error declaration (named in undone/)"
             if done["undone"] else ""),
          file=sys.stderr)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser("export", help="scans, events and code states as Parquet for analytics "
                              "(incremental)")
    p.add_argument("dir", help="data directory")
    p.add_argument("--parquet", required=True, metavar="OUT",
                   help="output folder: scans/, events/, undone/ (by day=YYYY-MM-DD), codes/, _export.json")
    p.add_argument("--since", metavar="DATE",
                   help="skip scans and events before this ISO date or time (later runs carry on "
                        "from where this one stopped)")
    p.set_defaults(func=cmd_export)
