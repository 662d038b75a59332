"""Registering codes others assigned (an equipment maker, a registering authority): the
codes of a scheme with ``assigned = "external"``, checked for structure and stored once.

We do not issue these codes, so nothing proves them genuine but the record that they were
registered, by whom and when. Each code is checked against its scheme's layout (length,
alphabets, the product fields' rules: dates, region codes, check characters where the
scheme has one); a line that fails is reported with its number and why, and the rest are
registered. A code already registered keeps its first record (reported, never replaced):
registering a file twice is harmless and nobody re-registers another's code.

The bulk path is numpy over the whole input (the layout checks, the case fold, duplicates
and the codes' order) and one C loop over LMDB per chunk (store.put_registered): Python runs
per rejected line, never per code.
"""
from __future__ import annotations

import datetime as _dt
import json
import time as _time
from dataclasses import dataclass, field

import numpy as np

from .. import categories, limits
from ..categories.detect import folds_case
from ..categories.hazardous import REUSE_YEARS
from ..errors import InvalidComponent, ValidationError
from ..schemes.scheme import _ALLOWED

CHUNK = 500_000            # codes per commit: a write transaction's dirty pages stay bounded
MAX_REJECTED_SHOWN = 1000  # reasons kept per call (the count is always whole)


@dataclass
class RegisterReport:
    scheme: str
    registered: int = 0                  # codes newly registered
    already: int = 0                     # codes on record before (their record kept)
    rejected: int = 0                    # lines that are no code of the scheme, or repeat one
    repeated: int = 0                    # of those, lines repeating an earlier line's code
    reasons: list = field(default_factory=list)   # (line number, text, why), the first ones
    record: dict = field(default_factory=dict)    # what each newly registered code carries

    def as_dict(self) -> dict:
        return {"scheme": self.scheme, "registered": self.registered, "already": self.already,
                "rejected": self.rejected,
                "reasons": [{"line": n, "code": t, "reason": w} for n, t, w in self.reasons]}


def lines_of(data: bytes) -> np.ndarray:
    """The lines of a file's bytes as a numpy S array (line i is number i + 1), ends of
    line (\\n, \\r\\n) and surrounding spaces dropped."""
    if not data:
        return np.zeros(0, "S1")
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    arr = np.array(parts, dtype=f"S{max(map(len, parts), default=1) or 1}")
    return np.char.strip(arr)


def check_scheme(scheme) -> None:
    if not scheme.external:
        raise InvalidComponent(f"{scheme.name} codes are issued here (tracecode issue), not "
                               f"registered; registered schemes: {', '.join(external_schemes())}",
                               field="scheme")


def external_schemes(pool=None) -> list:
    from .. import schemes
    return sorted(n for n, s in (pool or schemes.builtin()).items() if s.external)


def register(index, scheme, codes, *, owner: str, source: str = "-", numbers=None,
             when: float | None = None) -> RegisterReport:
    """Register ``codes`` (a numpy S array, or a list of text) of ``scheme`` (a Scheme or its
    name in the index) for ``owner``. ``numbers``: the line number of each code (default
    1, 2, ...), for the report. Blank lines are skipped."""
    sch = index.schemes[scheme] if isinstance(scheme, str) else scheme
    check_scheme(sch)
    limits.text("owner", owner, limits.IMPORT_FIELD_BYTES)
    limits.text("source", source, limits.IMPORT_FIELD_BYTES)
    if not isinstance(owner, str) or not owner.strip():
        raise ValidationError("every registration names its owner (the maker or authority)",
                              field="owner")
    arr = _as_bytes(codes)
    numbers = np.arange(1, len(arr) + 1) if numbers is None else np.asarray(numbers)
    rep = RegisterReport(sch.name)
    rep.record = {"scheme": sch.name, "category": sch.category or "generic", "owner": owner.strip(),
                  "source": source, "registered": round(_time.time() if when is None else when, 3)}
    value = json.dumps(rep.record, ensure_ascii=False, separators=(",", ":")).encode()
    blank = np.char.str_len(arr) == 0
    arr, numbers = arr[~blank], numbers[~blank]
    arr = _compact(sch, arr)
    ok = valid(sch, arr)
    for i in np.flatnonzero(~ok)[:MAX_REJECTED_SHOWN].tolist():
        rep.reasons.append((int(numbers[i]), _shown(arr[i]), _why(sch, arr[i])))
    rep.rejected = int((~ok).sum())
    good = arr[ok].astype(f"S{sch.length}")
    good_numbers = numbers[ok]
    # keys in B-tree order, so the pages written are filled one after another; a code twice
    # in the input is written once (the store reports it as there already: the sort is
    # stable, so by its first line) and found again below by that line
    order = key_order(good, sch.length)
    existed = np.zeros(len(good), bool)
    for lo in range(0, len(good), CHUNK):
        rows = order[lo:lo + CHUNK]
        existed[rows] = index.store.put_registered(good[rows], value).astype(bool)
    _repeats(rep, good, good_numbers, existed)
    rep.registered = int((~existed).sum())
    rep.already = int(existed.sum()) - rep.repeated
    years = REUSE_YEARS.get(sch.name)
    if years and rep.already:
        _reuse(index, rep, years, good, good_numbers, existed)
    return rep


