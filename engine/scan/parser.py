"""Parsing what scanners send: one scan, or millions in one call.

Forms understood (the C core in _parse.pyx does the per-scan work):

- bare codes of every scheme, with surrounding whitespace, typed spaces or
  dashes, full-width characters and lower case (where the scheme's alphabets
  allow) normalised;
- GS1 element strings with or without a symbology identifier (]d2 ]Q3 ]C1 ]e0
  ]J1), GS-separated variable fields, AIs in any order; the human-readable
  form with parentheses; GS1 Digital Link URIs on any domain (path qualifiers,
  query attributes, percent-encoding);
- QR payloads of fields: the veterinary five-field form (code, product
  information, approval number, company, phone), and trace URLs ending in a
  code (the pesticide label QR).

Precedence when a scan could be read more than one way: (1) a GS1 symbology
identifier or a leading GS means an element string; (2) the shape: '(' starts
the human-readable form, http(s):// a URL, a ',' ';' or line break a QR payload
of fields; (3) a bare code is read by the scheme whose length, alphabets and
check characters it satisfies; when several do, by the one whose rules it
satisfies best (product fields, its category's prefix, a product the index
issued: tracecode.categories.detect), and AMBIGUOUS, naming the candidates,
when that does not decide; (4) a code of no scheme's length that starts with
AI 00 or 01 is an element string sent without separators.
"""
from __future__ import annotations

from dataclasses import dataclass, field as _field

import numpy as np

from .. import dates
from .. import schemes as _schemes
from ..cache import BoundedCache
from .. import categories
from ..categories import detect
from ..errors import ValidationError
from ..issuance import Issuer
from ..schemes.scheme import ALPHABETS
from ._parse import SCAN_DTYPE, Fault, Form, ScanCore

FORM_NAMES = {Form.BARE: "bare", Form.ELEMENT: "element", Form.HRI: "hri",
              Form.DIGITAL_LINK: "digital-link", Form.QR_FIELDS: "qr-fields", Form.URL: "url",
              Form.NO_FORM: None}
PRODUCT_CACHE = 4096     # validated products remembered per parser (LRU)
ISSUER_CACHE = 1024      # issuers (HKDF key, AES key schedule) remembered per parser (LRU)


class ScanError(ValidationError):
    """A scan that fits no scheme, or fits one but is wrong.

    ``fault`` says what (a Fault), ``field`` which field or AI, ``position``
    where in the normalised scan (within the compact code for a bare code).
    """

    def __init__(self, message, *, fault, form=None, scheme=None, field=None, position=None,
                 candidates=()):
        super().__init__(message, field=field, position=position)
        self.fault = fault
        self.form = form
        self.scheme = scheme
        self.candidates = tuple(candidates)   # AMBIGUOUS: the schemes it fits equally well


@dataclass(frozen=True)
class Scan:
    text: str                       # the scan after normalisation
    form: str                       # bare, element, hri, digital-link, qr-fields or url
    scheme: str | None              # None: GS1 data no scheme of ours issued
    code: str | None                # the canonical bare code (GTIN + serial for GS1)
    fields: dict = _field(default_factory=dict)   # scheme fields, GS1 attributes
    ais: dict = _field(default_factory=dict)      # every GS1 AI read, "01" -> value
    extra: dict = _field(default_factory=dict)    # other QR payload fields
    check_ok: bool = True
    counter: int | None = None      # FF1 counter, when a master key was given


def _ordered(pool: dict) -> list:
    """Built-in schemes, then custom ones, each by name. Which scheme reads a code never
    depends on this order (see categories.detect); it names the scheme a fault is
    reported against when a code of a shared length fits none."""
    builtin = _schemes.builtin()
    return sorted(pool.values(), key=lambda s: (builtin.get(s.name) is not s, s.name))


