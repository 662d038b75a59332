"""Rendering: how a scheme's codes are written out.

Within one batch every character is fixed except the serial and the check
characters, so a render is a *layout*: a template row plus where the serial
and check characters go. Bulk issuance copies the template and fills the
slots in C; the per-code Python renderers below serve single codes.

Renders: ``bare`` (the code fields in order), and for GS1 schemes ``element``
(the element string a scanner transmits, GS-separated), ``hri`` (the
parenthesised human-readable form) and ``dl`` (a GS1 Digital Link URI).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from ..errors import InvalidComponent
from . import gs1_ai
from .scheme import Scheme

GS = "\x1d"  # FNC1 as transmitted by a scanner: ends a variable-length field


def predefined_length(ai: str) -> bool:
    """No separator after this AI: GS1 predefines its length (the "*" flag of
    the Barcode Syntax Dictionary, which the scan parser reads too)."""
    return gs1_ai.predefined(ai)


# GS1 Digital Link: key qualifiers of a GTIN, in path order.
DL_QUALIFIERS = ("22", "10", "21")
_AI_IN_PARENS = re.compile(r"\((\d{2,4})\)")
SERIAL_SLOT = "~"  # marks the serial in a GS1 template; overwritten per code


@dataclass(frozen=True)
class Layout:
    template: bytes
    serial_at: int
    check_from: int = -1     # check characters cover template[check_from:check_to]
    check_to: int = -1       # and are written at check_to

    @property
    def width(self) -> int:
        return len(self.template)


def _values(scheme: Scheme, product: dict, attributes: dict, serial: str, check: str) -> dict:
    vals = dict(product)
    vals.update(attributes)
    vals[scheme.serial.name] = serial
    if scheme.check is not None:
        vals[scheme.check.name] = check
    return vals


def _gs1_order(scheme: Scheme, vals: dict):
    """(field, value) in element-string order: predefined lengths first, serial last."""
    present = [f for f in scheme.fields if f.name in vals]
    fixed = [f for f in present if predefined_length(f.ai)]
    variable = [f for f in present if not predefined_length(f.ai) and f.role != "serial"]
    return [(f, vals[f.name]) for f in fixed + variable + [scheme.serial]]


def render(scheme: Scheme, product: dict, attributes: dict, serial: str, check: str = "",
           how: str = "bare") -> str:
    """One code as text. product/attributes must already be normalised."""
    vals = _values(scheme, product, attributes, serial, check)
    if how == "bare":
        return "".join(vals[f.name] for f in scheme.code_fields)
    if how not in scheme.renders:
        raise InvalidComponent(f"scheme {scheme.name!r} renders as {', '.join(scheme.renders)}, "
                               f"not {how!r}")
    order = _gs1_order(scheme, vals)
    if how == "element":
        parts = []
        for i, (f, v) in enumerate(order):
            last = i == len(order) - 1
            parts.append(f.ai + v + ("" if last or predefined_length(f.ai) else GS))
        return "".join(parts)
    if how == "hri":
        for f, v in order:  # "(21)" inside a lot would read back as another AI
            if any(m[1] in gs1_ai.TABLE for m in _AI_IN_PARENS.finditer(v)):
                raise InvalidComponent(f"{f.name} {v!r} holds an (AI) pattern, which makes the "
                                       f"human-readable form ambiguous; render element or dl")
        return "".join(f"({f.ai}){v}" for f, v in order)
    # Digital Link: primary key, then qualifiers in path order, the rest as query.
    by_ai = {f.ai: v for f, v in order}
    primary = next(f for f, _ in order if f.role == "product")
    path = [f"/{primary.ai}/{quote(by_ai[primary.ai], safe='')}"]
    path += [f"/{ai}/{quote(by_ai[ai], safe='')}" for ai in DL_QUALIFIERS if ai in by_ai]
    used = {primary.ai, *DL_QUALIFIERS}
    query = [f"{f.ai}={quote(v, safe='')}" for f, v in order if f.ai not in used]
    return scheme.dl_base + "".join(path) + ("?" + "&".join(query) if query else "")


def layout(scheme: Scheme, product: dict, attributes: dict, how: str = "bare",
           newline: bool = False) -> Layout:
    """The template row of a batch, with the serial and check slots located."""
    ser, chk = scheme.serial, scheme.check
    if how == "bare":  # slots at their field offsets
        text = render(scheme, product, attributes, "0" * ser.length, "0" * (chk.length if chk else 0))
        serial_at = scheme.offset(ser.name)
    else:
        if how == "dl" and quote(ser.alphabet, safe="") != ser.alphabet:
            raise InvalidComponent(f"serial alphabet of {scheme.name!r} needs percent-encoding; "
                                   f"render it as element or hri instead")
        # '~' is outside GS1 character set 82, so only the serial slot holds it
        # (a Digital Link base may, which is why the search runs from the end).
        placeholder = SERIAL_SLOT * ser.length
        text = render(scheme, product, attributes, placeholder, "", how)
        serial_at = text.rindex(placeholder)
        text = text.replace(placeholder, "0" * ser.length)
    raw = (text + ("\n" if newline else "")).encode("utf-8")
    if chk is None:
        return Layout(raw, serial_at)
    check_to = scheme.offset(chk.name)
    check_from = serial_at if chk.over == "serial" else 0
    return Layout(raw, serial_at, check_from, check_to)