def _years_later(ts: float, years: int) -> float:
    day = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    try:
        return day.replace(year=day.year + years).timestamp()
    except ValueError:          # 29 February: the first of March
        return (day.replace(month=3, day=1, year=day.year + years)).timestamp()


def _reuse(index, rep, years: int, good, numbers, existed) -> None:
    """Codes of a scheme whose codes repeat (a detonator's year is one digit) that were on
    record before: refused when their last registration is less than ``years`` ago, a new
    life (a "reregister" step in the asset's log: its earlier steps no longer count) when it
    is older. Python per such code: they are the repeats, not the bulk."""
    repeated = np.isin(good, good[np.isin(good, good[existed]) & ~existed])
    now = rep.record["registered"]
    step = {"step": "reregister", "owner": rep.record["owner"], "source": rep.record["source"], "time": now}
    value = json.dumps(step, ensure_ascii=False, separators=(",", ":")).encode()
    for i in np.flatnonzero(existed & ~repeated).tolist():
        code = good[i].decode("ascii")
        steps = index.store.asset_steps(code)
        last = json.loads(index.store.registered_one(code) or b"{}").get("registered", 0)
        for raw in reversed(steps):
            rec = json.loads(raw)
            if rec.get("step") == "reregister":
                last = rec["time"]
                break
        if now < _years_later(last, years):
            rep.rejected += 1
            if len(rep.reasons) < MAX_REJECTED_SHOWN:
                when = _dt.datetime.fromtimestamp(last, _dt.timezone.utc).date().isoformat()
                rep.reasons.append((int(numbers[i]), code, f"registered on {when}: a {rep.scheme} "
                                    f"code may not repeat within {years} years"))
        elif index.store.asset_append(code, len(steps), value):
            rep.registered += 1
        else:                   # a step arrived meanwhile: decided as registered before
            rep.rejected += 1
        rep.already -= 1
    rep.reasons.sort()


def _repeats(rep, good, numbers, existed) -> None:
    """Of the codes the store had already: those whose first line is in this input (written
    by it) are repeated lines, rejected with that line; the others were on record before.
    Python per code found there, which is per repeat or per code registered twice."""
    if not existed.any():
        return
    old = good[existed]
    mine = np.isin(good, old) & ~existed      # the line that wrote a code found again
    first = dict(zip(good[mine].tolist(), numbers[mine].tolist()))
    for i in np.flatnonzero(existed).tolist():
        line = first.get(good[i])
        if line is None:
            continue
        rep.repeated += 1
        if len(rep.reasons) < MAX_REJECTED_SHOWN:
            rep.reasons.append((int(numbers[i]), _shown(good[i]), f"repeats line {line}"))
    rep.rejected += rep.repeated
    rep.reasons.sort()