class ScanBatch:
    """parse_many's result: one record per scan, numpy arrays throughout.

    ``records`` has fault, form, scheme (index into ``scheme_names``, -1 none),
    field, position, code, expiry and lot; ``counter``/``counter_ok`` come from
    FF1 when the parser has a master key.
    """

    def __init__(self, records, scheme_names, counter, counter_ok, groups=()):
        self.records = records
        self.scheme_names = scheme_names
        self.counter = counter
        self.counter_ok = counter_ok
        # (scheme, Issuer, rows) per distinct valid product, when there is a key:
        # the index looks batches up per group instead of grouping again
        self.groups = list(groups)

    def __len__(self):
        return len(self.records)

    @property
    def ok(self) -> np.ndarray:
        return self.records["fault"] == Fault.OK

    def __getitem__(self, name):
        return self.records[name]


class ScanParser:
    """Parses scans against a set of schemes; with a master key, recovers counters."""

    def __init__(self, schemes: dict | None = None, master_key=None, *, expired_before=None):
        """expired_before: a date; GS1 scans whose expiry (17) is earlier fail with
        EXPIRED_DATE (off by default: verification reports EXPIRED with the product)."""
        pool = _schemes.builtin() if schemes is None else schemes
        self.schemes = _ordered(pool)
        self.names = [s.name for s in self.schemes]
        self._core = ScanCore(self.schemes, ALPHABETS["gs1"].encode("ascii"))
        self.master_key = master_key
        # Bounded: every distinct product a scan names would otherwise stay for good.
        self._issuers = BoundedCache(ISSUER_CACHE)     # (scheme, product key) -> Issuer
        self._products = BoundedCache(PRODUCT_CACHE)   # (scheme, characters) -> dict or ScanError
        self._span_cache: dict = {}                    # scheme name -> spans (one per scheme)
        self.expired_before = expired_before

    # -- bulk --------------------------------------------------------------------------
    def parse_many(self, scans, offsets=None, out=None, *, known=None) -> ScanBatch:
        """Parse many scans in one call: a list of str/bytes, or a packed buffer
        (bytes or uint8 array) with int64 ``offsets`` (len N + 1). ``out``: a
        SCAN_DTYPE array of N records to reuse.

        ``known``: the products that can have genuine codes (the index's issued
        products: ``rows(scheme, characters)`` -> bool array, ``has(scheme, chars)``).
        Scans of other products get no counter and no group, without an Issuer or
        FF1: a flood of made-up products costs no more than genuine scans."""
        if offsets is None:
            scans = scans if isinstance(scans, list) else list(scans)
            joined = None
            if all(map(str.__instancecheck__, scans)):
                joined = "".join(scans)
            if joined is not None and joined.isascii():  # one encode, lengths in C
                items, data = scans, np.frombuffer(joined.encode("ascii"), np.uint8)
            else:
                items = [s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s for s in scans]
                data = np.frombuffer(b"".join(items), np.uint8)
            lengths = np.fromiter(map(len, items), np.int64, len(items))
            offsets = np.zeros(len(items) + 1, np.int64)
            np.cumsum(lengths, out=offsets[1:])
        else:
            data = np.frombuffer(scans, np.uint8) if isinstance(scans, (bytes, bytearray)) \
                else np.ascontiguousarray(scans, np.uint8)
            offsets = np.ascontiguousarray(offsets, np.int64)
        several = np.zeros(1, np.int64)  # the caller's, not the core's: threads share a parser
        records = self._core.parse_packed(data if len(data) else np.zeros(1, np.uint8), offsets,
                                          out=out, ambiguous=several)
        if several[0]:  # codes that fit several schemes: rare, and numpy
            self._settle(records, known)
        counter = np.zeros(len(records), np.uint64)
        counter_ok = np.zeros(len(records), bool)
        groups = self._finish(records, counter, counter_ok, known)
        if self._external:
            groups = self._read_without_external(data, offsets, records, counter, counter_ok, groups, known)
        batch = ScanBatch(records, self.names, counter, counter_ok, groups)
        batch.packed = (data, offsets)  # the scans as parsed: keys of unreadable ones in bulk
        return batch

    def _finish(self, rec, counter, counter_ok, known=None) -> list:
        """Per distinct product: its field rules, and FF1 back to counters.
        Returns the (scheme, Issuer, rows) groups that have a key."""
        groups_out = []
        if self.expired_before is not None:
            self._mark_expired(rec)
        ok = rec["fault"] == Fault.OK
        # scheme index + 1 for well-formed scans, 0 otherwise: one pass finds which
        # schemes are present, so absent ones cost nothing
        tagged = np.where(ok, rec["scheme"] + 1, 0)
        present = np.bincount(tagged, minlength=len(self.schemes) + 1)
        for si, scheme in enumerate(self.schemes):
            if not present[si + 1]:
                continue
            if present[si + 1] == len(rec):  # one scheme, all well-formed: slices, not copies
                rows = slice(None)
            else:
                rows = np.flatnonzero(tagged == si + 1)
            codes = rec["code"][rows].astype(f"S{scheme.length}")
            raw = codes.view(np.uint8).reshape(len(codes), scheme.length)
            spans = self._spans(scheme)
            width = sum(n for _, n in spans)
            prod = np.concatenate([raw[:, a:a + n] for a, n in spans], axis=1) if spans \
                else np.zeros((len(codes), 0), np.uint8)
            if not width or (prod == prod[0]).all():  # the usual batch: one product
                keys, groups = [prod[0].tobytes()], [(rows, codes)]
            else:
                rows = np.arange(len(rec))[rows]
                # Field rules in bulk: Python runs per distinct live product, not per scan.
                bad = scheme.product_faults(prod)
                live = bad < 0
                if not live.all():
                    rec["fault"][rows[~live]] = Fault.INVALID_FIELD
                    rec["field"][rows[~live]] = bad[~live]
                if self.master_key is None:
                    continue
                if known is not None:
                    live &= known.rows(scheme, prod)
                if not live.all():
                    rows, codes, prod = rows[live], codes[live], prod[live]
                if not len(rows):
                    continue
                keys, inverse, counts = np.unique(np.ascontiguousarray(prod).view(f"V{width}").ravel(),
                                                  return_inverse=True, return_counts=True)
                order = np.argsort(inverse.ravel(), kind="stable")
                cuts = np.cumsum(counts)[:-1]
                groups = zip(np.split(rows[order], cuts), np.split(codes[order], cuts))
            for key, (members, member_codes) in zip(keys, groups):
                product = self._product(scheme, bytes(key)[:width])
                if isinstance(product, ScanError):
                    rec["fault"][members] = Fault.INVALID_FIELD
                    rec["field"][members] = scheme.code_fields.index(scheme.field(product.field))
                    continue
                if self.master_key is None or scheme.external:   # external: no FF1 serial
                    continue
                if known is not None and not known.has(scheme, bytes(key)[:width]):
                    continue  # never issued: no genuine code, no FF1
                iss = self.issuer(scheme, product)
                c, good = iss.counters(member_codes)
                counter[members] = c
                # Past the guessing bound no counter was ever issued.
                counter_ok[members] = good & (c < scheme.capacity)
                groups_out.append((scheme, iss, members))
        return groups_out

    def _settle(self, rec, known=None):
        """Codes that fit several schemes read by the best one's rules (categories.detect),
        AMBIGUOUS where candidates tie; the candidates stay in the record."""
        rows = np.flatnonzero(rec["candidates"])
        codes = rec["code"][rows]
        masks = rec["candidates"][rows]
        fits = self._counter_fits if known is not None and self.master_key is not None else None
        winner, tied = detect.decide(self.schemes, codes, masks, known, fits)
        lowest = masks & (~masks + np.uint64(1))       # the first candidate's bit
        first = np.log2(lowest.astype(np.float64)).astype(np.int16)
        # every candidate breaking a product rule: the first one reports INVALID_FIELD
        chosen = np.where(winner >= 0, winner, first).astype(np.int16)
        upper = np.array([detect.folds_case(s) for s in self.schemes], bool)[chosen]
        rec["scheme"][rows] = chosen
        if upper.any():
            rec["code"][rows[upper]] = np.char.upper(codes[upper])
        amb = rows[tied]
        rec["fault"][amb] = Fault.AMBIGUOUS
        rec["scheme"][amb] = -1
        if len(amb):   # named by the schemes that tie, not by all its length and alphabets fit
            s = detect.scores(self.schemes, codes[tied], masks[tied], known, fits)
            bits = np.uint64(1) << np.arange(len(self.schemes), dtype=np.uint64)
            rec["candidates"][amb] = np.bitwise_or.reduce(
                np.where(s == s.max(axis=1, keepdims=True), bits, np.uint64(0)), axis=1)

    def _counter_fits(self, scheme, prod, codes) -> np.ndarray:
        """Per code: FF1^-1 under its product gives a counter below the guessing bound
        (products the index issued only: the caller asks for those)."""
        out = np.zeros(len(codes), bool)
        width = prod.shape[1]
        keys, inverse = np.unique(prod.view(f"S{width}").ravel(), return_inverse=True)
        for k, key in enumerate(keys.tolist()):
            product = self._product(scheme, key)
            if isinstance(product, ScanError):
                continue
            rows = np.flatnonzero(inverse.ravel() == k)
            c, good = self.issuer(scheme, product).counters(codes[rows])
            out[rows] = good & (c < scheme.capacity)
        return out

    def read_code(self, raw: bytes, known=None):
        """One scan for the single-scan paths: (fault, scheme index, bare code), the
        scheme decided as parse_many decides it (a code fitting several schemes goes
        through the same rules, with the index's ``known`` products)."""
        fault, si, code, candidates = self._core.parse_code(raw)
        if candidates and fault == Fault.OK:  # _settle's rule, by detect.decide_one's scalar evidence
            fits = self._counter_fits_one if known is not None and self.master_key is not None else None
            issued = (lambda s, c: known.has(s, self._chars(s, c))) if known is not None else (lambda s, c: False)
            winner, tied = detect.decide_one(self.schemes, code, int(candidates),
                                             lambda s, c: self._keeps(s, c, known), issued, fits,
                                             indexed=known is not None)
            si = winner if winner >= 0 else (int(candidates) & -int(candidates)).bit_length() - 1
            if detect.folds_case(self.schemes[si]):
                code = code.upper()
            if tied:
                return Fault.AMBIGUOUS, -1, code
        if fault == Fault.OK and si in self._external and not self._keeps(self.schemes[si], code, None):
            alt = self._fallback.read_code(raw, known)   # ruled out by its own rules: another reading?
            if alt[0] in (Fault.OK, Fault.CHECK_MISMATCH):   # -1: no scheme (an SSCC)
                return alt[0], self.names.index(self._fallback.names[alt[1]]) if alt[1] >= 0 else -1, alt[2]
        return fault, si, code

    @property
    def _external(self) -> frozenset:
        """Indexes of the schemes of externally assigned codes (no check character)."""
        hit = self.__dict__.get("_external_set")
        if hit is None:
            hit = self.__dict__["_external_set"] = frozenset(
                i for i, sc in enumerate(self.schemes) if sc.external)
        return hit

    @property
    def _fallback(self) -> "ScanParser":
        """This parser without the external schemes (built on first use, sharing the key)."""
        hit = self.__dict__.get("_fallback_parser")
        if hit is None:
            hit = self.__dict__["_fallback_parser"] = ScanParser(
                {sc.name: sc for sc in self.schemes if not sc.external}, self.master_key,
                expired_before=self.expired_before)
        return hit

    def _read_without_external(self, data, offsets, rec, counter, counter_ok, groups, known):
        """An external layout has no check character, so any code of its length and alphabets
        is its candidate (an unseparated GS1 element string, a drug code with a typo). Where
        its own rules rule the code out (INVALID_FIELD), the scan is read again as if it
        were absent; that reading is kept when it is one (OK) or a typo in a code of ours
        (CHECK_MISMATCH), the external layout's fault otherwise. Rare rows only."""
        rows = np.flatnonzero((rec["fault"] == Fault.INVALID_FIELD) & np.isin(rec["scheme"], list(self._external)))
        if not len(rows):
            return groups
        starts, ends = offsets[rows], offsets[rows + 1]
        lens = ends - starts
        sub_off = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(lens, out=sub_off[1:])
        sub_data = np.concatenate([data[a:b] for a, b in zip(starts.tolist(), ends.tolist())]) \
            if int(lens.sum()) else np.zeros(0, np.uint8)
        sub = self._fallback.parse_many(sub_data, sub_off, known=known)
        keep = np.isin(sub.records["fault"], (Fault.OK, Fault.CHECK_MISMATCH))
        if not keep.any():
            return groups
        to_mine = np.array([self.names.index(n) for n in sub.scheme_names] + [-1], np.int16)
        bit_of = [np.uint64(1) << np.uint64(self.names.index(n)) for n in sub.scheme_names]
        for j in np.flatnonzero(keep).tolist():
            r, src = rows[j], sub.records[j]
            rec[r] = src
            rec["scheme"][r] = to_mine[src["scheme"]]
            rec["candidates"][r] = sum((bit_of[k] for k in range(len(bit_of)) if int(src["candidates"]) >> k & 1),
                                       np.uint64(0))
        counter[rows[keep]], counter_ok[rows[keep]] = sub.counter[keep], sub.counter_ok[keep]
        groups = list(groups)
        for scheme, iss, members in sub.groups:
            mine = np.arange(len(rows))[members]
            mine = mine[keep[mine]]
            if len(mine):
                groups.append((scheme, iss, rows[mine]))
        return groups

    def _chars(self, scheme, code: bytes) -> bytes:
        """The product fields' characters of one bare code (detect.product_chars of one)."""
        return b"".join(code[a:a + n] for a, n in self._spans(scheme))

    def _keeps(self, scheme, code: bytes, known=None) -> bool:
        """Its product fields keep their rules (product_values; remembered for issued
        products only, as product_of does, so made-up ones cannot fill the cache)."""
        if not scheme.product_fields:
            return True
        chars = self._chars(scheme, code)
        remember = known is None or known.has(scheme, chars)
        return not isinstance(self._product(scheme, chars, remember), ScanError)

    def _counter_fits_one(self, scheme, code: bytes) -> bool:
        """_counter_fits of one code (rare: two issued products share its characters)."""
        prod = np.frombuffer(self._chars(scheme, code), np.uint8).reshape(1, -1)
        return bool(self._counter_fits(scheme, prod, np.array([code], f"S{scheme.length}"))[0])

    def _mark_expired(self, rec):
        """EXPIRED_DATE where AI 17 is before expired_before. YYMMDD becomes
        YYYYMMDD by the GS1 century rule (gs1_ai.full_year, counted from the
        parser's year), and DD 00 (the month's last day) compares as 99, which
        is late enough."""
        exp = rec["expiry"]
        has = (rec["fault"] == Fault.OK) & (np.char.str_len(exp) == 6)
        if not has.any():
            return
        digits = exp[has].view(np.uint8).reshape(-1, 6).astype(np.int64) - 48
        day = dates.yymmdd_ints(digits, self._core.year or None)
        b = self.expired_before
        late = np.zeros(len(rec), bool)
        late[has] = day < b.year * 10000 + b.month * 100 + b.day
        rec["fault"][late] = Fault.EXPIRED_DATE
        rec["field"][late] = 17

    def _spans(self, scheme):
        """(offset, length) of each product field in the bare code."""
        spans = self._span_cache.get(scheme.name)
        if spans is None:
            spans = [(scheme.offset(f.name), f.length) for f in scheme.product_fields]
            self._span_cache[scheme.name] = spans
        return spans

    def product_of(self, scheme, code: bytes, known=None):
        """The Issuer of the product a bare code carries (needs a master key), the
        ScanError its product fields raise, or None when ``known`` (see parse_many)
        says the product was never issued: then no Issuer is built and nothing is
        remembered, so made-up products cannot fill the caches."""
        chars = b"".join(code[a:a + n] for a, n in self._spans(scheme))
        if known is not None and not known.has(scheme, chars):
            product = self._product(scheme, chars, remember=False)
            return product if isinstance(product, ScanError) else None
        product = self._product(scheme, chars)
        if isinstance(product, ScanError) or scheme.external:   # external: never issued here
            return product if isinstance(product, ScanError) else None
        return self.issuer(scheme, product)

    def _product(self, scheme, key: bytes, remember: bool = True):
        """Validated product fields (a dict) from their characters, or a ScanError."""
        cache_key = (scheme.name, key)
        hit = self._products.get(cache_key)
        if hit is None:
            values, pos = {}, 0
            for f in scheme.product_fields:
                values[f.name] = key[pos:pos + f.length].decode("ascii")
                pos += f.length
            try:
                hit = scheme.product_values(values)
            except ValidationError as exc:
                hit = ScanError(str(exc), fault=Fault.INVALID_FIELD, scheme=scheme.name,
                                field=exc.field)
            if remember:
                self._products[cache_key] = hit
        return hit

    def issuer(self, scheme, product: dict) -> Issuer:
        """The (cached) Issuer of a validated product."""
        key = (scheme.name, scheme.product_key(product))
        hit = self._issuers.get(key)
        if hit is None:
            hit = self._issuers[key] = Issuer(scheme, product, self.master_key)
        return hit

    # -- one scan ----------------------------------------------------------------------
    def parse(self, text) -> Scan:
        """One scan (str or bytes) to a Scan, or a ScanError saying what is wrong."""
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
        several = np.zeros(1, np.int64)
        rec, details = self._core.parse_packed(
            np.frombuffer(raw or b"\0", np.uint8), np.array([0, len(raw)], np.int64), True,
            ambiguous=several)
        norm, ai_values, first_sep = details[0]
        if several[0]:
            self._settle(rec)
        counter = np.zeros(1, np.uint64)
        counter_ok = np.zeros(1, bool)
        self._finish(rec, counter, counter_ok)
        r = rec[0]
        fault, form = Fault(int(r["fault"])), FORM_NAMES[Form(int(r["form"]))]
        scheme = self.schemes[r["scheme"]] if r["scheme"] >= 0 else None
        shown = norm.decode("utf-8", "replace")
        ais = {f"{ai:02d}": v.decode("utf-8", "replace") for ai, v in ai_values}
        if fault == Fault.INVALID_FIELD and scheme is not None and scheme.external:
            try:   # ruled out by its own rules: read as if it were absent (_read_without_external)
                return self._fallback.parse(text)
            except ScanError as exc:
                if exc.fault == Fault.CHECK_MISMATCH:
                    raise
        if fault != Fault.OK:
            raise self._error(fault, r, form, scheme, shown, norm)
        code = r["code"].decode("ascii", "replace") or None
        fields = scheme.split(code) if scheme is not None else {}
        if scheme is not None and scheme.is_gs1:
            by_ai = {f.ai: f.name for f in scheme.fields}
            fields.update({by_ai[a]: v for a, v in ais.items() if a in by_ai})
        extra = {}
        if form == "qr-fields":
            rest = shown[first_sep + 1:].replace(";", ",").replace("\r\n", ",").replace("\n", ",")
            parts = [p.strip() for p in rest.replace("\r", ",").split(",")]
            names = categories.of_scheme(scheme).qr_fields if scheme is not None else ()
            extra = dict(zip(names, parts)) if names and len(parts) == len(names) else {"rest": parts}
        return Scan(text=shown, form=form, scheme=scheme.name if scheme else None, code=code,
                    fields=fields, ais=ais, extra=extra, check_ok=True,
                    counter=int(counter[0]) if counter_ok[0] else None)

    @staticmethod
    def _char_at(norm: bytes, pos) -> str:
        """The character starting at byte pos of the normalised scan."""
        return norm[pos or 0:(pos or 0) + 4].decode("utf-8", "ignore")[:1] or "?"

    def _error(self, fault, r, form, scheme, shown, norm=b""):
        pos = int(r["position"]) if r["position"] >= 0 else None
        fld = int(r["field"])
        name = None
        if scheme is not None and 0 <= fld < len(scheme.code_fields) and fault in (
                Fault.BAD_CHARACTER, Fault.CHECK_MISMATCH, Fault.INVALID_FIELD):
            name = scheme.code_fields[fld].name
        elif fld >= 0:
            name = f"AI {fld:02d}"
        lengths = sorted({s.length for s in self.schemes})
        where = f" of {scheme.name}" if scheme is not None else ""
        code = r["code"].decode("ascii", "replace")
        messages = {
            Fault.EMPTY: "empty scan",
            Fault.TOO_LONG: "scan too long (at most 4096 bytes and 16 AIs)",
            Fault.NOT_UTF8: f"invalid UTF-8 at byte {pos}",
            Fault.UNKNOWN_FORMAT: f"{shown[:60]!r} is not a code of any scheme",
            Fault.WRONG_LENGTH: f"{len(code) if code else len(shown)} characters fits no scheme "
                                f"(codes have {', '.join(map(str, lengths))})",
            Fault.BAD_CHARACTER: f"character {code[pos]!r} at position {pos} is not allowed in "
                                 f"field {name!r}{where}" if scheme is not None and pos is not None
                                 and pos < len(code) else f"character {self._char_at(norm, pos)!r}"
                                 f" at byte {pos} of the scan is in no code's alphabet",
            Fault.CHECK_MISMATCH: f"check character mismatch in {name!r}{where}",
            Fault.UNKNOWN_AI: f"unknown GS1 Application Identifier at position {pos}",
            Fault.BAD_AI_VALUE: f"bad value for ({name[3:] if name else '?'}) at position {pos}",
            Fault.MISSING_AI: "no GS1 key (01 GTIN or 00 SSCC) in the Digital Link",
            Fault.INVALID_DATE: f"({name[3:] if name else '?'}) is not a valid YYMMDD date",
            Fault.DUPLICATE_AI: f"({name[3:] if name else '?'}) appears twice",
            Fault.EXPIRED_DATE: f"expired: (17) is before {self.expired_before}",
            Fault.AMBIGUOUS: f"{code!r} fits schemes "
                             f"{' and '.join(detect.names(self.schemes, int(r['candidates'])))} "
                             f"equally well: which one issued it cannot be told",
        }
        if fault == Fault.INVALID_FIELD:
            product = self._product_error(scheme, code)
            msg = str(product) if product is not None else f"invalid field {name!r}{where}"
        else:
            msg = messages[fault]
        return ScanError(msg, fault=fault, form=form, scheme=scheme.name if scheme else None,
                         field=name, position=pos,
                         candidates=detect.names(self.schemes, int(r["candidates"])))

    def _product_error(self, scheme, code):
        try:
            scheme.product_values({f.name: v for f, v in zip(
                scheme.code_fields, scheme.split(code).values()) if f.role == "product"})
        except ValidationError as exc:
            return exc
        return None


_last = [None, None, None]  # schemes, master key, parser: reused while both are the same objects


def parse(text, *, schemes: dict | None = None, master_key=None) -> Scan:
    """Parse one scan with the built-in (or given) schemes; see ScanParser.parse."""
    if _last[2] is None or _last[0] is not schemes or _last[1] is not master_key:
        _last[:] = [schemes, master_key, ScanParser(schemes, master_key)]
    return _last[2].parse(text)


def parse_many(scans, offsets=None, *, schemes: dict | None = None, master_key=None) -> ScanBatch:
    return ScanParser(schemes, master_key).parse_many(scans, offsets)


__all__ = ["SCAN_DTYPE", "Fault", "Form", "Scan", "ScanBatch", "ScanError",
           "ScanParser", "parse", "parse_many"]
