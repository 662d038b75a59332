"""The comparison: veterinary and pesticide scans checked against the registry, by name.

Each scan gets every check below, each passed, failed or unchecked (nothing to
check against, e.g. the expiry of a code that does not exist). The verdict is
GENUINE only when every check passed; otherwise NOT_GENUINE, naming the failed
and unchecked checks. Scans of other schemes are NOT_COVERED (the index's
answer stands alone).

code_exists            issued by us and commissioned, or imported from the national
                       code data; a decommissioned (void) code, one never commissioned
                       and an unreadable scan fail
enterprise_matches     vet: the enterprise id in the code (digits 9-13) is that of the
                       approval's holder; with no approval to compare, it fails when the
                       enterprise holds no approval at all. Pesticide: the company spec
                       code (digits 9-11) is one the registrant declared (if it declared any)
approval_matches       vet: the approval number in the QR payload, when there is one, is
                       well-formed, equals the one on the code's record, and is in the
                       registry; the code's record must name one. Pesticide: digits 1-7
                       encode a registered number, the one on the code's record if any
approval_valid         the approval is valid on the scan date: not suspended or revoked
                       (from status_since, if given) and not past valid_until
not_expired            the product's expiry (batch or code record) is not before the scan
                       date; no expiry on record leaves it unchecked
not_recalled           the code is not recalled or destroyed, itself, through a container
                       in the index, or through a parent in the national code data
plausible_query_count  queries of the code (this one included) are within its packaging
                       level's plausible number, and the index does not find it at more
                       places than plausible: otherwise a possible copy

Which scans are covered, and the approval checks run on them, are their
category's (tracecode.categories): a category with a ``registry`` declares its
kind, the code fields compared (the veterinary enterprise id; the pesticide
registration and spec code) and the function that checks them.

The per-scan work is numpy over the batch (the index's verify_many, one parse, one
getmulti for national code records); Python runs once per distinct batch, per
distinct (approval, declared fields, QR approval) combination and per distinct container.
"""
from __future__ import annotations

import datetime as _dt
import time as _time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import categories
from ..index import Answer, Status, Verdict
from ..scan import Fault, Form
from ..dates import expiry_ymd  # the one date rule: YYMMDD's century, DD 00
from .payload import approval_fields, pack
from .records import LEVEL_NAMES, ApprovalRecord, RowError, canonical_number, ymd
from ..store.port import NATIONAL_TEXT   # the national code store's width (codes, parents)

CHECKS = ("code_exists", "enterprise_matches", "approval_matches", "approval_valid",
          "not_expired", "not_recalled", "plausible_query_count")
BIT = {name: 1 << i for i, name in enumerate(CHECKS)}
ALL = (1 << len(CHECKS)) - 1
ROW_CHECKS = BIT["code_exists"] | BIT["not_expired"] | BIT["not_recalled"] | BIT["plausible_query_count"]
KINDS = categories.registry_kinds()           # the kind column (RegistryKind) -> name
# Queries a code of each packaging level plausibly gets (this one included): the
# buyer's, the seller's, a few repeats; more per level up as each hop scans cases.
PLAUSIBLE_QUERIES = {1: 5, 2: 10, 3: 20, 4: 50}
MAX_DEPTH = 8                                  # parents followed in the national code data
SOURCE_OURS, SOURCE_NATIONAL = 1, 2           # the source column; 0: not found
NOTHING = "nothing to check"     # the detail of a check the scan leaves nothing to check against

# plain ints: numpy compares them without an enum lookup per call
_NOT_COMMISSIONED, _SUSPICIOUS = map(int, (Verdict.NOT_COMMISSIONED, Verdict.SUSPICIOUS))
_DECOMMISSIONED, _RECALLED, _DESTROYED = map(int, (Status.DECOMMISSIONED, Status.RECALLED,
                                                   Status.DESTROYED))

