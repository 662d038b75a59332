"""Registry records and the rows they are read from.

An approval (veterinary) or registration (pesticide) record names its holder
(company; for veterinary drugs also the 5-digit enterprise id that trace codes
carry), the products it covers, its validity (status valid, suspended or
revoked, since when, and the date it runs out) and, for pesticides, the company
specification codes (digits 9-11 of the label code) the holder declared.

Rows come from CSV or JSON files as dicts keyed by column name; see
importer.py for the columns. A row either carries a whole record or, with only
the number and a status (and status_since), changes the status of a stored one.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, replace

from .. import categories, limits, schemes
from ..errors import TracecodeError, ValidationError

STATUSES = ("valid", "suspended", "revoked")
_STATUS_ALIASES = {"有效": "valid", "正常": "valid", "暂停": "suspended", "停用": "suspended",
                   "撤销": "revoked", "注销": "revoked", "吊销": "revoked"}
LEVELS = {"unit": 1, "box": 2, "case": 3, "pallet": 4}   # national packaging levels 1..9
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
MAX_LOT = limits.REGISTRY_LOT_BYTES   # bytes (UTF-8): the width of the code-data record's lot


class RowError(TracecodeError, ValueError):
    """One row that cannot be taken; the importer reports it with its line."""


def clean(value) -> str:
    """A cell's text: NFKC-folded (full-width to ASCII), trimmed; '' for None."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def bounded(value, what: str, max_bytes: int = limits.REGISTRY_TEXT_BYTES) -> str:
    """A cell's text (clean), within the bounds of stored text (limits.py), or RowError."""
    text = clean(value)
    try:
        limits.text(what, text, max_bytes)
    except ValidationError as exc:
        raise RowError(str(exc)) from None
    return text


def parse_date(text: str, what: str) -> _dt.date:
    """YYYYMMDD, YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD or YYYY年M月D日."""
    t = clean(text)
    m = _DATE.fullmatch(t)
    parts = (t[:4], t[4:6], t[6:]) if len(t) == 8 and t.isascii() and t.isdigit() else m.groups() if m else None
    if parts is None:
        raise RowError(f"{what} {t!r} is not a date (YYYY-MM-DD or YYYYMMDD)")
    try:
        return _dt.date(*map(int, parts))
    except ValueError:
        raise RowError(f"{what} {text!r} is not a calendar date") from None


def ymd(d: _dt.date) -> int:
    """A date as the integer YYYYMMDD (how code records store dates)."""
    return d.year * 10000 + d.month * 100 + d.day


def level_of(text) -> int:
    t = clean(text).lower()
    if t in LEVELS:
        return LEVELS[t]
    if t.isascii() and t.isdigit() and 1 <= int(t) <= 9:
        return int(t)
    raise RowError(f"packaging level {text!r} is not 1-9 or one of {', '.join(LEVELS)}")


def kind_of_number(text: str) -> str | None:
    """The registry kind whose numbers the text is meant as (each category's number module
    decides), or None."""
    for cat in categories.with_registry():
        if cat.registry.number_module().looks_like(text):
            return cat.registry.kind
    return None


def canonical_number(text: str, kind: str | None = None) -> tuple[str, str]:
    """(kind, canonical number) of an approval or registration number, or RowError."""
    found = kind_of_number(text)
    if found is None:
        regs = [c.registry for c in categories.with_registry()]
        raise RowError(f"{clean(text)!r} is neither " + " nor ".join(
            f"a {r.noun} number ({r.number_format})" for r in regs))
    if kind is not None and found != kind:
        raise RowError(f"{clean(text)!r} is not a {categories.of_registry(kind).registry.noun} "
                       f"number")
    try:
        return found, categories.of_registry(found).registry.number_module().validate(text)
    except ValidationError as exc:
        raise RowError(str(exc)) from None


@dataclass(frozen=True)
class Product:
    name: str
    dosage_form: str | None = None
    specification: str | None = None


@dataclass(frozen=True)
class ApprovalRecord:
    kind: str                           # its category's registry kind: "vet", "pesticide"...
    number: str                         # canonical (approvals.validate / registrations.validate)
    company: str                        # the holder
    products: tuple = ()                # Product, one per name/form/specification covered
    valid_until: str = ""               # ISO date, last day of validity
    status: str = "valid"
    status_since: str | None = None     # ISO date the status took effect (before it: valid)
    enterprise_id: str | None = None    # vet: the id in digits 9-13 of its trace codes
    spec_codes: tuple = ()              # pesticide: declared spec codes (label code digits 9-11)
    source: str | None = None           # the file the record last came from
    updated: float = 0.0                # when it was last written

    def validity(self, on: _dt.date) -> tuple[bool, str]:
        """(valid on that date, why not / how long)."""
        since = _dt.date.fromisoformat(self.status_since) if self.status_since else None
        if self.status != "valid" and (since is None or since <= on):
            return False, f"{self.status}" + (f" since {self.status_since}" if since else "")
        if _dt.date.fromisoformat(self.valid_until) < on:
            return False, f"expired {self.valid_until}"
        return True, f"valid until {self.valid_until}"

    @property
    def code_prefix(self) -> str | None:
        """The leading characters of the record's codes, if its category's codes encode the
        number (pesticides: the first 7 digits of the registration's label codes)."""
        cat = next((c for c in categories.with_registry() if c.registry.kind == self.kind), None)
        prefix = cat.registry.code_prefix if cat else None
        return prefix(self.number) if prefix else None

    def content(self) -> dict:
        """What an import compares: the record without its bookkeeping."""
        d = asdict(self)
        d.pop("source")
        d.pop("updated")
        return d

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "ApprovalRecord":
        d = json.loads(raw)
        d["products"] = tuple(Product(**p) for p in d["products"])
        d["spec_codes"] = tuple(d["spec_codes"])
        return cls(**d)


