"""`tracecode key`: a data directory's master-key versions.

    tracecode key list DIR                          versions: state, created, fingerprint, batches
    tracecode key rotate DIR                        a new version; new batches use it
    tracecode key retire DIR VERSION --codes warn|refuse
                                                    a compromised version: never used again, its
                                                    codes verify with a warning or are refused

Rotation and retirement are audited in DIR/audit.log (fingerprints only, never a key).
A server picks a rotation up at its next issuance and a retirement at its next scan of the
version's codes (keys.json is re-read when it changes).
"""
from __future__ import annotations

import sys
from collections import Counter


def add_parser(subparsers):
    p = subparsers.add_parser("key", help="master-key versions: list, rotate, retire")
    sub = p.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    s = sub.add_parser("list", help="the master-key versions")
    s.add_argument("dir")
    s.set_defaults(func=cmd_list)
    s = sub.add_parser("rotate", help="start a new master-key version; new batches use it")
    s.add_argument("dir")
    s.set_defaults(func=cmd_rotate)
    s = sub.add_parser("retire", help="retire a (compromised) version: its unissued counters are "
                                      "never used, its codes verify with a warning or are refused")
    s.add_argument("dir")
    s.add_argument("version", type=int)
    s.add_argument("--codes", choices=("warn", "refuse"), required=True,
                   help="warn: its codes verify SUSPICIOUS with the reason; refuse: they do not verify")
    s.set_defaults(func=cmd_retire)


def _audit(dd, event: str, **detail) -> None:
    """One audit record in DIR/audit.log, chained like the server's (part of the same log)."""
    from .app.audit import AuditLog
    from .app.auditchain import chain_hash
    log = AuditLog(dd.path / "audit.log", chain=chain_hash(dd.path))
    try:
        log.write(event, "local", f"key {event.removeprefix('key_')}", **detail)
    finally:
        log.close()


def _open(path):
    from .datadir import DataDir
    return DataDir(path)


def cmd_list(args):
    dd = _open(args.dir)
    try:
        ring = dd.keyring
        per = Counter(b.key_version for b in dd.index.batches.list())
        print(f"cipher suite {ring.suite.name}; current version {ring.current}")
        print(f"{'version':>7}  {'state':<16} {'created':<25} {'fingerprint':<11} batches")
        for v in sorted(ring.versions):
            info = ring.versions[v]
            state = info.state + (" *current" if v == ring.current else "")
            print(f"{v:>7}  {state:<16} {info.created or '(before versions)':<25} "
                  f"{info.fingerprint or ring.key(v).fingerprint():<11} {per.get(v, 0):,}")
    finally:
        dd.close()


def cmd_rotate(args):
    dd = _open(args.dir)
    try:
        old = dd.keyring.current
        info = dd.keyring.rotate()
        _audit(dd, "key_rotate", version=info.version, previous=old, fingerprint=info.fingerprint)
        print(f"master-key version {info.version} (fingerprint {info.fingerprint}) is current; "
              f"new batches use it, codes of versions 1..{info.version - 1} keep verifying",
              file=sys.stderr)
    finally:
        dd.close()


def cmd_retire(args):
    dd = _open(args.dir)
    try:
        retired, fresh = dd.keyring.retire(args.version, args.codes)
        if fresh is not None:
            _audit(dd, "key_rotate", version=fresh.version, previous=retired.version,
                   fingerprint=fresh.fingerprint)
        _audit(dd, "key_retire", version=retired.version, codes=args.codes,
               fingerprint=retired.fingerprint)
        what = "verify SUSPICIOUS (key retired)" if args.codes == "warn" else "are refused"
        print(f"master-key version {retired.version} is retired: its codes {what}"
              + (f"; version {fresh.version} is current now" if fresh else ""), file=sys.stderr)
    finally:
        dd.close()
