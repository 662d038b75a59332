"""GS1 Application Identifiers, read from GS1's own Barcode Syntax Dictionary.

``gs1-syntax-dictionary.txt`` (next to this module) is a verbatim copy of
gs1/gs1-syntax-dictionary (GS1 AISBL, Apache-2.0; its licence header is kept
in the file). It is the one source of AI knowledge: the scan parser's C table
(engine/scan/_parse.pyx) is filled from TABLE at import, and the renderers ask
``predefined()``. To update, replace the file with a newer release.

Each AI has a format of components ("N6,yymmd0", "X..20", "[N3],iso3166"):
a kind (N digits, X character set 82, Y set 39, Z base64url), a length
(exact, or ``..max``), optional (bracketed) or not, and linters naming
content checks; the parser applies the kinds, lengths and the date linters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import dates

DICTIONARY = Path(__file__).with_name("gs1-syntax-dictionary.txt")
DATE_LINTERS = ("yymmd0", "yymmdd", "yyyymmdd")   # DD 00 allowed only by yymmd0
_COMPONENT = re.compile(r"^(\[?)([NXYZ])(\d+|\.\.\d+)(\]?)((?:,\w+)*)$")
_FLAGS = set("*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~")


@dataclass(frozen=True)
class Component:
    kind: str             # N, X, Y or Z
    min: int
    max: int
    optional: bool
    linters: tuple

    @property
    def date(self) -> str | None:
        return next((lt for lt in self.linters if lt in DATE_LINTERS), None)


@dataclass(frozen=True)
class AI:
    ai: str
    predefined: bool      # "*": length predefined, no FNC1 separator after it
    dl_attribute: bool    # "?": allowed as a Digital Link query attribute
    components: tuple
    title: str

    @property
    def min_length(self) -> int:
        return sum(c.min for c in self.components if not c.optional)

    @property
    def max_length(self) -> int:
        return sum(c.max for c in self.components)

    @property
    def numeric(self) -> bool:
        return all(c.kind == "N" for c in self.components)


def _component(token: str, where: str) -> Component:
    m = _COMPONENT.match(token)
    if not m or bool(m[1]) != bool(m[4]):
        raise ValueError(f"{where}: {token!r} is not a component (Type[,linter...])")
    length = m[3]
    hi = int(length.lstrip("."))
    lo = 1 if length.startswith("..") else hi
    return Component(m[2], lo, hi, bool(m[1]), tuple(x for x in m[5].split(",") if x))


def parse(text: str, source: str = "dictionary") -> dict:
    """{AI: AI} from the dictionary's text (ranges like 3100-3105 expanded)."""
    table = {}
    for n, line in enumerate(text.splitlines(), 1):
        body, _, title = line.partition("#")
        tokens = body.split()
        if not tokens:
            continue
        where = f"{source} line {n}"
        first, _, last = tokens[0].partition("-")
        if not first.isdigit() or not 2 <= len(first) <= 4 or (last and len(last) != len(first)):
            raise ValueError(f"{where}: {tokens[0]!r} is not an AI or a range of AIs")
        flags, rest = "", tokens[1:]
        if rest and set(rest[0]) <= _FLAGS:
            flags, rest = rest[0], rest[1:]
        components = []
        for tok in rest:
            if not _COMPONENT.match(tok):
                break                      # the attributes (req=, ex=, dlpkey) follow
            components.append(_component(tok, where))
        if not components:
            raise ValueError(f"{where}: AI {tokens[0]} has no format")
        for value in range(int(first), int(last or first) + 1):
            ai = f"{value:0{len(first)}d}"
            if ai in table:
                raise ValueError(f"{where}: AI {ai} is listed twice")
            table[ai] = AI(ai, "*" in flags, "?" in flags, tuple(components), title.strip())
    # GS1 keeps AIs prefix-free (General Specifications 3.2): the parser relies on it
    for ai in table:
        for k in range(2, len(ai)):
            if ai[:k] in table:
                raise ValueError(f"{source}: AI {ai[:k]} is a prefix of AI {ai}")
    return table


TABLE: dict = parse(DICTIONARY.read_text(encoding="utf-8"), DICTIONARY.name)


def predefined(ai: str) -> bool:
    """True when GS1 predefines the AI's length: no FNC1 separator follows it."""
    spec = TABLE.get(ai)
    return spec is not None and spec.predefined


# The GS1 century rule of YYMMDD dates lives with the other date rules (tracecode.dates).
full_year = dates.full_year