def valid(sch, arr: np.ndarray) -> np.ndarray:
    """Scheme.validate_many's rules for codes already compacted and folded: length, each
    field's alphabet, the product fields' rules (vectorised: Scheme.product_faults) and
    the check character. No sort and no case pass: registration runs over 1e6 codes."""
    if not len(arr):
        return np.zeros(0, bool)
    ok = np.char.str_len(arr) == sch.length
    rows = np.ascontiguousarray(arr.astype(f"S{sch.length}")).view(np.uint8).reshape(len(arr), sch.length)
    pos = 0
    for f in sch.code_fields:
        ok &= _ALLOWED[f.alphabet][rows[:, pos:pos + f.length]].all(axis=1)
        pos += f.length
    if sch.product_fields:
        spans = [(sch.offset(f.name), f.length) for f in sch.product_fields]
        prod = np.ascontiguousarray(np.concatenate([rows[:, a:a + n] for a, n in spans], axis=1))
        ok &= sch.product_faults(prod) < 0
    if sch.check is not None:
        start = 0 if sch.check.over == "code" else sch.offset(sch.serial.name)
        ok &= sch.check_system.validate_many(np.ascontiguousarray(rows[:, start:pos]))
    return ok


def key_order(codes: np.ndarray, width: int) -> np.ndarray:
    """The order of fixed-width codes in byte order, as LMDB keeps their keys (all share the
    b"ext\\0" prefix): every put then lands on the page after the last one. Sorting by the
    first 8 bytes alone left ear tags (1 species, 6 county, then serials) random within a
    county's run: 1e6 puts took 1.5 s against 0.4 s in full order. A lexsort of the codes'
    8-byte big-endian words (one argsort when a code fits in one word)."""
    n = len(codes)
    words = -(-max(width, 1) // 8)
    mat = np.zeros((n, words * 8), np.uint8)
    mat[:, :width] = np.ascontiguousarray(codes.astype(f"S{width}")).view(np.uint8).reshape(n, width)
    cols = mat.view(">u8")
    if words == 1:
        return np.argsort(cols.ravel(), kind="stable")
    return np.lexsort(cols.T[::-1])


def _as_bytes(codes) -> np.ndarray:
    arr = codes if isinstance(codes, np.ndarray) else None
    if arr is None:
        items = [c.encode("utf-8", "surrogatepass") if isinstance(c, str) else bytes(c) for c in codes]
        arr = np.array(items, dtype=f"S{max(map(len, items), default=1) or 1}")
    if arr.dtype.kind != "S":
        raise TypeError(f"codes must be text, bytes or a numpy S array, got {arr.dtype}")
    return np.char.strip(arr) if len(arr) else arr


def _compact(sch, arr: np.ndarray) -> np.ndarray:
    """Codes as Scheme.compact leaves them (the one normaliser: asset lookups and Verify
    read codes so): upper case where the scheme folds it (a uint8 pass), whitespace and
    dashes inside dropped (Scheme.compact itself for the rows holding one, or non-ASCII)."""
    if not len(arr):
        return arr
    width = arr.dtype.itemsize
    raw = np.ascontiguousarray(arr).view(np.uint8).reshape(len(arr), width)
    odd = ((raw == 0x20) | (raw == 0x2D) | ((raw >= 0x09) & (raw <= 0x0D)) | (raw >= 0x80)).any(axis=1)
    if odd.any():
        arr = arr.copy()
        for i in np.flatnonzero(odd).tolist():
            arr[i] = sch.compact(arr[i].decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        raw = np.ascontiguousarray(arr).view(np.uint8).reshape(len(arr), width)
    if folds_case(sch):
        raw = raw.copy()
        lower = (raw >= 0x61) & (raw <= 0x7A)
        raw[lower] -= 0x20
        arr = raw.view(f"S{width}").ravel()
    return arr


def _shown(code: bytes) -> str:
    return code[:60].decode("utf-8", "replace")


def _why(sch, code: bytes) -> str:
    try:
        text = code.decode("ascii")
    except UnicodeDecodeError:
        return "holds characters other than ASCII letters and digits"
    try:
        sch.validate(text)
    except ValueError as exc:
        return str(exc)
    return f"not a {sch.name} code"


def category_of(record: dict):
    """The category of a registered code's record (None for codes imported otherwise)."""
    name = record.get("category") if isinstance(record, dict) else None
    return categories.ALL.get(name) if name else None