@dataclass(frozen=True)
class StatusChange:
    """A row with only a number and a status: applies to the stored record."""
    kind: str
    number: str
    status: str
    status_since: str | None = None


def _status(row) -> str:
    s = clean(row.get("status")).lower() or "valid"
    s = _STATUS_ALIASES.get(s, s)
    if s not in STATUSES:
        raise RowError(f"status {row.get('status')!r} is not one of {', '.join(STATUSES)}")
    return s


def spec_codes(value) -> tuple:
    """Declared spec codes (3 digits each) from a list or a separated cell, sorted."""
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,;/、]+", clean(value))
    codes = tuple(sorted({clean(c) for c in items if clean(c)}))
    bad = [c for c in codes if not (len(c) == 3 and c.isascii() and c.isdigit())]
    if bad:
        raise RowError(f"spec code {bad[0]!r} is not 3 digits")
    return codes


def approval_from_row(row: dict, kind: str | None = None):
    """An ApprovalRecord (or a StatusChange) from one row, or RowError."""
    number = row.get("number")
    if not clean(number):
        raise RowError("no approval or registration number")
    kind, number = canonical_number(number, kind)
    status = _status(row)
    since = clean(row.get("status_since"))
    since = parse_date(since, "status_since").isoformat() if since else None
    required = ["product", "company", "valid_until"]
    given = [k for k in required if clean(row.get(k))]
    extra = ("dosage_form", "specification", "spec_codes", "enterprise_id")
    if not given and not any(clean(row.get(k)) for k in extra):
        if not clean(row.get("status")):  # a bare number must not reinstate a revoked approval
            raise RowError(f"{number}: a row with only the number needs a status")
        return StatusChange(kind, number, status, since)
    missing = [k for k in required if k not in given]
    if missing:
        raise RowError(f"{number}: missing {', '.join(missing)} (a row changing only the status "
                       f"gives just the number, status and status_since)")
    reg = categories.of_registry(kind).registry
    own = reg.record(row, number) if reg.record else {}   # the fields only this kind has
    product = Product(bounded(row["product"], "product"),
                      bounded(row.get("dosage_form"), "dosage_form") or None,
                      bounded(row.get("specification"), "specification") or None)
    return ApprovalRecord(kind=kind, number=number, company=bounded(row["company"], "company"),
                          products=(product,), **own,
                          valid_until=parse_date(row["valid_until"], "valid_until").isoformat(),
                          status=status, status_since=since)


def merge(first: ApprovalRecord, more: ApprovalRecord) -> ApprovalRecord:
    """Rows of one number in one file: more products of the same holder, or RowError."""
    for name in ("company", "enterprise_id", "valid_until", "status", "status_since"):
        if getattr(first, name) != getattr(more, name):
            raise RowError(f"{first.number}: {name} {getattr(more, name)!r} differs from "
                           f"{getattr(first, name)!r} given earlier for the same number")
    products = first.products + tuple(p for p in more.products if p not in first.products)
    return replace(first, products=products,
                   spec_codes=tuple(sorted(set(first.spec_codes) | set(more.spec_codes))))


@dataclass(frozen=True)
class CodeRow:
    """One row of national code data, validated on its own (linking comes after)."""
    code: str
    kind: str
    number: str                 # the approval / registration it names
    lot: str
    produced: _dt.date
    expiry: _dt.date
    level: int
    parent: str | None = None
    scheme: str = ""            # the registry category's scheme whose layout the code has


def registry_schemes(available: dict | None = None) -> list:
    """(scheme, registry kind) of every scheme whose category has a registry."""
    return [(s, c.registry.kind) for c in categories.with_registry()
            for s in categories.schemes_of(c.name, available)]


def _positions(scheme, name) -> str:
    a, n = scheme.offset(name) + 1, scheme.field(name).length
    return f"digit {a}" if n == 1 else f"digits {a}-{a + n - 1}"


