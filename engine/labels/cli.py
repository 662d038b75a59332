"""`tracecode label`: codes to barcode images, one file, a folder or printable sheets.

    tracecode label [CODE...] [--symbol datamatrix|qr|gs1-128|code128] [--format png|svg]
                    (--out FILE | --dir DIR | --sheet FILE) [--gs1] [--scale N] [--quiet-zone N]
                    [--dpi N] [--page a4|letter]

Codes come from the arguments or one per line on standard input (GS1 element strings
keep their GS separators there), e.g.

    tracecode issue DATA --scheme gs1-sgtin -p 09521234543213 -n 100 -a lot=A1 -r element \\
        | tracecode label --sheet labels.png
"""
from __future__ import annotations

import sys
from pathlib import Path

from .. import textinput
from .sheet import PAGES, write_folder, write_sheet
from .symbols import DEFAULT_DPI, DEFAULT_SCALE, FORMATS, SYMBOLS, LabelError, make, write

MAX_LINE = 8192  # bytes: a payload longer than any symbol holds is no code


def add_parser(subparsers):
    s = subparsers.add_parser("label", help="render codes as DataMatrix, QR, GS1-128 or Code 128 images")
    s.add_argument("codes", nargs="*", metavar="CODE",
                   help="codes to render (default: one per line on standard input)")
    s.add_argument("--symbol", "-s", choices=SYMBOLS, default="datamatrix",
                   help="symbology (default: datamatrix; GS1 data always gets FNC1 / GS1 mode; "
                        "code128: plain Code 128 for bare national codes)")
    s.add_argument("--format", "-f", choices=FORMATS,
                   help="image format (default: from the file name's extension, else png)")
    out = s.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", "-o", metavar="FILE", help="one code to one image ('-': standard output)")
    out.add_argument("--dir", metavar="DIR", help="one image per code in DIR, named after the code")
    out.add_argument("--sheet", metavar="FILE",
                     help="printable pages of labels with the text under each "
                          "(FILE-001.png, FILE-002.png... when there is more than one page)")
    s.add_argument("--gs1", action="store_true",
                   help="codes are GS1 element strings even without GS separators or parentheses")
    s.add_argument("--scale", type=int, default=DEFAULT_SCALE,
                   help=f"pixels per module (default {DEFAULT_SCALE})")
    s.add_argument("--quiet-zone", type=int, metavar="MODULES",
                   help="light margin around a symbol (default: the symbology's minimum)")
    s.add_argument("--dpi", type=int, default=DEFAULT_DPI,
                   help=f"resolution recorded in PNGs and used for sheets (default {DEFAULT_DPI})")
    s.add_argument("--page", choices=PAGES, default="a4", help="sheet page size (default a4)")
    s.set_defaults(func=cmd_label)
    return s


def read_codes(args) -> tuple[list[str], list[str]]:
    """The codes, and where each came from ("argument 2", "standard input line 7")."""
    if args.codes:
        return list(args.codes), [f"argument {n}" for n in range(1, len(args.codes) + 1)]
    if sys.stdin.isatty():  # nothing piped in: say so rather than wait for typing
        return [], []
    # One code per line; only CR/LF/space/tab are stripped, never GS (str.strip() would).
    # A line that is no code (binary, huge) stops the print job: a sheet is printed whole.
    codes, where = [], []
    for n, line in textinput.lines(sys.stdin, MAX_LINE):
        if isinstance(line, textinput.BadLine):
            raise LabelError(f"standard input line {n}: {line.reason}")
        code = line.strip(" \t\r\n")
        if code:
            codes.append(code)
            where.append(f"standard input line {n}")
    return codes, where


def _format(args, path) -> str:
    if args.format:
        return args.format
    if not path or path == "-":
        return "png"
    ext = Path(path).suffix.lstrip(".").lower()
    if ext not in FORMATS:
        raise LabelError(f"cannot tell the image format of {path}; "
                         f"name it .png or .svg, or give --format")
    return ext


def cmd_label(args) -> int:
    codes, where = read_codes(args)
    try:
        return _label(args, codes)
    except LabelError as exc:  # a code of many that cannot be drawn: say which one
        item = getattr(exc, "item", None)
        if item is None or len(codes) < 2:
            raise
        raise LabelError(f"{where[item]}: {exc}") from None


def _label(args, codes) -> int:
    if not codes:
        raise LabelError("no codes: give them as arguments or one per line on standard input")
    gs1 = True if args.gs1 else None
    img = {"scale": args.scale, "quiet_zone": args.quiet_zone}
    if args.out is not None:
        if len(codes) != 1:
            raise LabelError(f"--out writes one code, got {len(codes):,}; use --dir or --sheet")
        fmt = _format(args, args.out)
        data = write(make(codes[0], args.symbol, gs1=gs1), fmt, dpi=args.dpi, **img)
        if args.out == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            Path(args.out).write_bytes(data)
        where = "standard output" if args.out == "-" else args.out
    elif args.dir is not None:
        fmt = _format(args, None)
        paths = write_folder(args.dir, codes, args.symbol, fmt, gs1=gs1, dpi=args.dpi, **img)
        where = f"{len(paths):,} files in {args.dir}"
    else:
        fmt = _format(args, args.sheet)
        paths = write_sheet(args.sheet, codes, args.symbol, fmt, gs1=gs1, dpi=args.dpi,
                            page=args.page, **img)
        where = paths[0] if len(paths) == 1 else f"{len(paths)} pages {paths[0]} .. {paths[-1]}"
    print(f"wrote {len(codes):,} {args.symbol} {fmt} symbol{'s' if len(codes) > 1 else ''} "
          f"to {where}", file=sys.stderr)
    return 0

