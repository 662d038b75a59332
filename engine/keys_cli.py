"""`tracecode key`: a data directory's master-key versions.

    tracecode key list DIR                          versions: state, created, fingerprint, batches
    tracecode key rotate DIR                        a new version; new batches use it
    tracecode key retire DIR VERSION --codes warn|refuse
                                                    a compromised version: never used again, its
                                                    codes verify with a warning or are refused
    tracecode key wrap DIR --pkcs11-module PATH --token LABEL --key-label L
                           [--pin-env VAR | --pin-file FILE] [--create-key]
                                                    keep the master keys wrapped by a key in an
                                                    HSM (PKCS#11); the clear files are removed

Rotation and retirement are audited in DIR/audit.log (fingerprints only, never a key).
A server picks a rotation up at its next issuance and a retirement at its next scan of the
version's codes (keys.json is re-read when it changes).
"""
from __future__ import annotations

import os
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
    s = sub.add_parser("wrap", help="keep the master keys wrapped by an AES key held in a PKCS#11 "
                                    "token (an HSM); the PIN comes from an environment variable or a file")
    s.add_argument("dir")
    s.add_argument("--pkcs11-module", required=True, metavar="PATH",
                   help="the token's PKCS#11 library (softhsm2: /usr/lib/softhsm/libsofthsm2.so)")
    s.add_argument("--token", required=True, metavar="LABEL", help="the token's label")
    s.add_argument("--key-label", required=True, metavar="L", help="the label of the AES key in the token")
    pin = s.add_mutually_exclusive_group()
    pin.add_argument("--pin-env", metavar="VAR", default=None,
                     help="the environment variable holding the PIN (default TRACECODE_HSM_PIN)")
    pin.add_argument("--pin-file", metavar="FILE", help="a file (mode 0600) whose first line is the PIN")
    s.add_argument("--create-key", action="store_true",
                   help="make the AES-256 key in the token (non-extractable) if it has none of that label")
    s.set_defaults(func=cmd_wrap)


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


def cmd_wrap(args):
    from .keywrap import PIN_ENV, Token
    token = Token(os.path.abspath(args.pkcs11_module), args.token, args.key_label,
                  pin_env=None if args.pin_file else (args.pin_env or PIN_ENV),
                  pin_file=os.path.abspath(args.pin_file) if args.pin_file else None)
    dd = _open(args.dir)
    try:
        done = dd.keyring.wrap(token, create_key=args.create_key)
        _audit(dd, "key_wrap", versions=done, module=token.module, token=token.token,
               key_label=token.key_label)
        print(f"master-key versions {', '.join(map(str, done)) or '(none new)'} are wrapped by "
              f"{token.where()}; the clear key files are removed. Every process that opens "
              f"{args.dir} needs the token and its PIN ({token.pin_source()})", file=sys.stderr)
    finally:
        dd.close()
