"""`tracecode licence add` and `licence list`: the licences hazardous goods' steps name.

    tracecode licence add DIR NUMBER --holder NAME --kind K [--kind K ...] --from DATE --to DATE
        add or renew a licence (kinds: production, sale, storage, transport, blasting,
        destruction; dates YYYY-MM-DD, both days included)
    tracecode licence list DIR
        the licences on record (JSON lines)

A step of a hazardous-goods code (tracecode asset-steps) names a licence; one missing,
not on record, outside its dates or of the wrong kind is refused. Run as the operator (an
admin): every addition is audited.
"""
from __future__ import annotations

import json

from .categories.hazardous import LICENCE_KINDS


def add_parser(sub):
    p = sub.add_parser("licence", help="licences of hazardous goods' steps (add, list)")
    verbs = p.add_subparsers(dest="licence_verb", required=True)
    a = verbs.add_parser("add", help="add or renew a licence")
    a.add_argument("dir")
    a.add_argument("number")
    a.add_argument("--holder", required=True)
    a.add_argument("--kind", action="append", required=True, choices=LICENCE_KINDS)
    a.add_argument("--from", dest="valid_from", required=True, help="first valid day (YYYY-MM-DD)")
    a.add_argument("--to", dest="valid_to", required=True, help="last valid day (YYYY-MM-DD)")
    a.set_defaults(func=cmd_add)
    ls = verbs.add_parser("list", help="the licences on record (JSON lines)")
    ls.add_argument("dir")
    ls.set_defaults(func=cmd_list)


def _service(path):
    from .app.caller import OPERATOR
    from .app.service import Service
    from .datadir import DataDir
    dd = DataDir(path)
    return dd, Service(dd), OPERATOR


def cmd_add(args):
    dd, svc, caller = _service(args.dir)
    try:
        lic = svc.licence_add(caller, args.number, args.holder, args.kind, args.valid_from, args.valid_to)
    finally:
        svc.close()
        dd.close()
    print(json.dumps(lic, ensure_ascii=False))
    return 0


def cmd_list(args):
    dd, svc, caller = _service(args.dir)
    try:
        items = svc.licences(caller)
    finally:
        svc.close()
        dd.close()
    for lic in items:
        print(json.dumps(lic, ensure_ascii=False))
    return 0
