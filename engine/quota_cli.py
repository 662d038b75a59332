"""`tracecode quota` and `tracecode transactions`: rare-earth production quotas (the
directive plan) and the events of a VAT special invoice or customs declaration number.

    tracecode quota set DIR ENTERPRISE YEAR KIND QUANTITY [--uom t|kg]
        set an enterprise's quota (KIND: mining or smelting) for a year; ENTERPRISE is the
        owning_party source its events name, else the client name that captures them
    tracecode quota list DIR [--year Y] [--enterprise E]
        the quotas with production so far (JSON lines; "over": true when exceeded)
    tracecode transactions DIR NUMBER [--kind vat_special_invoice|customs_export_declaration]
        the EPCIS events naming that invoice or declaration number (JSON lines)

The operator of DIR runs these as an admin (tracecode.app.Service with the operator as
caller); setting a quota is audited.
"""
from __future__ import annotations

import json
import sys


def add_parsers(sub):
    q = sub.add_parser("quota", help="rare-earth production quotas (set, list)")
    qs = q.add_subparsers(dest="quota_cmd", required=True)
    s = qs.add_parser("set", help="set an enterprise's quota for a year")
    s.add_argument("dir")
    s.add_argument("enterprise")
    s.add_argument("year")
    s.add_argument("kind", choices=("mining", "smelting"))
    s.add_argument("quantity")
    s.add_argument("--uom", default="t", choices=("t", "kg"))
    s.set_defaults(func=cmd_set)
    s = qs.add_parser("list", help="quotas with production so far (JSON lines)")
    s.add_argument("dir")
    s.add_argument("--year")
    s.add_argument("--enterprise")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("transactions", help="EPCIS events of a VAT special invoice or customs "
                                            "declaration number")
    s.add_argument("dir")
    s.add_argument("number")
    s.add_argument("--kind", choices=("vat_special_invoice", "customs_export_declaration"))
    s.set_defaults(func=cmd_transactions)


def _run(path, call):
    from .app.caller import OPERATOR
    from .app.service import Service
    from .datadir import DataDir
    dd = DataDir(path)
    svc = Service(dd)
    try:
        return call(svc, OPERATOR)
    finally:
        svc.close()
        dd.close()


def cmd_set(args):
    got = _run(args.dir, lambda svc, me: svc.quotas.set(me, args.enterprise, args.year, args.kind,
                                                         args.quantity, args.uom))
    print(json.dumps(got, ensure_ascii=False))
    return 0


def cmd_list(args):
    rows = _run(args.dir, lambda svc, me: svc.quotas.list(me, args.year, args.enterprise))
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))
    return 0


def cmd_transactions(args):
    def call(svc, me):
        out, token = [], None
        while True:
            got, token = svc.quotas.find(me, args.number, args.kind, 1000, token)
            out += got
            if token is None:
                return out
    for ev in _run(args.dir, call):
        sys.stdout.write(json.dumps(ev, ensure_ascii=False) + "\n")
    return 0