RESULT_DTYPE = np.dtype([("kind", "u1"), ("genuine", "?"), ("failed", "<u2"), ("unchecked", "<u2"),
                         ("source", "u1"), ("level", "u1"), ("expiry", "<u4"), ("combo", "<i4"),
                         ("parent_bad", "?")])


def names(mask: int) -> tuple:
    """Check names of a failed or unchecked bitmask, in CHECKS order."""
    return tuple(n for n in CHECKS if mask & BIT[n])


def _date_text(v: int) -> str:
    return f"{v // 10000:04d}-{v // 100 % 100:02d}-{v % 100:02d}"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None          # None: nothing to check against
    detail: str


@dataclass
class RegistryAnswer:
    verdict: str                            # GENUINE, NOT_GENUINE or NOT_COVERED
    kind: str | None                        # vet, pesticide, or None (not covered / unreadable)
    code: str | None
    checks: tuple = ()                      # Check, in CHECKS order
    approval: ApprovalRecord | None = None  # the registry record compared against
    scan_approval: str | None = None        # the approval number the QR payload gives
    level: int | None = None                # packaging level
    index: Answer | None = None             # the index's answer (product, lot, status, scans)

    @property
    def genuine(self) -> bool:
        return self.verdict == "GENUINE"

    @property
    def failed(self) -> tuple:
        return tuple(c.name for c in self.checks if c.ok is False)

    @property
    def unchecked(self) -> tuple:
        return tuple(c.name for c in self.checks if c.ok is None)

    def __str__(self):
        if self.verdict != "NOT_GENUINE":
            return self.verdict
        parts = [f"failed {', '.join(self.failed)}"] if self.failed else []
        parts += [f"unchecked {', '.join(self.unchecked)}"] if self.unchecked else []
        return f"NOT_GENUINE: {'; '.join(parts)}"


class _Numbers:
    """Approval numbers met in one batch, interned: ref -> number, record, or why invalid."""

    def __init__(self, view):
        self.view = view
        self.refs: dict = {}
        self.numbers: list = []
        self.records: list = []
        self.invalid: dict = {}     # ref -> why the text is not a number

    def ref(self, number: str, invalid: str | None = None) -> int:
        r = self.refs.get(number)
        if r is None:
            r = self.refs[number] = len(self.numbers)
            self.numbers.append(number)
            self.records.append(None if invalid else self.view.approval(number))
            if invalid:
                self.invalid[r] = invalid
        return r

    def record(self, ref: int):
        return self.records[ref] if ref >= 0 else None


