"""One payload to one barcode symbol: GS1 DataMatrix, QR and GS1-128, as PNG or SVG.

Which library writes what, and why:

- **zxing-cpp** (its writer is zint) makes DataMatrix, GS1-128 and GS1 QR. It has a real GS1
  mode: FNC1 in first position, FNC1 separators after variable-length AIs, so scanners
  transmit ``]d2`` / ``]C1`` / ``]Q3`` and the element string. The same library reads the
  symbols back in the tests, and ``forceSquare`` keeps DataMatrix to square ECC 200 sizes
  (zint otherwise picks DMRE rectangles, which many scanners still do not read).
- **segno** makes plain QR (Digital Link URIs, national codes): the reference QR encoder
  for Python, with optimal mode segments and ``boost_error``, which raises the error
  correction level as far as the same symbol size allows, for free robustness on
  scuffed packs. segno has no FNC1 mode, hence zxing-cpp for GS1 QR.
- Both only give us the module matrix; PNG (via **Pillow**, 1 bit per pixel, with a
  DPI) and SVG (one path in module units) are written here, so every symbol comes out
  the same way, with our quiet zones, and sheets can reuse the matrices.

- **Code 128** (``code128``, plain, ``]C0``): the linear symbol Chinese drug packs carry next to
  the matrix, for bare national codes; GS1 data goes into GS1-128 instead.

GS1 content is recognised by its content, as the scan parser reads it (the same precedence as
verification): the human-readable form ``(01)...(21)...``, an element string with GS (0x1D)
separators, or one without any separator (a GS1 scheme's code with no lot: ``01`` GTIN ``21``
serial) that fits no bare scheme and starts with AI 00, 01 or 02. ``gs1=True`` forces it for
other element strings that need no separator. They are split into (AI, value) pairs and handed
to zint in its bracketed syntax ``[01]...[21]...`` (unambiguous even when a lot contains
parentheses), so a GS1 element string always gets a GS1 symbol (FNC1 first).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from ..errors import TracecodeError
from ..scan import ScanError, ScanParser
from ..schemes.render import predefined_length

SYMBOLS = ("datamatrix", "qr", "gs1-128", "code128")
FORMATS = ("png", "svg")
GS = "\x1d"
# Minimum quiet zones in modules (ISO/IEC 16022, 18004, 15417); (vertical, horizontal).
QUIET_ZONE = {"datamatrix": (1, 1), "qr": (4, 4), "gs1-128": (2, 10), "code128": (2, 10)}
LINEAR = ("gs1-128", "code128")
GS1_128_MAX = 48  # GS1 General Specifications: data characters in one GS1-128 symbol
DEFAULT_SCALE = 4  # pixels per module: 0.34 mm at 300 dpi, in GS1's healthcare X range
DEFAULT_DPI = 300

class LabelError(TracecodeError, ValueError):
    """A payload that cannot become the requested symbol."""


def is_gs1(text: str) -> bool:
    """GS1 by content: HRI ``(01)...``, an element string with GS separators, or one without
    separators that the scan parser reads as an element string (see the module doc). GS1
    text that does not parse (a bad GTIN check digit...) is GS1 too: make() then says why."""
    if text.startswith("(") or GS in text:
        return True
    try:
        return _gs1_reader().parse(text).form in ("element", "hri")
    except ScanError as exc:
        return str(exc.field or "").startswith("AI ")  # the parser read AIs: it is GS1 data
    except ValueError:
        return False


def gs1_pairs(text: str) -> list[tuple[str, str]]:
    """(AI, value) pairs of a GS1 element string or HRI text, in order.

    The scan parser reads them, so a label carries exactly what verification
    will accept: known AIs, right lengths, a valid GTIN check digit and dates.
    """
    scan_text = text if text.startswith("(") else "]d2" + text
    try:
        parsed = _gs1_reader().parse(scan_text)
    except ScanError as exc:
        raise LabelError(f"GS1 text {text!r}: {exc}") from None
    if parsed.form not in ("element", "hri"):
        raise LabelError(f"{text!r} is not GS1 element data")
    return list(parsed.ais.items())


def _gs1_reader():
    global _READER
    if _READER is None:
        _READER = ScanParser()
    return _READER


_READER = None


def element_string(pairs) -> str:
    """What a scanner transmits: FNC1 (GS) after each variable-length AI but the last."""
    return "".join(ai + value + ("" if n == len(pairs) - 1 or predefined_length(ai) else GS)
                   for n, (ai, value) in enumerate(pairs))


def hri_text(pairs) -> str:
    return "".join(f"({ai}){value}" for ai, value in pairs)


@dataclass(frozen=True)
class Symbol:
    """An encoded symbol: its modules, what it transmits and what is printed under it."""
    symbol: str
    modules: np.ndarray   # bool, True = dark; rows x columns, no quiet zone
    content: str          # what a scanner sends (GS1: the element string with GS separators)
    text: str             # the human-readable line (GS1: the HRI form)
    gs1: bool

    @property
    def aim(self) -> str:
        """The AIM symbology identifier a scanner reports for this symbol."""
        return {"datamatrix": "]d2" if self.gs1 else "]d1", "qr": "]Q3" if self.gs1 else "]Q1",
                "gs1-128": "]C1", "code128": "]C0"}[self.symbol]

    def quiet(self, quiet_zone: int | None = None) -> tuple[int, int]:
        v, h = QUIET_ZONE[self.symbol]
        if quiet_zone is None:
            return v, h
        if quiet_zone < 0:
            raise LabelError("the quiet zone cannot be negative")
        return (min(v, quiet_zone) if self.symbol in LINEAR else quiet_zone), quiet_zone


def _zxing(data: str, symbol: str, gs1: bool, shown: str) -> np.ndarray:
    import zxingcpp

    fmt = {"datamatrix": zxingcpp.BarcodeFormat.DataMatrix, "qr": zxingcpp.BarcodeFormat.QRCode,
           "gs1-128": zxingcpp.BarcodeFormat.Code128, "code128": zxingcpp.BarcodeFormat.Code128}[symbol]
    opts = {"gs1": True} if gs1 else {}
    if symbol == "datamatrix":
        opts["forceSquare"] = True
    try:
        bc = zxingcpp.create_barcode(data, fmt, **opts)
    except ValueError as exc:  # zint's "Error 729: Input too long, ... (retval: 5)"
        msg = re.sub(r"^Error \d+: |\s*\(retval: \d+\)$", "", str(exc))
        raise LabelError(f"cannot encode {shown!r} as {symbol}: {msg}") from None
    return np.asarray(bc.to_image(scale=1, add_quiet_zones=False)) < 128


def _segno(text: str) -> np.ndarray:
    import segno

    try:
        qr = segno.make(text, micro=False, error="m", boost_error=True)
    except segno.DataOverflowError:
        raise LabelError(f"cannot encode {text[:40]!r}...: too long for a QR code") from None
    return np.frombuffer(b"".join(qr.matrix), np.uint8).reshape(len(qr.matrix), -1).astype(bool)


def make(text: str, symbol: str = "datamatrix", *, gs1: bool | None = None) -> Symbol:
    """Encode one payload. gs1=None decides by form (see is_gs1)."""
    if symbol not in SYMBOLS:
        raise LabelError(f"unknown symbol {symbol!r}; choose {', '.join(SYMBOLS)}")
    if not text:
        raise LabelError("cannot encode an empty code")
    if not text.isprintable() and (GS not in text or not text.replace(GS, "").isprintable()):
        raise LabelError(f"{text[:40]!r} holds control characters or bytes that are not UTF-8 "
                         f"text; a label carries printable text (GS1: GS separators too)")
    if gs1 is None:
        gs1 = is_gs1(text)
    if not gs1:
        if symbol == "gs1-128":
            raise LabelError(f"gs1-128 carries GS1 element strings only, not {text[:40]!r}; render "
                             f"GS1 codes as element or hri, or use --symbol code128, datamatrix "
                             f"or qr")
        dark = _segno(text) if symbol == "qr" else _zxing(text, symbol, False, text)
        return Symbol(symbol, dark, text, text, False)
    if symbol == "code128":
        raise LabelError(f"{text[:60]!r} is GS1 data, which a plain Code 128 would lose (no "
                         f"FNC1): use --symbol gs1-128, datamatrix or qr")
    pairs = gs1_pairs(text)
    content = element_string(pairs)
    if symbol == "gs1-128" and len(content) > GS1_128_MAX:
        raise LabelError(f"{hri_text(pairs)} has {len(content)} characters; GS1-128 holds at most "
                         f"{GS1_128_MAX}: use datamatrix or qr")
    bracketed = "".join(f"[{ai}]{value}" for ai, value in pairs)
    return Symbol(symbol, _zxing(bracketed, symbol, True, text), content, hri_text(pairs), True)


# -- writers -------------------------------------------------------------------------

def padded(sym: Symbol, quiet_zone: int | None = None) -> np.ndarray:
    v, h = sym.quiet(quiet_zone)
    return np.pad(sym.modules, ((v, v), (h, h)))


def svg_path(dark: np.ndarray) -> str:
    """Path data (module units) of the dark modules: one rectangle per horizontal run,
    identical consecutive rows merged (so a linear symbol is one rectangle per bar)."""
    parts = []
    y, rows = 0, len(dark)
    while y < rows:
        h = 1
        while y + h < rows and np.array_equal(dark[y + h], dark[y]):
            h += 1
        edges = np.flatnonzero(np.diff(np.concatenate(([0], dark[y].view(np.int8), [0]))))
        for x0, x1 in zip(edges[::2].tolist(), edges[1::2].tolist()):
            parts.append(f"M{x0} {y}h{x1 - x0}v{h}h{x0 - x1}z")
        y += h
    return "".join(parts)


def to_svg(sym: Symbol, *, scale: int = DEFAULT_SCALE, quiet_zone: int | None = None) -> bytes:
    dark = padded(sym, quiet_zone)
    rows, cols = dark.shape
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{cols * scale}" '
            f'height="{rows * scale}" viewBox="0 0 {cols} {rows}" shape-rendering="crispEdges">\n'
            f'<title>{escape(sym.text)}</title>\n'
            f'<rect width="{cols}" height="{rows}" fill="#fff"/>\n'
            f'<path fill="#000" d={quoteattr(svg_path(dark))}/>\n'
            f'</svg>\n').encode("utf-8")


def to_png(sym: Symbol, *, scale: int = DEFAULT_SCALE, quiet_zone: int | None = None,
           dpi: int = DEFAULT_DPI) -> bytes:
    from PIL import Image

    light = ~padded(sym, quiet_zone)
    img = Image.fromarray(np.repeat(np.repeat(light, scale, axis=0), scale, axis=1))  # mode "1"
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(dpi, dpi), optimize=True)
    return buf.getvalue()


def write(sym: Symbol, fmt: str, *, scale: int = DEFAULT_SCALE, quiet_zone: int | None = None,
          dpi: int = DEFAULT_DPI) -> bytes:
    if scale < 1:
        raise LabelError("scale must be at least 1 pixel per module")
    if fmt == "png":
        return to_png(sym, scale=scale, quiet_zone=quiet_zone, dpi=dpi)
    if fmt == "svg":
        return to_svg(sym, scale=scale, quiet_zone=quiet_zone)
    raise LabelError(f"unknown image format {fmt!r}; choose {', '.join(FORMATS)}")


def render(text: str, symbol: str = "datamatrix", fmt: str = "png", *,
           scale: int = DEFAULT_SCALE, quiet_zone: int | None = None, gs1: bool | None = None,
           dpi: int = DEFAULT_DPI) -> bytes:
    """One payload as a PNG or SVG image of `symbol` (datamatrix, qr or gs1-128).

    scale: pixels (SVG: user units) per module; quiet_zone: modules of light margin
    (default: the symbology's minimum); dpi: recorded in the PNG, for printing at size.
    """
    return write(make(text, symbol, gs1=gs1), fmt, scale=scale, quiet_zone=quiet_zone, dpi=dpi)
