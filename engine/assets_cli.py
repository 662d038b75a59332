"""`tracecode register`, `asset` and `asset-steps`: codes others assigned (special equipment).

    tracecode register DIR FILE|- --scheme S [--owner NAME]
        register the codes of FILE (one per line) under an externally assigned scheme
        (cn-equip-18, cn-equip-reg-20, cn-cylinder-16 or one of DIR/schemes): each line
        checked against the layout; a bad one is printed as "REJECTED line N: why" and the
        others registered; a code registered before keeps its record. Exit 1 if any line
        was rejected.
    tracecode asset-steps DIR FILE|-
        record asset steps, one JSON object a line: {"code": ..., "step": "inspect",
        "by": "...", "result": "pass", "next_due": "2027-03-01"}; prints one result a line
        (JSON); exit 1 if any was refused.
    tracecode asset DIR CODE [--unit U] [--steps | --epcis]
        the asset's verdict (JSON): in service, inspection overdue, out of service,
        scrapped, not registered; with --unit whether that filling unit may fill it now;
        --steps its recorded steps, --epcis the same as EPCIS 2.0 ObjectEvents.

The operator of DIR runs these as an admin (tracecode.app.Service with the operator as
caller): every registration and step is audited.
"""
from __future__ import annotations

import json
import sys

from . import textinput

MAX_STEP_LINE = 1 << 14


def add_parsers(sub):
    s = sub.add_parser("register", help="register codes others assigned (special equipment), "
                                        "one per line")
    s.add_argument("dir")
    s.add_argument("file", help="file of codes, or - for stdin")
    s.add_argument("--scheme", required=True,
                   help="the scheme of externally assigned codes (cn-equip-18, cn-equip-reg-20, "
                        "cn-cylinder-16, or one of DIR/schemes)")
    s.add_argument("--owner", help="who assigned them (the maker or authority); default: you")
    s.set_defaults(func=cmd_register)

    s = sub.add_parser("asset-steps", help="record special equipment steps (JSON lines)")
    s.add_argument("dir")
    s.add_argument("file", help="file of steps, or - for stdin")
    s.set_defaults(func=cmd_asset_steps)

    s = sub.add_parser("asset", help="the verdict on a special equipment code")
    s.add_argument("dir")
    s.add_argument("code")
    s.add_argument("--unit", help="a filling unit: may it fill this cylinder now?")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--steps", action="store_true", help="print its recorded steps (JSON lines)")
    g.add_argument("--epcis", action="store_true", help="print its steps as EPCIS ObjectEvents")
    s.set_defaults(func=cmd_asset)


def _service(path):
    from .app.caller import OPERATOR
    from .app.service import Service
    from .datadir import DataDir
    dd = DataDir(path)
    return dd, Service(dd), OPERATOR


def cmd_register(args):
    from .index.register import lines_of
    name = textinput.name_of(args.file)
    with textinput.open_input(args.file) as stream:
        data = stream.read()
    codes = lines_of(data)
    if not len(codes) or not (codes != b"").any():
        raise textinput.InputError(f"{name}: no codes (the input is empty)")
    dd, svc, caller = _service(args.dir)
    try:
        rep = svc.register(caller, args.scheme, codes, owner=args.owner,
                           source=name if args.file != "-" else "-")
    finally:
        svc.close()
        dd.close()
    for r in rep.reasons:
        print(f"REJECTED line {r[0]}: {r[2]}")
    if rep.rejected > len(rep.reasons):
        print(f"... and {rep.rejected - len(rep.reasons):,} more lines rejected")
    print(f"registered {rep.registered:,} {rep.scheme} codes"
          + (f", {rep.already:,} registered before (kept)" if rep.already else "")
          + (f", {rep.rejected:,} lines rejected" if rep.rejected else ""), file=sys.stderr)
    return 1 if rep.rejected else 0


def cmd_asset_steps(args):
    steps, bad = [], []
    with textinput.open_input(args.file) as stream:
        for n, line in textinput.lines(stream, MAX_STEP_LINE):
            if isinstance(line, textinput.BadLine):
                bad.append({"ok": False, "line": n, "reason": "invalid_step", "error": line.reason})
            elif line.strip():
                try:
                    steps.append((n, textinput.json_object(line)))
                except ValueError as exc:
                    bad.append({"ok": False, "line": n, "reason": "invalid_step", "error": str(exc)})
    if not steps and not bad:
        raise textinput.InputError(f"{textinput.name_of(args.file)}: no steps (the input is empty)")
    dd, svc, caller = _service(args.dir)
    results = list(bad)
    try:
        for lo in range(0, len(steps), 10_000):
            part = steps[lo:lo + 10_000]
            for (n, _), r in zip(part, svc.asset_steps(caller, [s for _, s in part])):
                results.append(dict(r, line=n))
    finally:
        svc.close()
        dd.close()
    results.sort(key=lambda r: r["line"])
    for r in results:
        print(json.dumps(r, ensure_ascii=False))
    refused = sum(1 for r in results if not r.get("ok"))
    print(f"recorded {len(results) - refused:,} steps" + (f", {refused:,} refused" if refused else ""),
          file=sys.stderr)
    return 1 if refused else 0


def cmd_asset(args):
    dd, svc, caller = _service(args.dir)
    try:
        if args.steps or args.epcis:
            items = dd.assets.epcis(args.code) if args.epcis else dd.assets.steps(args.code)
            for item in items:
                print(json.dumps(item, ensure_ascii=False))
            return 0 if items or dd.assets.asset(args.code) else 1
        out = svc.asset(caller, args.code, unit=args.unit)
    finally:
        svc.close()
        dd.close()
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0 if out["verdict"] != "not_registered" else 1