class CheckBatch:
    """check_many's result: ``records`` (RESULT_DTYPE: kind, genuine, failed and unchecked
    bitmasks over CHECKS...), ``index`` (the VerifyBatch), one RegistryAnswer per scan
    on demand (iterate, or index)."""

    def __init__(self, records, index, parsed, numbers, combos, today, limits):
        self.records = records
        self.index = index
        self._codes, self._faults = parsed["code"], parsed["fault"]
        self._numbers, self._combos = numbers, combos
        self.today, self._limits = today, limits
        self._kinds = categories.registry_kinds()   # now, not at import: a category added since

    def __len__(self):
        return len(self.records)

    @property
    def genuine(self) -> np.ndarray:
        return self.records["genuine"]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def verdicts(self) -> np.ndarray:
        """uint8 per scan: 1 GENUINE, 2 NOT_GENUINE, 3 NOT_COVERED (as RegistryAnswer.verdict;
        the numbers of the gRPC RegistryVerdict)."""
        r = self.records
        return np.where(r["genuine"], 1, np.where(r["unchecked"] == ALL, 3, 2)).astype(np.uint8)

    def approvals(self) -> tuple[np.ndarray, list]:
        """(int32 per scan: the index in the list of the registry record the scan was
        compared against, -1 none; the distinct ApprovalRecords). A Python step per
        distinct approval combination only."""
        records, slot = [], {}
        per_combo = np.full(len(self._combos), -1, np.int32)
        for k, combo in enumerate(self._combos):
            rec = self._numbers.record(combo.get("approval", -1))
            if rec is not None:
                if rec.number not in slot:
                    slot[rec.number] = len(records)
                    records.append(rec)
                per_combo[k] = slot[rec.number]
        combo = self.records["combo"]
        out = np.full(len(combo), -1, np.int32)
        has = combo >= 0
        out[has] = per_combo[combo[has]]
        return out, records

    def __getitem__(self, i) -> RegistryAnswer:
        i = range(len(self.records))[i]  # -1 is the last row, as in VerifyBatch
        r = self.records[i]
        ia = self.index[i]
        kind = self._kinds[r["kind"]]
        code = self._codes[i].decode("ascii", "replace") or None
        if r["unchecked"] == ALL:
            return RegistryAnswer("NOT_COVERED", None, code, index=ia)
        combo = self._combos[r["combo"]] if r["combo"] >= 0 else {}
        details = {**self._row_details(r, ia, int(self._faults[i])), **combo.get("details", {})}
        checks = tuple(Check(n, None if r["unchecked"] & BIT[n] else not r["failed"] & BIT[n],
                             details[n]) for n in CHECKS)
        return RegistryAnswer("GENUINE" if r["genuine"] else "NOT_GENUINE", kind, code, checks,
                              self._numbers.record(combo.get("approval", -1)),
                              combo.get("scan_approval"), int(r["level"]) or None, ia)

    def _row_details(self, r, ia, fault) -> dict:
        out = dict.fromkeys(CHECKS, NOTHING)
        if r["failed"] & BIT["code_exists"]:
            out["code_exists"] = (
                "decommissioned (a void code)" if ia.status == "decommissioned" else
                "issued but never commissioned" if ia.verdict == Verdict.NOT_COMMISSIONED else
                "neither issued by us nor in the national code data" if fault == Fault.OK else
                "neither issued by us (check digit mismatch: a typo, or not our code) nor in "
                "the national code data" if fault == Fault.CHECK_MISMATCH else
                f"unreadable: {Fault(fault).name}")
        elif r["source"]:
            out["code_exists"] = (f"issued by us, batch {ia.batch}" if r["source"] == SOURCE_OURS
                                  else "imported: issued elsewhere (national code data)")
        if r["expiry"]:
            e = _date_text(int(r["expiry"]))
            out["not_expired"] = f"expired {e}" if r["failed"] & BIT["not_expired"] else f"expires {e}"
        elif r["source"]:
            out["not_expired"] = "no expiry on record"
        if r["source"]:
            out["not_recalled"] = ("a container it is in (national code data) is recalled or "
                                   "destroyed" if r["parent_bad"] else f"status {ia.status}")
            level = int(r["level"]) or 1
            name = LEVEL_NAMES.get(level, f"level {level}")
            limit = self._limits[level]
            if ia.verdict == Verdict.SUSPICIOUS:
                out["plausible_query_count"] = f"{'; '.join(ia.reasons)}: possible copy"
            elif r["failed"] & BIT["plausible_query_count"]:
                out["plausible_query_count"] = (f"{ia.scan_count} queries; a {name} is plausibly "
                                                f"queried at most {limit} times: possible copy")
            else:
                out["plausible_query_count"] = f"{ia.scan_count} of at most {limit} queries ({name})"
        return out


