"""`tracecode audit verify DIR` and `tracecode audit show DIR`: the audit log's chain checked,
its records read. Verify exits 0 when the chain is whole and its end signed, 1 when a record
is broken (the first one named), 3 when it is whole but records after the last checkpoint are
not signed yet (a server still writing, a process killed, or a log cut there)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .clitime import local_timestamp
from .errors import TracecodeError

LOG = "audit.log"


class AuditCliError(TracecodeError):
    pass


def _log_path(args) -> Path:
    path = Path(args.log) if args.log else Path(args.dir) / LOG
    if not path.exists():
        raise AuditCliError(f"no audit log at {path}")
    return path


def _head(text: str | None):
    if text is None:
        return None
    seq, _, digest = text.partition(":")
    if not (seq.isascii() and seq.isdigit()) or len(digest) not in (64,) \
            or any(c not in "0123456789abcdef" for c in digest):
        raise AuditCliError(f"--head {text!r}: give SEQ:HASH as verify printed it")
    return int(seq), digest


def cmd_verify(args) -> int:
    from .app.auditchain import KEY_FILE, PUBLIC_FILE, load_keys, public_key
    from .app.auditverify import verify
    path = _log_path(args)
    keydir = path.parent if args.log else Path(args.dir)
    keys = public = None
    if args.public_key:
        public = public_key(args.public_key)
    elif (keydir / KEY_FILE).exists() and not args.no_mac:
        keys = load_keys(keydir, create=False)
    elif (keydir / PUBLIC_FILE).exists():
        public = public_key(keydir / PUBLIC_FILE)
    rep = verify(path, public=public, keys=keys, head=_head(args.head))
    out = sys.stdout
    if rep.start_line:
        counted = "whole before the first broken one" if rep.broken else "chained"
        print(f"{path}: {rep.records:,} records {counted} ({rep.checkpoints:,} signed checkpoints), "
              f"{rep.chain} chain from line {rep.start_line}; "
              + ("MACs checked with the audit key" if rep.macs_checked
                 else "MACs not checked (no audit key): signatures only"), file=out)
    if rep.before and rep.start_line:
        print(f"the chain starts at line {rep.start_line}: the {rep.before:,} lines before it were written "
              f"before the audit chain (bound as a whole by its first record's gap hash)", file=out)
    for note in rep.notes:
        print(note, file=out)
    if rep.broken:
        b = rep.broken
        print(f"BROKEN at line {b.line} (byte {b.offset:,}): {b.what}", file=out)
        return 1
    if rep.last_checkpoint:
        line, seq, digest = rep.last_checkpoint
        print(f"last checkpoint: line {line}, seq {seq}; keep `--head {seq}:{digest}` elsewhere to "
              f"prove later the log was not cut before it", file=out)
    if rep.torn_tail:
        line, offset, n = rep.torn_tail
        print(f"a torn write at the end (line {line}, byte {offset:,}, {n:,} bytes): the next record "
              f"will name it", file=out)
    if rep.unsealed:
        print(f"not sealed: {rep.unsealed:,} records after the last checkpoint are not signed yet "
              + ("(their MACs hold)" if rep.macs_checked else "(anyone with write access could have "
                                                              "written them)"), file=out)
    if rep.status == 0:
        print("OK: the chain is whole and its end is signed", file=out)
    return rep.status


def _since(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    return local_timestamp(text, "--since", AuditCliError, also=" or a Unix time")


def cmd_show(args) -> int:
    from .app.audit import read
    from .app.auditchain import address_of
    path = _log_path(args)
    since = _since(args.since) if args.since else None
    events = set(args.event or ())
    records = read(path, checkpoints=args.checkpoints)
    peers = None
    if args.address:   # an anonymous caller's records carry a pseudonym only: the audit key makes it
        from .app.auditchain import load_keys, pseudonym
        keys = load_keys(path.parent if args.log else Path(args.dir), create=False)
        peers = {pseudonym(keys, args.address), args.address}
    for rec in records:
        if peers is not None and rec.get("peer") not in peers and \
                address_of(str(rec.get("peer") or "")) != args.address:
            continue
        if since is not None and not (isinstance(rec.get("time"), (int, float)) and rec["time"] >= since):
            continue
        if events and rec.get("event") not in events:
            continue
        if not args.raw:
            rec = {k: v for k, v in rec.items() if k not in ("prev", "mac", "sig", "gap", "chain")}
        print(json.dumps(rec, ensure_ascii=False))
    for d in records.damaged:
        print(f"tracecode audit show: line {d.line} is no whole record"
              f"{' (a torn write at the end)' if d.tail else ''}: {d.text!r}", file=sys.stderr)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser("audit", help="check the audit log's chain and signatures, or read it",
                              description="The audit log (DIR/audit.log): every issuance, recall, key "
                                          "operation and refusal, hash-chained and signed.")
    sub = p.add_subparsers(dest="audit_command", metavar="verify|show", required=True)
    s = sub.add_parser("verify", help="check every record's chain link, MAC and checkpoint signature; "
                                      "exit 1 naming the first broken record, 3 if the end is not signed yet")
    s.add_argument("dir", help="data directory")
    s.add_argument("--log", metavar="PATH", help="the audit log elsewhere (serve --audit-log); its keys beside it")
    s.add_argument("--public-key", metavar="HEX|FILE",
                   help="check signatures with this public key only (an auditor without the audit key)")
    s.add_argument("--no-mac", action="store_true", help="do not read the audit key: signatures only")
    s.add_argument("--head", metavar="SEQ:HASH",
                   help="a checkpoint printed by an earlier verify: it must still be in the log")
    s.set_defaults(func=cmd_verify)
    s = sub.add_parser("show", help="print the audit records (JSON lines)")
    s.add_argument("dir", help="data directory")
    s.add_argument("--log", metavar="PATH", help="the audit log elsewhere")
    s.add_argument("--since", metavar="TIME", help="records from this time on (ISO date or time, Unix time)")
    s.add_argument("--event", action="append", metavar="E", help="only this event (repeat for several)")
    s.add_argument("--address", metavar="IP", help="only the records of this caller's address (anonymous "
                                                   "callers' are kept as a keyed pseudonym of it)")
    s.add_argument("--checkpoints", action="store_true", help="the signed checkpoints too")
    s.add_argument("--raw", action="store_true", help="the chain fields too (prev, mac, sig, gap)")
    s.set_defaults(func=cmd_show)
