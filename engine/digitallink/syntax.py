"""The GS1 Digital Link URI syntax tables, built once at import from tracecode's one copy of
GS1's Barcode Syntax Dictionary (tracecode.schemes.gs1_ai), and the AI value checks.

The dictionary's ``dlpkey`` attribute names the primary keys and, for each, the alternative
sequences of ordered, optional key qualifiers; its ``?`` flag marks the AIs allowed as data
attributes in the query. Only the legacy short names (Digital Link 1.0, still to be accepted
by a conformant resolver) are written here.

>>> PRIMARY_KEYS["01"]
(('22', '10', '21'), ('235',))
>>> PRIMARY_KEYS["414"], PRIMARY_KEYS["00"]
((('254',), ('7040',)), ((),))
>>> SHORT_NAMES["gtin"], SHORT_NAMES["ser"], SHORT_NAMES["exp"]
('01', '21', '17')
>>> check_value("01", "09506000134352")
'09506000134352'
>>> check_value("01", "09506000134353")
Traceback (most recent call last):
    ...
tracecode.digitallink.syntax.ValueFault: GTIN 09506000134353 has a wrong check digit (3; it should be 2)
>>> check_value("17", "261331")
Traceback (most recent call last):
    ...
tracecode.digitallink.syntax.ValueFault: USE BY or EXPIRY 261331 is not a date (YYMMDD)
>>> association_fault("17", {"00", "17"})
'USE BY or EXPIRY (17) needs one of 01, 02, 03, 255, 8006, 8026 with it'
>>> association_fault("3103", {"01", "3103", "3102"})
'NET WEIGHT (kg) (3103) cannot be used together with NET WEIGHT (kg) (3102)'
>>> gmn_check_pair("1987654Ad4X4bL5ttr2310c")   # GS1 General Specifications' example GMN
'2K'
"""
from __future__ import annotations

import re

from .. import dates
from ..checks import GS1
from ..errors import ValidationError
from ..schemes import gs1_ai
from ..schemes.scheme import ALPHABETS

CSET_82 = frozenset(ALPHABETS["gs1"])
CSET_39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CSET_64 = frozenset("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz=")
_CSETS = {"N": frozenset("0123456789"), "X": CSET_82, "Y": CSET_39, "Z": CSET_64}
_KIND_NAMES = {"N": "digits", "X": "GS1 characters (set 82)", "Y": "GS1 characters (set 39)",
               "Z": "base64url characters"}

# Digital Link 1.0 names, GS1 Digital Link Toolkit's table; 1.1+ resolvers still accept them.
SHORT_NAMES: dict[str, str] = {
    "gtin": "01", "itip": "8006", "gmn": "8013", "cpid": "8010", "gln": "414", "party": "417",
    "payto": "415", "gsrnp": "8017", "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253",
    "ginc": "401", "gsin": "402", "grai": "8003", "giai": "8004",
    "cpv": "22", "lot": "10", "ser": "21", "cpsn": "8011", "glnx": "254", "srin": "8019",
    "refno": "8020",
    # data attributes (query)
    "exp": "17", "expdt": "7003",
}
AI_SHORT_NAMES: dict[str, str] = {ai: name for name, ai in SHORT_NAMES.items()}

AI_TABLE = gs1_ai.TABLE