def compare(registry, scans, offsets=None, *, scanner=None, place=None, when=None, record=None,
            today: _dt.date | None = None, region=None, lat=None, lon=None) -> CheckBatch:
    """Check scans against the registry; see the module doc. The scans go through the
    index's verify_many (recorded in the scan log unless record=False): a list of
    str/bytes, or a packed buffer (bytes or uint8 array) with int64 ``offsets`` (N + 1)."""
    index = registry.index
    when = _time.time() if when is None else when
    today = today or _dt.date.fromtimestamp(when)
    kw = dict(scanner=scanner, place=place, when=when, record=record, today=today,
              region=region, lat=lat, lon=lon)   # where, recorded with each scan as verify does
    if offsets is None:
        scans = scans if isinstance(scans, list) else list(scans)
        vb = index.verify_many(scans, **kw)
        data, offsets = pack(scans)
    else:
        data = np.frombuffer(scans, np.uint8) if isinstance(scans, (bytes, bytearray)) \
            else np.ascontiguousarray(scans, np.uint8)
        offsets = np.ascontiguousarray(offsets, np.int64)
        vb = index.verify_many(data, offsets, **kw)
    parsed = vb.parsed
    pr, ir = parsed.records, vb.records
    n = len(pr)
    res = np.zeros(n, RESULT_DTYPE)
    res["combo"] = -1
    schemes = index.parser.schemes  # the parser's schemes: parsed.scheme_names, in order
    kind = np.array([0] + [r.number if r else 0 for r in _registries(schemes)],
                    np.uint8)[pr["scheme"] + 1]
    res["kind"] = kind
    known = vb.found
    # unreadable scans the index does not know either are checked (and fail code_exists)
    covered = (kind != 0) | ((pr["scheme"] < 0) & ~known)
    found = covered & known
    exists = found & (ir["status"] != _DECOMMISSIONED) & (ir["verdict"] != _NOT_COMMISSIONED)
    res["source"][found & (ir["batch"] != 0)] = SOURCE_OURS
    res["source"][found & (ir["batch"] == 0)] = SOURCE_NATIONAL
    rec_ref = np.full(n, -1, np.int32)
    parent = np.zeros(n, NATIONAL_TEXT)
    with registry.store.reading() as view:
        nums = _Numbers(view)
        _our_batches(vb, view, nums, np.flatnonzero(res["source"] == SOURCE_OURS), res, rec_ref)
        _national(view, nums, np.flatnonzero((res["source"] == SOURCE_NATIONAL) & (kind != 0)),
                  pr["code"], res, rec_ref, parent)
        scan_ref = _scan_approvals(data, offsets, pr, kind, nums)
        combos = _combos(view, nums, schemes, kind, found, pr, rec_ref, scan_ref, res, today)
        contained = found & (parent != b"")
        chain = _chain(view, np.unique(parent[contained])) if contained.any() else {}
    if chain:
        _containers(index, chain, parent, found, res, today)

    failed, unchecked = res["failed"], res["unchecked"]
    failed[covered & ~exists] |= BIT["code_exists"]
    unchecked[covered & ~found] |= ROW_CHECKS & ~BIT["code_exists"]
    unchecked[covered & (kind == 0)] |= ALL & ~ROW_CHECKS
    exp = res["expiry"]
    unchecked[found & (exp == 0)] |= BIT["not_expired"]
    failed[found & (exp != 0) & (exp < ymd(today))] |= BIT["not_expired"]
    recalled = (ir["status"] == _RECALLED) | (ir["status"] == _DESTROYED) | res["parent_bad"]
    failed[found & recalled] |= BIT["not_recalled"]
    over = ir["scan_count"] > registry.limits[res["level"]]
    failed[found & (over | (ir["verdict"] == _SUSPICIOUS))] |= BIT["plausible_query_count"]
    unchecked[~covered] = ALL
    res["genuine"] = covered & (failed == 0) & (unchecked == 0)
    return CheckBatch(res, vb, pr, nums, combos, today, registry.limits)


def _our_batches(vb, view, nums, rows, res, rec_ref):
    """Approval (the batch's link), level and expiry of our codes: once per batch."""
    if not len(rows):
        return
    batch = vb.records["batch"][rows]
    bids, first = np.unique(batch, return_index=True)
    links = view.batch_links(bids.tolist())
    ref = np.full(len(bids), -1, np.int32)
    level = np.ones(len(bids), np.uint8)
    expiry = np.zeros(len(bids), np.uint32)
    for k, b in enumerate(bids.tolist()):
        if b in links:
            ref[k], level[k] = nums.ref(links[b]["number"]), links[b]["level"]
        expiry[k] = expiry_ymd(vb[int(rows[first[k]])].expiry)
    at = np.searchsorted(bids, batch)
    rec_ref[rows], res["level"][rows], res["expiry"][rows] = ref[at], level[at], expiry[at]