class CodeReader:
    """Reads national code rows by the layouts of the registry categories' schemes
    (``available``: the schemes, built-in if None). Built once per import: it remembers
    the product field values and the (record, code fields) links it has checked, which
    repeat from row to row."""

    def __init__(self, available: dict | None = None):
        self.available = available
        self.pool = registry_schemes(available)
        self._fits: dict = {}       # length -> [(scheme, kind, digits only, product spans)]
        for scheme, kind in self.pool:
            digits = all(set(f.alphabet) <= set("0123456789") for f in scheme.code_fields)
            spans = tuple((f, scheme.offset(f.name), scheme.offset(f.name) + f.length)
                          for f in scheme.code_fields if f.role == "product")
            self._fits.setdefault(scheme.length, []).append((scheme, kind, digits, spans))
        self._fields: dict = {}     # (scheme, field, value) -> why not (None: fine)
        self._products: dict = {}   # (scheme, product characters) -> why not
        self._links: dict = {}      # (scheme, record, code fields) -> why not
        self._linkers: dict = {}    # scheme -> (its category's link, the fields' spans)
        self._numbers: dict = {}    # (number as written, kind) -> canonical, or its RowError

    def _alphabet_ok(self, scheme, digits: bool, code: str) -> bool:
        if digits:
            return code.isascii() and code.isdigit()
        return all(ch in f.alphabet for f, part in zip(scheme.code_fields, scheme.split(code).values())
                   for ch in part)

    def _field_why(self, scheme, f, part) -> str | None:
        key = (scheme.name, f.name, part)
        if key not in self._fields:
            try:
                f.normalise(part)
                self._fields[key] = None
            except ValidationError:
                where = _positions(scheme, f.name)
                self._fields[key] = (
                    f"{where} are not a date ({f.date})" if f.date else
                    f"{where} ({f.description or f.name}) must be one of "
                    f"{', '.join(f.choices)}" if f.choices else f"{where} ({f.name}) is not valid")
        return self._fields[key]

    def code(self, text, what):
        """(code, scheme, registry kind) of a code, or RowError."""
        code = re.sub(r"[\s\-]", "", clean(text))
        fits = [(s, k, spans) for s, k, digits, spans in self._fits.get(len(code), ())
                if self._alphabet_ok(s, digits, code)]
        if not fits:
            raise RowError(f"{what} {clean(text)!r} is not a " + " or ".join(
                f"{s.length}-digit {categories.of_registry(k).registry.noun.split()[0]}"
                for s, k in self.pool) + " code")
        why = None
        for scheme, kind, spans in fits:
            key = (scheme.name, tuple(code[a:b] for _, a, b in spans))
            if key not in self._products:   # product fields repeat from row to row
                self._products[key] = next(
                    (w for f, a, b in spans for w in (self._field_why(scheme, f, code[a:b]),) if w),
                    None)
            why = self._products[key]
            if why is None:
                return code, scheme, kind
        raise RowError(f"{what} {code}: {why}")

    def row(self, row: dict) -> CodeRow:
        """A CodeRow of one row, or RowError."""
        code, scheme, kind = self.code(row.get("code"), "code")
        if not clean(row.get("number")):
            raise RowError(f"{code}: no approval or registration number")
        key = (row["number"], kind)
        if key not in self._numbers:
            try:
                self._numbers[key] = canonical_number(row["number"], kind)[1]
            except RowError as exc:
                self._numbers[key] = exc
        number = self._numbers[key]
        if isinstance(number, RowError):
            raise RowError(str(number))
        lot = clean(row.get("lot"))
        if not lot or len(lot.encode()) > MAX_LOT or not lot.isprintable():
            raise RowError(f"{code}: lot must be 1 to {MAX_LOT} bytes of printable text, got "
                           f"{lot[:MAX_LOT + 8]!r}{'...' if len(lot) > MAX_LOT + 8 else ''}")
        produced = parse_date(row.get("production_date"), "production_date")
        expiry = parse_date(row.get("expiry_date"), "expiry_date")
        if expiry < produced:
            raise RowError(f"{code}: expiry {expiry} is before production {produced}")
        parent = None
        if clean(row.get("parent_code")):
            parent, parent_scheme, _ = self.code(row["parent_code"], "parent_code")
            if parent_scheme is not scheme or parent == code:
                raise RowError(f"{code}: parent {parent} is not another code of the same kind")
        return CodeRow(code, kind, number, lot, produced, expiry,
                       level_of(row.get("packaging_level")), parent, scheme.name)

    def link(self, row: CodeRow, rec) -> str | None:
        """Why a code row does not belong to its approval record (None: it does), by the
        category's rule over the code's fields (its scheme's layout)."""
        if row.scheme not in self._linkers:
            reg = categories.of_registry(row.kind).registry
            scheme = schemes.get(row.scheme, self.available)
            self._linkers[row.scheme] = reg.link, tuple(
                (f, scheme.offset(f), scheme.offset(f) + scheme.field(f).length)
                for f in reg.fields)
        check, spans = self._linkers[row.scheme]
        if check is None:
            return None
        chars = tuple(row.code[a:b] for _, a, b in spans)
        key = (row.scheme, rec.number, chars)
        if key not in self._links:
            self._links[key] = check(rec, {f: v for (f, _, _), v in zip(spans, chars)})
        why = self._links[key]
        return f"{row.code}: {why}" if why else None


def code_from_row(row: dict, available: dict | None = None) -> CodeRow:
    """A CodeRow of one row, or RowError (CodeReader: many rows)."""
    return CodeReader(available).row(row)