def _dl_keys(text: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """{primary key AI: (qualifier sequence, ...)} from the dictionary's dlpkey attributes."""
    keys = {}
    for line in text.splitlines():
        body = line.partition("#")[0].split()
        for token in body[1:]:
            if token == "dlpkey" or token.startswith("dlpkey="):
                alternatives = token.partition("=")[2]
                keys[body[0]] = tuple(tuple(q for q in alt.split(",") if q)
                                      for alt in alternatives.split("|"))
    return keys


def _associations(text: str) -> dict[str, tuple[tuple, tuple]]:
    """{AI: (requirements, exclusions)} from the dictionary's req= and ex= attributes (AI
    ranges expanded). A requirement is a tuple of alternatives, each a tuple of patterns
    that must all be present ("01+21"); patterns may hold 'n' for any digit ("31nn")."""
    table = {}
    for line in text.splitlines():
        body = line.partition("#")[0].split()
        if not body or not body[0][:1].isdigit():
            continue
        reqs, exs = [], []
        for token in body[1:]:
            token = token.strip('"')
            if token.startswith("req="):
                reqs.append(tuple(tuple(alt.split("+")) for alt in token[4:].split(",") if alt))
            elif token.startswith("ex="):
                exs.extend(x for x in token[3:].split(",") if x)
        if not reqs and not exs:
            continue
        first, _, last = body[0].partition("-")
        for value in range(int(first), int(last or first) + 1):
            table[f"{value:0{len(first)}d}"] = (tuple(reqs), tuple(exs))
    return table


def _matches(pattern: str, ai: str) -> bool:
    return len(pattern) == len(ai) and all(p == "n" or p == a for p, a in zip(pattern, ai))


_TEXT = gs1_ai.DICTIONARY.read_text("utf-8")
PRIMARY_KEYS: dict[str, tuple[tuple[str, ...], ...]] = _dl_keys(_TEXT)
ASSOCIATIONS: dict[str, tuple[tuple, tuple]] = _associations(_TEXT)
del _TEXT


def association_fault(ai: str, present, *, requirements: bool = True) -> str | None:
    """Why AI ``ai`` cannot be in a message with the AIs ``present`` (the dictionary's req=
    and ex= rules, as GS1's syntax engine applies them), or None. An AI does not exclude
    itself; requirements=False checks the exclusions only."""
    reqs, exs = ASSOCIATIONS.get(ai, ((), ()))
    present = set(present)
    for pattern in exs:
        clash = sorted(other for other in present if other != ai and _matches(pattern, other))
        if clash:
            return f"{title(ai)} ({ai}) cannot be used together with {title(clash[0])} ({clash[0]})"
    if requirements:
        for req in reqs:
            if not any(all(any(_matches(p, other) for other in present) for p in alt) for alt in req):
                shown = ", ".join("+".join(alt) for alt in req)
                return f"{title(ai)} ({ai}) needs {'one of ' if len(req) > 1 else ''}{shown} with it"
    return None
QUALIFIERS: frozenset[str] = frozenset(q for alts in PRIMARY_KEYS.values() for alt in alts for q in alt)
# "?" in the dictionary: allowed as a query data attribute
ATTRIBUTES: frozenset[str] = frozenset(ai for ai, spec in AI_TABLE.items() if spec.dl_attribute)
GCP_MIN_LENGTH = 4                 # the shortest GS1 Company Prefix
GTIN_SHORT_LENGTHS = (8, 12, 13)   # GTIN-8, GTIN-12 (UPC), GTIN-13 (EAN): padded to 14 digits


class ValueFault(ValidationError):
    """An AI value that breaks its format (uri.py adds where it was)."""


def title(ai: str) -> str:
    """GS1's data title of an AI ("GTIN", "BATCH/LOT"), or "AI nnn"."""
    spec = AI_TABLE.get(ai)
    return spec.title if spec is not None and spec.title else f"AI {ai}"


def describe_format(ai: str) -> str:
    """The AI's format in GS1 notation: "N14", "X..20", "N13 [X..17]"."""
    parts = []
    for c in AI_TABLE[ai].components:
        length = f"..{c.max}" if c.min != c.max else str(c.max)
        parts.append(f"[{c.kind}{length}]" if c.optional else f"{c.kind}{length}")
    return " ".join(parts)


_GMN_WEIGHTS = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83)
_CSET_32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CSET_82_ORDER = {ch: i for i, ch in enumerate(ALPHABETS["gs1"])}


def gmn_check_pair(payload: str) -> str:
    """The GS1 alphanumeric check character pair (General Specifications 7.9.5): prime
    weights from the right over set-82 values, mod 1021, as two set-32 characters."""
    total = sum(_CSET_82_ORDER[ch] * w for ch, w in zip(reversed(payload), _GMN_WEIGHTS))
    total %= 1021
    return _CSET_32[total >> 5] + _CSET_32[total & 31]


