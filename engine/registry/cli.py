"""`tracecode registry`: import registries and national code data, show an approval.

    tracecode registry import DIR FILE [--kind vet|pesticide|...] [--format csv|json] [--strict]
    tracecode registry import DIR FILE --codes [--format csv|json] [--allow-unknown-approval] [--strict]
    tracecode registry show DIR NUMBER [--date YYYY-MM-DD]
    tracecode registry show --server HOST:PORT NUMBER [--date YYYY-MM-DD] (token, TLS as verify)

and the registry checks `tracecode verify` prints for veterinary and pesticide
scans once a registry is imported (verify_with_registry; print_answers for
`tracecode verify --server` too).
"""
from __future__ import annotations

import datetime as _dt
import sys

from .. import categories
from ..datadir import DataDir
from ..errors import ImportRefused
from ..v1 import cli as remote
from .compare import NOTHING
from .records import LEVEL_NAMES


def add_parser(subparsers):
    p = subparsers.add_parser("registry", help="product registries: import approvals and "
                                               "national code data, show an approval")
    sub = p.add_subparsers(dest="registry_command", required=True, metavar="ACTION")

    s = sub.add_parser("import", help="import a registry file (or --codes: national code data) "
                                      "and print the report")
    s.add_argument("dir")
    s.add_argument("file", help="CSV or JSON (Lines) file, or - for stdin")
    s.add_argument("--kind", choices=[c.registry.kind for c in categories.with_registry()],
                   help="refuse rows of the other kind (default: each row's number decides)")
    s.add_argument("--format", choices=("csv", "json"),
                   help="default: from the extension (.json/.jsonl/.ndjson: json), else csv")
    s.add_argument("--codes", action="store_true",
                   help="the file is national code data (code, approval number, lot, dates, "
                        "packaging level, parent code)")
    s.add_argument("--allow-unknown-approval", action="store_true",
                   help="--codes: import rows whose approval is not in the registry (flagged)")
    s.add_argument("--strict", action="store_true",
                   help="import nothing if any row is rejected")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("show", help="an approval or registration: record, validity, products "
                                    "(exit 1 if it is not valid)")
    s.add_argument("dir", nargs="?", help="data directory; or --server")
    s.add_argument("number", nargs="?", help="e.g. 兽药字(2015)010012345 or PD20092927, any spelling")
    s.add_argument("--date", type=_dt.date.fromisoformat, help="validity on this date (default today)")
    remote.add_server_options(s)
    s.set_defaults(func=cmd_show)


def cmd_import(args):
    if args.codes and args.kind:
        raise ValueError("--kind applies to registry files; code data is typed by each code's "
                         "length")
    if args.allow_unknown_approval and not args.codes:
        raise ValueError("--allow-unknown-approval applies to --codes imports")
    source = sys.stdin if args.file == "-" else args.file
    fmt = args.format or ("csv" if args.file == "-" else None)
    with DataDir(args.dir) as dd:
        registry = _registry(dd, "import into it")
        try:
            if args.codes:
                report = registry.import_codes_file(source, fmt=fmt, strict=args.strict,
                                                       allow_unknown=args.allow_unknown_approval)
            else:
                report = registry.import_file(source, kind=args.kind, fmt=fmt,
                                                 strict=args.strict)
        except ImportRefused as exc:
            for line in exc.report.lines():
                print(line)
            print(f"tracecode registry import: {exc}", file=sys.stderr)
            return 1
    for line in report.lines():
        print(line)
    if not report.ok:  # the report is on stdout; stderr says in one line that it is not clean
        print(f"tracecode registry import: {report.source}: {len(report.rejected):,} rows "
              f"rejected (REJECTED lines in the report), the others imported", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_show(args):
    """One code path, two back ends: the server's LookupApproval or the same verb of the
    data directory's LocalClient (tracecode.cli._backend)."""
    from ..cli import _backend
    if args.server:
        numbers = remote.positionals(args, "number")
        if len(numbers) != 1:
            raise remote.RemoteUsageError("give one NUMBER")
        number = numbers[0]
    elif args.dir is None or args.number is None:
        raise ValueError("give DIR and NUMBER, or --server HOST:PORT and NUMBER")
    else:
        number = args.number
    with _backend(args) as c:
        return show(c.lookup_approval(number, args.date))


def _registry(dd, what: str):
    """The directory's registry, or one clear error: a read-only directory where no
    registry was ever imported has none (and none can be made there)."""
    from ..index import IndexReadOnly
    registry = dd.registry
    if registry is None:
        raise IndexReadOnly(f"{dd.path} is read-only and holds no registry: cannot {what} "
                            "(import a registry where the directory is writable)")
    return registry


def show(info) -> int:
    """Print an ApprovalInfo (manual entry of a number); 0 if valid, else 1."""
    rec = info.record
    kind = categories.of_registry(rec.kind).registry.title
    print(f"{rec.number}  {kind}  {'VALID' if info.valid else 'NOT VALID'} on {info.on}: "
          f"{info.validity}")
    holder = f" (enterprise {rec.enterprise_id})" if rec.enterprise_id else ""
    print(f"company: {rec.company}{holder}")
    if rec.spec_codes:
        print(f"spec codes: {', '.join(rec.spec_codes)} (label code prefix {rec.code_prefix})")
    elif rec.code_prefix:
        print(f"label code prefix: {rec.code_prefix}")
    for p in info.products:
        print("product: " + ", ".join(x for x in (p.name, p.dosage_form, p.specification) if x))
    print(f"status: {rec.status}" + (f" since {rec.status_since}" if rec.status_since else "")
          + f"; valid until {rec.valid_until}; from {rec.source}")
    return 0 if info.valid else 1


def answer_line(a) -> str:
    """One line per registry answer, after the index's format: verdict, scheme, code,
    key=value details, failed and unchecked checks with their reasons."""
    ia = a.index
    parts = [a.verdict, ia.scheme or "-", a.code or "-"]
    if ia.batch:
        parts.append(f"batch={ia.batch}")
    for name in ("lot", "expiry"):
        if getattr(ia, name):
            parts.append(f"{name}={getattr(ia, name)}")
    parts.append(f"scans={ia.scan_count}")
    if a.approval is not None:
        parts.append(f"approval={a.approval.number}")
    if a.level:
        parts.append(f"level={LEVEL_NAMES.get(a.level, a.level)}")
    if a.failed:
        parts.append("failed=" + ",".join(a.failed))
    if a.unchecked:
        parts.append("unchecked=" + ",".join(a.unchecked))
    why = [f"{c.name}: {c.detail}" for c in a.checks if c.ok is not True and c.detail != NOTHING]
    if why:
        parts.append("(" + "; ".join(why) + ")")
    return " ".join(parts)


def verify_with_registry(registry, scans, opts, index_line) -> int:
    """`tracecode verify` with a registry: registry answers for veterinary and pesticide
    scans, the index's line (index_line) for others. Exit 1 if any is not genuine."""
    if scans:
        answers = [registry.check(s, **opts) for s in scans]
    else:
        lines = [line for line in sys.stdin.buffer.read().split(b"\n") if line.strip()]
        answers = registry.check_many(lines, **opts)
    return print_answers(answers, index_line)


def print_answers(answers, index_line) -> int:
    """One line per RegistryAnswer (index_line for scans the registry does not cover);
    1 if any is not genuine, else 0."""
    bad = 0
    for a in answers:
        if a.verdict == "NOT_COVERED":
            print(index_line(a.index))
            bad += a.index.verdict.name != "GENUINE"
        else:
            print(answer_line(a))
            bad += not a.genuine
    return 1 if bad else 0
