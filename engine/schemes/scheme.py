"""A code scheme: the fields of a code, read from a TOML or JSON definition.

A scheme is data, not a class per format. Its fields, in code order, each have
a role:

- ``product``: fixed for a product (GTIN, 7-digit drug identifier, date and
  enterprise id...). Product fields are part of the code, bind the FF1 key
  and tweak, and may carry their own check character (a GTIN's).
- ``serial``: the FF1 serial, ``FF1(key, tweak, counter)``.
- ``check``: check character(s) computed per code by a check system over the
  code characters before it (``over = "code"``) or over the serial only.
- ``attribute``: not part of the code's identity but rendered with it (GS1
  expiry and lot); fixed for a batch.

Fields with a GS1 Application Identifier (``ai``) make the scheme renderable
as an element string, a human-readable string and a Digital Link URI.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field as _field
from functools import cached_property

import numpy as np

from .. import checks, dates
from ..errors import InvalidComponent, InvalidFormat, InvalidLength, ValidationError

ROLES = ("product", "serial", "check", "attribute")
ALPHABETS = {
    "digits": "0123456789",
    "alnum": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    # GS1 AI encodable character set 82 (X in the AI table).
    "gs1": "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz",
}
DATE_FORMATS = ("YYYYMMDD", "YYMMDD", "YYYYMM", "YYYY")
# Years a YYYYMM or YYYY field may hold (the year of manufacture or registration of an asset
# with an externally assigned code: a code naming year 0042 or 7301 is a misreading)
YEARS = (1900, 2099)
# Assigned: "issued" schemes are ours (the serial is FF1 of a counter); "external" ones are
# assigned by others (an equipment maker, a regulator) and registered, never issued here
ASSIGNED = ("issued", "external")


class _AllowedTables(dict):
    """alphabet -> 256-entry bool table, built on first use."""

    def __missing__(self, alphabet):
        table = np.zeros(256, dtype=bool)
        table[list(alphabet.encode("ascii"))] = True
        self[alphabet] = table
        return table


_ALLOWED = _AllowedTables()
MAX_FIELDS = 16         # the scan parser's C tables are sized by these two
MAX_CODE_LENGTH = 40
COUNTER_LIMIT = (1 << 64) - 1   # counters are u64: reservations, code keys, FF1's bulk path


@dataclass(frozen=True)
class Field:
    name: str
    role: str
    length: int | None = None          # exact length; None for variable attributes
    max_length: int | None = None      # attributes of variable length (GS1 lot X..20)
    alphabet: str = ALPHABETS["digits"]
    choices: tuple[str, ...] | None = None
    date: str | None = None            # "YYYYMMDD" or "YYMMDD" (GS1: DD may be 00), "YYYYMM", "YYYY"
    region: str | None = None          # "province": the first 2 digits name a GB/T 2260 province
    check: str | None = None           # product field whose last char is this system's check
    system: str | None = None          # role == "check": the check system
    over: str = "code"                 # role == "check": "code" or "serial"
    ai: str | None = None              # GS1 Application Identifier
    description: str = ""
    example: str | None = None

    @property
    def variable(self) -> bool:
        return self.length is None

    def normalise(self, value) -> str:
        """The canonical form of a value for this field, or a ValidationError naming it."""
        if value is None:
            raise InvalidComponent(f"field {self.name!r} needs a value", field=self.name)
        text = str(value).strip()
        if self.alphabet == ALPHABETS["alnum"] or self.alphabet == ALPHABETS["digits"]:
            text = text.upper()
        if self.length is not None and len(text) != self.length:
            raise InvalidLength(
                f"field {self.name!r} must be {self.length} characters, got {len(text)}",
                field=self.name)
        if self.length is None and not 1 <= len(text) <= self.max_length:
            raise InvalidLength(
                f"field {self.name!r} must be 1 to {self.max_length} characters, got {len(text)}",
                field=self.name)
        for pos, ch in enumerate(text):
            if ch not in self.alphabet:
                raise InvalidFormat(
                    f"field {self.name!r}: character {ch!r} at position {pos} is not allowed",
                    field=self.name, position=pos)
        if self.choices is not None and text not in self.choices:
            raise InvalidComponent(
                f"field {self.name!r} must be one of {', '.join(self.choices)}, got {text!r}",
                field=self.name)
        if self.date is not None:
            _check_date(self, text)
        if self.region is not None and text[:2] not in _provinces():
            raise InvalidComponent(f"field {self.name!r}: {text[:2]!r} is not a GB/T 2260 province "
                                   f"code (tracecode.regions)", field=self.name)
        if self.check is not None and not checks.get(self.check).is_valid(text):
            raise InvalidComponent(
                f"field {self.name!r}: {text!r} fails its {self.check} check character",
                field=self.name)
        return text


def _provinces() -> frozenset:
    """The 2-digit province codes of GB/T 2260 (the province-level entries of tracecode.regions)."""
    global _PROVINCES
    if _PROVINCES is None:
        from ..regions import BUILTIN
        _PROVINCES = frozenset(code[:2] for code in BUILTIN.by_code if code.endswith("0000"))
    return _PROVINCES


_PROVINCES = None


def _check_date(f: Field, text: str) -> None:
    if f.date in ("YYYYMM", "YYYY"):   # a month or a year: no day to check
        y, m = int(text[:4]), int(text[4:6] or 1)
        if not (YEARS[0] <= y <= YEARS[1] and 1 <= m <= 12):
            raise InvalidComponent(f"field {f.name!r}: {text!r} is not a valid {f.date} "
                                   f"(years {YEARS[0]}-{YEARS[1]})", field=f.name)
        return
    try:  # GS1 YYMMDD may say DD 00 (the month's last day); YYYYMMDD may not
        dates.ymd(text, day_zero=f.date != "YYYYMMDD")
    except ValueError:
        raise InvalidComponent(f"field {f.name!r}: {text!r} is not a valid {f.date} date",
                               field=f.name) from None


@dataclass(frozen=True)
class Scheme:
    name: str
    title: str
    fields: tuple[Field, ...]
    description: str = ""
    dl_base: str = "https://id.gs1.org"
    source: str | None = None          # the file it came from
    category: str | None = None        # its module in tracecode.categories (None: generic)
    assigned: str = "issued"           # "external": codes assigned by others, registered here
    _by_name: dict = _field(default_factory=dict, repr=False, compare=False)

    # -- structure -------------------------------------------------------------
    @cached_property
    def code_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.role != "attribute")

    @cached_property
    def product_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.role == "product")

    @cached_property
    def attribute_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.role == "attribute")

    @cached_property
    def serial(self) -> Field:
        return next(f for f in self.fields if f.role == "serial")

    @cached_property
    def check(self) -> Field | None:
        return next((f for f in self.fields if f.role == "check"), None)

    @cached_property
    def check_system(self):
        return checks.get(self.check.system) if self.check else None

    @cached_property
    def length(self) -> int:
        """Characters in the bare code."""
        return sum(f.length for f in self.code_fields)

    @cached_property
    def is_gs1(self) -> bool:
        return any(f.ai for f in self.fields)

    @cached_property
    def renders(self) -> tuple[str, ...]:
        return ("bare", "element", "hri", "dl") if self.is_gs1 else ("bare",)

    def field(self, name: str) -> Field:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidComponent(f"scheme {self.name!r} has no field {name!r}", field=name) from None

    def offset(self, name: str) -> int:
        """Start of a code field in the bare code."""
        pos = 0
        for f in self.code_fields:
            if f.name == name:
                return pos
            pos += f.length
        raise InvalidComponent(f"{name!r} is not a code field of {self.name!r}", field=name)

    @property
    def external(self) -> bool:
        """Its codes are assigned by others (registered, never issued): the serial is plain."""
        return self.assigned == "external"

    # -- FF1 domain and the guessing bound ------------------------------------------
    @cached_property
    def serial_domain(self) -> int:
        return len(self.serial.alphabet) ** self.serial.length

    @cached_property
    def capacity(self) -> int:
        """Codes one product may ever receive: a guess hits with p < 1/10,000 (EU 2016/161
        Art. 4), strictly below, so one less than a ten-thousandth of the serial domain;
        and counters are 64-bit (LMDB keys, FF1's bulk path), so at most 2**64 - 1."""
        return min((self.serial_domain - 1) // 10_000, COUNTER_LIMIT)

    # -- values --------------------------------------------------------------------
    def product_values(self, values: dict) -> dict:
        """Validate and normalise the product fields; unknown names are an error."""
        return self._values(values, self.product_fields, "product")

    def attribute_values(self, values: dict | None) -> dict:
        """Validate the batch attributes (all optional)."""
        values = {k: v for k, v in (values or {}).items() if v not in (None, "")}
        return self._values(values, self.attribute_fields, "attribute", required=False)

    def _values(self, values, fields, role, required=True):
        known = {f.name for f in fields}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidComponent(
                f"scheme {self.name!r} has no {role} field {unknown[0]!r}; "
                f"its {role} fields are: {', '.join(sorted(known)) or 'none'}", field=unknown[0])
        out = {}
        for f in fields:
            if f.name in values:
                out[f.name] = f.normalise(values[f.name])
            elif required:
                raise InvalidComponent(f"scheme {self.name!r} needs a value for {f.name!r}",
                                       field=f.name)
        return out

    def example_product(self) -> dict:
        """The product fields' example values from the definition (for docs and tests)."""
        return {f.name: f.example for f in self.product_fields}

    def product_key(self, product: dict) -> bytes:
        """Canonical bytes naming a product: binds its FF1 key, tweak and counter."""
        return "\x1f".join(f"{f.name}={product[f.name]}" for f in self.product_fields).encode()

    def tweak(self, product: dict) -> bytes:
        return b"tracecode\x00" + self.name.encode() + b"\x00" + self.product_key(product)

    # -- codes ---------------------------------------------------------------------
    def split(self, code: str) -> dict:
        """The code fields of a bare code, by name (no validation)."""
        out, pos = {}, 0
        for f in self.code_fields:
            out[f.name] = code[pos:pos + f.length]
            pos += f.length
        return out

    @cached_property
    def case_insensitive(self) -> bool:
        """Lower case may be read as upper case: no field's alphabet has lower case."""
        return not any(ch.islower() for f in self.code_fields for ch in f.alphabet)

    def compact(self, code: str) -> str:
        """Strip whitespace and separators; upper-case where the alphabets allow."""
        text = re.sub(r"[\s\-]", "", str(code))
        return text.upper() if self.case_insensitive else text

    def validate(self, code: str) -> str:
        """The compact bare code if it is well-formed and its check characters match.

        Raises InvalidLength, InvalidFormat (with field and position),
        InvalidComponent or InvalidChecksum. This says nothing about whether
        the code was issued: that is the index's job.
        """
        text = self.compact(code)
        if len(text) != self.length:
            raise InvalidLength(f"{self.name} codes have {self.length} characters, got {len(text)}")
        pos = 0
        for f in self.code_fields:
            part = text[pos:pos + f.length]
            for i, ch in enumerate(part):
                if ch not in f.alphabet:
                    raise InvalidFormat(
                        f"character {ch!r} at position {pos + i} is not allowed in field {f.name!r}",
                        field=f.name, position=pos + i)
            if f.role == "product":
                f.normalise(part)
            pos += f.length
        if self.check is not None:
            start = 0 if self.check.over == "code" else self.offset(self.serial.name)
            end = self.offset(self.check.name) + self.check.length
            try:
                self.check_system.validate(text[start:end])
            except ValidationError as exc:  # name the field for the caller
                exc.field = self.check.name
                raise
        return text

    def validate_many(self, codes) -> np.ndarray:
        """Bulk is_valid over a numpy ``S`` array of bare codes, vectorised.

        Lower case is accepted where the alphabets allow, as compact() does;
        other separators are not stripped here.
        """
        arr = np.asarray(codes)
        if arr.dtype.kind != "S":
            raise TypeError(f"expected a numpy bytes (S) array, got {arr.dtype}")
        if self.case_insensitive:
            arr = np.char.upper(arr)
        ok = np.char.str_len(arr) == self.length
        rows = np.ascontiguousarray(arr.astype(f"S{self.length}")).view(np.uint8)
        rows = rows.reshape(len(arr), self.length)
        pos = 0
        for f in self.code_fields:
            cols = rows[:, pos:pos + f.length]
            ok &= _ALLOWED[f.alphabet][cols].all(axis=1)
            if f.role == "product" and (f.choices or f.date or f.check or f.region):
                # Few distinct products per batch: validate each distinct value once.
                values, inverse = np.unique(cols.copy().view(f"S{f.length}").ravel(),
                                            return_inverse=True)
                good = np.array([self._field_ok(f, v) for v in values], dtype=bool)
                ok &= good[inverse]
            pos += f.length
        if self.check is not None:
            start = 0 if self.check.over == "code" else self.offset(self.serial.name)
            ok &= self.check_system.validate_many(np.ascontiguousarray(rows[:, start:pos]))
        return ok

    def product_faults(self, prod: np.ndarray) -> np.ndarray:
        """Rows of product characters ((N, width) uint8: the product fields in order,
        as the scan parser cuts them from well-formed codes): the code_fields index of
        each row's first field that breaks its rule (choices, date, check character),
        -1 where none does. Vectorised, so a batch of distinct made-up products costs
        no Python per product; it agrees with product_values."""
        out = np.full(len(prod), -1, np.int16)
        pos = 0
        for f in self.product_fields:
            cols = np.ascontiguousarray(prod[:, pos:pos + f.length])
            pos += f.length
            if not (f.choices or f.date or f.check or f.region) or not len(cols):
                continue
            bad = ~_field_ok_many(f, cols)
            out[bad & (out < 0)] = self.code_fields.index(f)
        return out

    @staticmethod
    def _field_ok(f: Field, value: bytes) -> bool:
        try:
            f.normalise(value.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return False
        return True

    def is_valid(self, code: str) -> bool:
        try:
            self.validate(code)
        except ValueError:
            return False
        return True


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int32)


_CHOICE_TABLES: dict[tuple, np.ndarray] = {}


def _in_choices(choices, length: int, cols: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each value (cols: (N, length) bytes; values: the same as S{length}) is one
    of the choices. Fields of 1 or 2 characters index a table by their bytes: O(N), where
    np.isin over byte strings sorted 10^6 of them (0.12 s per field of 99 choices)."""
    allowed = np.array([c.encode() for c in choices], f"S{length}")   # as np.isin compared them
    if length > 2:
        allowed = np.unique(allowed)
        at = np.minimum(np.searchsorted(allowed, values), len(allowed) - 1)
        return allowed[at] == values
    table = _CHOICE_TABLES.get((tuple(choices), length))
    if table is None:
        table = np.zeros(256 ** length, bool)
        table[_byte_number(allowed.view(np.uint8).reshape(-1, length))] = True
        _CHOICE_TABLES[(tuple(choices), length)] = table
    return table[_byte_number(cols)]


def _byte_number(cols: np.ndarray) -> np.ndarray:
    """(N, 1 or 2) bytes as one integer each, the first byte high."""
    number = cols[:, 0].astype(np.intp)
    if cols.shape[1] == 2:
        number = (number << 8) | cols[:, 1]
    return number


def _field_ok_many(f: Field, cols: np.ndarray) -> np.ndarray:
    """Field.normalise's rules over (N, length) characters the parser accepted."""
    values = cols.view(f"S{f.length}").ravel()
    ok = np.ones(len(cols), bool)
    if f.choices:
        ok &= _in_choices(f.choices, f.length, cols, values)
    if f.date == "YYYYMMDD":
        d = cols.astype(np.int32) - 48
        y = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
        m, day = d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]
        leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
        last = _MONTH_DAYS[np.clip(m, 0, 12)] + (leap & (m == 2))
        ok &= (y >= 1) & (m >= 1) & (m <= 12) & (day >= 1) & (day <= last)
    elif f.date in ("YYYYMM", "YYYY"):
        d = cols.astype(np.int32) - 48
        y = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
        ok &= (y >= YEARS[0]) & (y <= YEARS[1])
        if f.date == "YYYYMM":
            m = d[:, 4] * 10 + d[:, 5]
            ok &= (m >= 1) & (m <= 12)
    elif f.date is not None:  # YYMMDD's century depends on the year: once per distinct value
        distinct, inverse = np.unique(values, return_inverse=True)
        ok &= np.array([Scheme._field_ok(f, v) for v in distinct], bool)[inverse.ravel()]
    if f.region is not None:
        table = np.zeros(100, bool)   # by the 2 digits' number: a lookup, not a search
        table[[int(p) for p in _provinces()]] = True
        d = cols[:, :2].astype(np.int32) - 48
        digits = ((d >= 0) & (d <= 9)).all(axis=1)
        ok &= digits & table[np.clip(d[:, 0] * 10 + d[:, 1], 0, 99)]
    if f.check:
        ok &= checks.get(f.check).validate_many(np.ascontiguousarray(values))
    return ok
