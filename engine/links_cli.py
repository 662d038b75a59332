"""`tracecode links`: the links a product's Digital Link URI resolves to (its product
information page, recall status, certificates...), in the data directory.

    tracecode links DIR KEY                       the links, one a line (a table)
    tracecode links DIR KEY --json                the same as a JSON list (what --set reads)
    tracecode links DIR KEY --set FILE.json|-     replace them with a JSON list ([] removes all)
    tracecode links DIR KEY --add TYPE HREF [--title T] [--lang zh,en] [--media-type T] [--default]
    tracecode links DIR KEY --remove TYPE [--lang L]

KEY: 01/<GTIN> (a GS1 item), 01/<GTIN>/10/<lot> (one lot of it), or <scheme>/<product
fields> (cn-drug-20/8177322): tracecode.app.links. TYPE: a GS1 link type, short or full
(pip, gs1:pip, https://gs1.org/voc/pip). The operator of DIR sets them (an admin); over the
HTTP API an admin or the product's issuer does. Every change is audited (DIR/audit.log).
"""
from __future__ import annotations

import json
import sys

from .errors import TracecodeError

MAX_LINKS_FILE = 1 << 20    # a links file is a few links; a bigger one is a mistake


def add_parser(subparsers):
    p = subparsers.add_parser(
        "links", help="the links a product's Digital Link resolves to: list, set, add, remove",
        description="KEY: 01/<GTIN>, 01/<GTIN>/10/<lot>, or <scheme>/<product fields> "
                    "(cn-drug-20/8177322). TYPE: a GS1 link type (pip, gs1:pip, "
                    "https://gs1.org/voc/pip).")
    p.add_argument("dir", help="data directory")
    p.add_argument("key", help="01/<GTIN>[/10/<lot>] or <scheme>/<product fields>")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--set", metavar="FILE", help="replace the links with a JSON list from FILE "
                                                    "(- for stdin); [] removes them all")
    what.add_argument("--add", nargs=2, metavar=("TYPE", "HREF"),
                      help="add a link (replacing one of the same type, languages and href)")
    what.add_argument("--remove", metavar="TYPE", help="remove the links of a type")
    p.add_argument("--title", default="", help="--add: the link's title")
    p.add_argument("--lang", default="", help="--add: its languages, comma-separated (zh,en); "
                                              "--remove: only the links in this language")
    p.add_argument("--media-type", default="", help="--add: what HREF serves (text/html...)")
    p.add_argument("--default", action="store_true",
                   help="--add: the link of its type for any other language (the one "
                        "default of its type and languages)")
    p.add_argument("--json", action="store_true", help="print the links as a JSON list")
    p.set_defaults(func=cmd_links)


def _langs(text: str) -> tuple:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _read_links(name: str) -> list:
    if name == "-":
        raw = sys.stdin.buffer.read(MAX_LINKS_FILE + 1)
    else:
        with open(name, "rb") as f:
            raw = f.read(MAX_LINKS_FILE + 1)
    if len(raw) > MAX_LINKS_FILE:
        raise TracecodeError(f"{name}: over {MAX_LINKS_FILE:,} bytes; a links file is a JSON list "
                         "of a few links")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise TracecodeError(f"{name}: not UTF-8 text") from None
    except ValueError as exc:
        raise TracecodeError(f"{name}: not JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("links"), list):
        data = data["links"]   # {"links": [...]} as well as the bare list
    if not isinstance(data, list):
        raise TracecodeError(f"{name}: a JSON list of links is expected, e.g. "
                             '[{"link_type": "gs1:pip", "href": "https://...", "lang": ["zh"]}]')
    return data


def _set_from(client, key: str, name: str) -> list:
    """--set: the links of file `name`; a link refused is named as the file has it (links[i])."""
    from .app.refusal import Refusal
    try:
        return client.set_links(key, _read_links(name))
    except Refusal as r:
        if r.field.startswith("links"):
            raise TracecodeError(f"{name}: {r.field}: {r.detail}") from None
        raise


def _langset(link) -> frozenset:
    return frozenset(t.lower() for t in link.lang) or frozenset({""})


def _added(current: list, link) -> tuple[list, str]:
    """current with link added: it replaces a link of the same type, languages and href;
    a default takes over from the type's default in any of its languages."""
    out, note = [], "added"
    for old in current:
        same_type = old.link_type == link.link_type
        if same_type and old.href == link.href and _langset(old) == _langset(link):
            note = "replaced"
            continue
        if same_type and link.default and old.default and _langset(old) & _langset(link):
            old = type(old).from_dict({**old.to_dict(), "default": False})
        out.append(old)
    return out + [link], note


def _removed(current: list, link_type: str, lang: str) -> list:
    lang = lang.lower()
    return [x for x in current if not (x.link_type == link_type
                                       and (not lang or lang in (t.lower() for t in x.lang)))]


def print_table(key: str, links: list, out=sys.stdout) -> None:
    if not links:
        print(f"no links for {key}", file=sys.stderr)
        return
    rows = [(x.link_type, ",".join(x.lang) or "-", "default" if x.default else "",
             x.media_type or "-", x.href, x.title) for x in links]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4]
              + (f"  {r[5]}" if r[5] else ""), file=out)


def cmd_links(args):
    from .app.local import LocalClient
    from .datadir import DataDir
    from .digitallink import linktypes
    from .digitallink.links import Link
    from .cli import CliError   # cli imports this module: late
    if not args.add and (args.title or args.media_type or args.default):
        raise CliError("--title, --media-type and --default go with --add")
    if args.lang and not (args.add or args.remove):
        raise CliError("--lang goes with --add or --remove")
    with LocalClient(DataDir(args.dir)) as c:
        key = c.link_key(args.key)
        if args.set is not None:
            links, note = _set_from(c, key, args.set), "set"
        elif args.add:
            kind, href = args.add
            link = Link.from_dict({"link_type": linktypes.normalise(kind), "href": href,
                                   "title": args.title, "lang": list(_langs(args.lang)),
                                   "media_type": args.media_type, "default": args.default})
            updated, note = _added(c.links(key), link)
            links = c.set_links(key, updated)
        elif args.remove:
            kind = linktypes.normalise(args.remove)
            current = c.links(key)
            updated = _removed(current, kind, args.lang)
            if len(updated) == len(current):
                raise TracecodeError(f"{key} has no {kind} link" + (f" in {args.lang}" if args.lang else ""))
            links, note = c.set_links(key, updated), f"removed {len(current) - len(updated)}"
        else:
            links, note = c.links(key), ""
    if note:
        print(f"{key}: {note}; {len(links)} link{'s' * (len(links) != 1)} now", file=sys.stderr)
    if args.json:
        print(json.dumps([x.to_dict() for x in links], ensure_ascii=False, indent=2))
    elif links or not note:   # after a change the count is said: no second "no links"
        print_table(key, links)