def _lint(linter: str, part: str, name: str, value: str) -> None:
    """One content check of a component: the dictionary's linters that need no outside table
    (ISO country and currency code lists and GS1's allocated prefixes are not checked)."""
    if linter == "csum":
        if not GS1.is_valid(part):
            raise ValueFault(f"{name} {value} has a wrong check digit ({part[-1]}; it should be "
                             f"{GS1.calc(part[:-1])})")
    elif linter == "csumalpha":
        if len(part) < 3 or any(ch not in _CSET_82_ORDER for ch in part[:-2]) \
                or gmn_check_pair(part[:-2]) != part[-2:]:
            want = gmn_check_pair(part[:-2]) if len(part) >= 3 else "?"
            raise ValueFault(f"{name} {value} has a wrong check character pair "
                             f"({part[-2:]}; it should be {want})")
    elif linter in gs1_ai.DATE_LINTERS:
        try:
            if len(part) != (8 if linter == "yyyymmdd" else 6):
                raise ValueError(part)
            dates.ymd(part, day_zero=linter == "yymmd0")
        except ValueError:
            shape = "YYYYMMDD" if linter == "yyyymmdd" else "YYMMDD"
            raise ValueFault(f"{name} {value} is not a date ({shape})") from None
    elif linter in ("hhmi", "hh", "mi", "ss"):
        limits = {"hhmi": (23, 59), "hh": (23,), "mi": (59,), "ss": (59,)}[linter]
        fields = [int(part[i:i + 2]) for i in range(0, len(part), 2)]
        if any(f > lim for f, lim in zip(fields, limits)):
            raise ValueFault(f"{name} {value} is not a time of day")
    elif linter in ("gcppos1", "gcppos2"):
        # a GS1 Company Prefix starts there: at least GCP_MIN_LENGTH digits (GS1's linter; which
        # prefixes are allocated needs GS1's prefix list, not checked)
        at = 0 if linter == "gcppos1" else 1
        lead = part[at:at + GCP_MIN_LENGTH]
        if len(lead) < GCP_MIN_LENGTH or not (lead.isdigit() and lead.isascii()):
            raise ValueFault(f"{name} {value} must start with a GS1 Company Prefix "
                             f"(at least {GCP_MIN_LENGTH} digits{' after the first' if at else ''})")
    elif linter == "zero":
        if part != "0":
            raise ValueFault(f"{name} {value} must start with 0")
    elif linter == "nonzero":
        if not part.strip("0"):
            raise ValueFault(f"{name} {value} must not be zero")
    elif linter == "yesno":
        if part not in ("0", "1"):
            raise ValueFault(f"{name} {value}: {part} is not 0 (no) or 1 (yes)")
    elif linter == "pieceoftotal":
        half = len(part) // 2
        piece, total = int(part[:half]), int(part[half:])
        if not 1 <= piece <= total:
            raise ValueFault(f"{name} {value}: piece {piece} of {total} is not a piece of the total")


def check_value(ai: str, value: str) -> str:
    """The value of AI ``ai`` checked against its GS1 format (kinds, lengths, check digits,
    dates); a GTIN of 8, 12 or 13 digits comes back padded to 14. ValueFault otherwise."""
    spec = AI_TABLE[ai]
    name = title(ai)
    shown = value
    if ai == "01" and len(value) in GTIN_SHORT_LENGTHS and value.isdigit() and value.isascii():
        shown = f"{value} ({len(value)} digits, read as GTIN-{len(value)})"
        value = value.rjust(14, "0")
    if not value:
        raise ValueFault(f"{name} is empty")
    if not spec.min_length <= len(value) <= spec.max_length:
        want = (f"{spec.max_length}" if spec.min_length == spec.max_length
                else f"{spec.min_length} to {spec.max_length}")
        extra = " (or a GTIN-8, -12 or -13)" if ai == "01" else ""
        raise ValueFault(f"{name} {value} has {len(value)} characters; AI {ai} takes {want}{extra} "
                         f"({describe_format(ai)})")
    pos = 0
    for c in spec.components:
        if pos >= len(value) and c.optional:
            break
        # only the last component may vary in length (the dictionary's rule)
        part = value[pos:pos + c.max]
        if len(part) < c.min:
            raise ValueFault(f"{name} {value} is too short for AI {ai} ({describe_format(ai)})")
        bad = next((ch for ch in part if ch not in _CSETS[c.kind]), None)
        if bad is not None:
            raise ValueFault(f"{name} {value}: character {bad!r} at position {value.index(bad, pos) + 1}"
                             f" is not allowed (AI {ai} takes {_KIND_NAMES[c.kind]} there)")
        for linter in c.linters:
            _lint(linter, part, name, shown)
        pos += len(part)
    if pos < len(value):
        raise ValueFault(f"{name} {value} is too long for AI {ai} ({describe_format(ai)})")
    return value


_AI_TEXT = re.compile(r"^\d{2,4}$")


def ai_of(segment: str) -> str | None:
    """The AI a path or query key names: digits of a known AI, or a legacy short name."""
    if _AI_TEXT.match(segment):
        return segment if segment in AI_TABLE else None
    return SHORT_NAMES.get(segment)