def _national(view, nums, rows, codes, res, rec_ref, parent):
    """Approval, level, expiry and parent of national codes: one bulk read, numpy."""
    if not len(rows):
        return
    uniq, inv = np.unique(codes[rows].astype(NATIONAL_TEXT), return_inverse=True)
    at, recs = view.national_codes(uniq)
    if not len(at):
        return
    slot = np.full(len(uniq), -1)
    slot[at] = np.arange(len(at))
    which = slot[inv]
    rows, r = rows[which >= 0], recs[which[which >= 0]]
    numbers, num_inv = np.unique(r["number"], return_inverse=True)
    refs = np.array([nums.ref(x.decode()) for x in numbers.tolist()], np.int32)
    rec_ref[rows] = refs[num_inv]
    res["level"][rows], res["expiry"][rows], parent[rows] = r["level"], r["expiry"], r["parent"]


def _scan_approvals(data, offsets, pr, kind, nums) -> np.ndarray:
    """Ref of the approval number each QR payload of fields gives (-1: none), for the
    categories whose registry reads one there (veterinary: the five-field form)."""
    scan_ref = np.full(len(pr), -1, np.int32)
    readers = [c.registry for c in categories.with_registry() if c.registry.qr_approval]
    qr = (pr["form"] == Form.QR_FIELDS) & np.isin(kind, [r.number for r in readers])
    if not qr.any():
        return scan_ref
    fields = approval_fields(data, offsets, qr)
    rows = np.flatnonzero(qr & (fields != b""))
    if not len(rows):
        return scan_ref
    first, inv = _distinct(np.ascontiguousarray(fields[rows]).view(np.uint64).reshape(len(rows), -1))
    refs = []
    kind_name = {r.number: r.kind for r in readers}
    for raw, k in zip(fields[rows][first].tolist(), kind[rows][first].tolist()):
        text = raw.decode("utf-8", "replace").strip()
        try:
            refs.append(nums.ref(canonical_number(text, kind_name[k])[1]))
        except RowError as exc:
            refs.append(nums.ref(text, invalid=str(exc)))
    scan_ref[rows] = np.array(refs, np.int32)[inv]
    return scan_ref


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _distinct(words: np.ndarray):
    """(first row, inverse) of the distinct rows of an (n, k) uint64 array. Rows are
    grouped by a hash (an integer sort, not a sort of byte strings) and then compared
    with their group's first row; a collision takes the exact, slower path."""
    if len(words) == 1:
        return np.zeros(1, np.intp), np.zeros(1, np.intp)
    h = np.bitwise_xor.reduce(words * (np.arange(1, 2 * words.shape[1], 2, dtype=np.uint64)
                                       * _MIX), axis=1)
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    inv = inv.ravel()
    if not (words == words[first][inv]).all():
        _, first, inv = np.unique(words, axis=0, return_index=True, return_inverse=True)
    return first, inv.ravel()



class Context(NamedTuple):
    """What a category's registry checks read: the registry's view (store.port.RegistryView)
    and the approval numbers met in the batch."""
    view: object
    nums: _Numbers


def _registries(schemes) -> list:
    """Per parser scheme: its category's Registry, or None."""
    return [categories.of_scheme(s).registry for s in schemes]


