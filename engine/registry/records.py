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

from .. import limits
from ..errors import TracecodeError, ValidationError
from . import approvals, registrations

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
    parts = (t[:4], t[4:6], t[6:]) if len(t) == 8 and t.isdigit() else m.groups() if m else None
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
    if t.isdigit() and 1 <= int(t) <= 9:
        return int(t)
    raise RowError(f"packaging level {text!r} is not 1-9 or one of {', '.join(LEVELS)}")


def kind_of_number(text: str) -> str | None:
    if approvals.looks_like(text):
        return "vet"
    if registrations.looks_like(text):
        return "pesticide"
    return None


def canonical_number(text: str, kind: str | None = None) -> tuple[str, str]:
    """(kind, canonical number) of an approval or registration number, or RowError."""
    found = kind_of_number(text)
    if found is None:
        raise RowError(f"{clean(text)!r} is neither a veterinary approval number (兽药字(YYYY)"
                       f"#########) nor a pesticide registration number (PD/WP/LS/WL + 8 digits)")
    if kind is not None and found != kind:
        want = "veterinary approval" if kind == "vet" else "pesticide registration"
        raise RowError(f"{clean(text)!r} is not a {want} number")
    module = approvals if found == "vet" else registrations
    try:
        return found, module.validate(text)
    except ValidationError as exc:
        raise RowError(str(exc)) from None


@dataclass(frozen=True)
class Product:
    name: str
    dosage_form: str | None = None
    specification: str | None = None


@dataclass(frozen=True)
class ApprovalRecord:
    kind: str                           # "vet" or "pesticide"
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
        """Pesticides: the first 7 digits of the registration's label codes."""
        return registrations.code_prefix(self.number) if self.kind == "pesticide" else None

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


def _spec_codes(value) -> tuple:
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,;/、]+", clean(value))
    codes = tuple(sorted({clean(c) for c in items if clean(c)}))
    bad = [c for c in codes if not (len(c) == 3 and c.isdigit())]
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
    required = ["product", "company", "valid_until"] + (["enterprise_id"] if kind == "vet" else [])
    given = [k for k in required if clean(row.get(k))]
    if not given and not any(clean(row.get(k)) for k in ("dosage_form", "specification", "spec_codes")):
        if not clean(row.get("status")):  # a bare number must not reinstate a revoked approval
            raise RowError(f"{number}: a row with only the number needs a status")
        return StatusChange(kind, number, status, since)
    missing = [k for k in required if k not in given]
    if missing:
        raise RowError(f"{number}: missing {', '.join(missing)} (a row changing only the status "
                       f"gives just the number, status and status_since)")
    enterprise = None
    if kind == "vet":
        enterprise = clean(row["enterprise_id"])
        if not (len(enterprise) == 5 and enterprise.isdigit()):
            raise RowError(f"{number}: enterprise_id {row['enterprise_id']!r} is not 5 digits")
    spec = _spec_codes(row.get("spec_codes")) if kind == "pesticide" else ()
    if kind == "vet" and clean(row.get("spec_codes")):
        raise RowError(f"{number}: spec_codes belong to pesticide registrations")
    product = Product(bounded(row["product"], "product"),
                      bounded(row.get("dosage_form"), "dosage_form") or None,
                      bounded(row.get("specification"), "specification") or None)
    return ApprovalRecord(kind=kind, number=number, company=bounded(row["company"], "company"),
                          products=(product,), enterprise_id=enterprise, spec_codes=spec,
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


def _code(text, what) -> str:
    code = re.sub(r"[\s\-]", "", clean(text))
    if not code.isascii() or not code.isdigit() or len(code) not in (24, 32):
        raise RowError(f"{what} {clean(text)!r} is not a 24-digit veterinary or 32-digit "
                       f"pesticide code")
    if len(code) == 24:
        try:
            _dt.date(int(code[:4]), int(code[4:6]), int(code[6:8]))
        except ValueError:
            raise RowError(f"{what} {code}: digits 1-8 are not a date (YYYYMMDD)") from None
    elif code[0] not in "123" or code[7] not in "123":
        raise RowError(f"{what} {code}: digit 1 (registration class) and digit 8 (production "
                       f"type) must be 1, 2 or 3")
    return code


def code_from_row(row: dict) -> CodeRow:
    code = _code(row.get("code"), "code")
    kind = "vet" if len(code) == 24 else "pesticide"
    if not clean(row.get("number")):
        raise RowError(f"{code}: no approval or registration number")
    _, number = canonical_number(row["number"], kind)
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
        parent = _code(row["parent_code"], "parent_code")
        if len(parent) != len(code) or parent == code:
            raise RowError(f"{code}: parent {parent} is not another code of the same kind")
    return CodeRow(code, kind, number, lot, produced, expiry, level_of(row.get("packaging_level")),
                   parent)