def _combos(view, nums, schemes, kind, found, pr, rec_ref, scan_ref, res, today) -> list:
    """The approval checks, once per scheme and distinct (found, record approval, QR
    approval, the category's declared code fields); their bits scattered back to the rows."""
    ctx = Context(view, nums)
    combos: list = []
    codes = pr["code"]
    for si, (scheme, reg) in enumerate(zip(schemes, _registries(schemes))):
        if reg is None:
            continue
        rows = np.flatnonzero((pr["scheme"] == si) & (kind != 0))
        if not len(rows):
            continue
        raw = np.ascontiguousarray(codes[rows].astype(f"S{scheme.length}")).view(np.uint8)
        raw = raw.reshape(len(rows), scheme.length)
        spans = [(f, scheme.offset(f), scheme.field(f).length) for f in reg.fields]
        width = sum(n for _, _, n in spans)
        key = np.zeros((len(rows), 1 + (width + 7) // 8), np.uint64)
        chars = key[:, 1:].view(np.uint8)
        at = 0
        for _, a, n in spans:
            chars[:, at:at + n] = raw[:, a:a + n]
            at += n
        key[:, 0] = (found[rows].astype(np.uint64)
                     | ((rec_ref[rows] + 1).astype(np.uint64) << np.uint64(1))
                     | ((scan_ref[rows] + 1).astype(np.uint64) << np.uint64(32)))
        first, inv = _distinct(key)
        mine = []
        for i in rows[first].tolist():
            code = codes[i].decode()
            values = {f: code[a:a + n] for f, a, n in spans}
            mine.append(reg.checks(ctx, bool(found[i]), int(rec_ref[i]), int(scan_ref[i]),
                                   values, today))
        fl = np.array([c["failed"] for c in mine], np.uint16)
        un = np.array([c["unchecked"] for c in mine], np.uint16)
        res["failed"][rows] |= fl[inv]
        res["unchecked"][rows] |= un[inv]
        res["combo"][rows] = inv + len(combos)
        combos += mine
    return combos


class Verdicts:
    """Collects one combination's check outcomes (a category's registry checks fill it)."""

    def __init__(self):
        self.failed = self.unchecked = 0
        self.details = {}

    def set(self, name, ok, detail):
        if ok is False:
            self.failed |= BIT[name]
        elif ok is None:
            self.unchecked |= BIT[name]
        self.details[name] = detail

    def done(self, approval, scan_approval=None) -> dict:
        return {"failed": self.failed, "unchecked": self.unchecked, "details": self.details,
                "approval": approval, "scan_approval": scan_approval}


def validity(v, nums, ref, today):
    """approval_valid for the approval ``ref``; returns its record (None: none)."""
    rec = nums.record(ref)
    if rec is not None:
        ok, why = rec.validity(today)
        v.set("approval_valid", ok, f"{rec.number} {why}" if ok else f"{rec.number} is {why}")
    elif ref >= 0 and ref not in nums.invalid:
        v.set("approval_valid", False, f"{nums.numbers[ref]} is not in the registry")
    else:
        v.set("approval_valid", None, "no approval to check")
    return rec


def _chain(view, parents) -> dict:
    """code -> parent (b"" at the top) for the given containers and theirs, from the
    national code data, up to MAX_DEPTH levels."""
    chain: dict = {}
    frontier = parents
    for _ in range(MAX_DEPTH):
        if not len(frontier):
            break
        at, recs = view.national_codes(frontier)
        up = np.zeros(len(frontier), NATIONAL_TEXT)
        up[at] = recs["parent"]
        chain.update(zip(frontier.tolist(), up.tolist()))
        nxt = np.unique(up[up != b""])
        frontier = nxt[~np.isin(nxt, np.array(list(chain), dtype=NATIONAL_TEXT))]
    return chain


def _containers(index, chain, parent, found, res, today):
    """parent_bad: some container above the code (national data) is recalled or destroyed.
    Their statuses come from the index in one verify_many, not recorded."""
    codes = list(chain)
    status = index.verify_many([c.decode() for c in codes], record=False, today=today).records["status"]
    bad = dict(zip(codes, ((status == _RECALLED) | (status == _DESTROYED)).tolist()))

    def up(code):
        for _ in range(MAX_DEPTH):
            if not code or code not in bad:
                return False
            if bad[code]:
                return True
            code = chain[code]
        return False
    rows = np.flatnonzero(found & (parent != b""))
    uniq, inv = np.unique(parent[rows], return_inverse=True)
    res["parent_bad"][rows] = np.array([up(c) for c in uniq.tolist()], bool)[inv.ravel()]
