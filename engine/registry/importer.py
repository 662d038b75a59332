"""Importing registry files and national code data, with a report of every row.

Files are CSV (UTF-8, a header row; a BOM is fine) or JSON: JSON Lines (one
object a line) or one array of objects. Column names are case-insensitive and
have Chinese aliases (see REGISTRY_COLUMNS and CODE_COLUMNS); unknown columns
are listed in the report and otherwise ignored.

Registry files (approvals and registrations): one row per number and product;
rows of one number in one file are one record (several products or
specifications of the same holder). A record in a file replaces the stored
one (changed) or is new (added); a row with only the number and a status
(and status_since) changes the status of a stored record, e.g. a revocation.
Numbers absent from a file are left as they are: imports are incremental. The
whole import is one write transaction: every accepted row is written, or
(a full disk) none is; with strict=True one rejected row refuses the file.

Code data: one row per code. Rows are checked whole first: format, dates, a
known approval or registration whose holder the code belongs to (rejected
otherwise; allow_unknown=True imports rows of numbers not yet in the registry
and flags them), parents of a higher packaging level. Accepted rows are then
written CHUNK rows per transaction, each chunk all or nothing; importing the
same file again is idempotent (its rows come back unchanged), so a chunked
import stopped by a full disk is finished by running it again.
"""
from __future__ import annotations

import csv
import itertools
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import textinput
from ..errors import ImportRefused
from ..index import IndexFull
from .records import (CodeReader, RowError, StatusChange, approval_from_row, clean, merge,
                      ymd)
from ..store.port import NATIONAL_CODE_DTYPE, NATIONAL_TEXT

CHUNK = 100_000
MAX_CSV_LINE = 1 << 20   # bytes; csv refuses fields over 131,072 characters anyway

REGISTRY_COLUMNS = {
    "number": ("number", "approval_number", "registration_number", "批准文号", "兽药批准文号",
               "产品批准文号", "登记证号", "农药登记证号"),
    "product": ("product", "product_name", "name", "产品名称", "通用名称", "兽药名称", "农药名称"),
    "company": ("company", "holder", "生产企业", "企业名称", "登记证持有人", "持有人"),
    "enterprise_id": ("enterprise_id", "enterprise", "企业编号", "企业代码"),
    "dosage_form": ("dosage_form", "formulation", "剂型"),
    "specification": ("specification", "规格", "含量"),
    "spec_codes": ("spec_codes", "规格码", "产品规格码"),
    "status": ("status", "状态"),
    "status_since": ("status_since", "状态日期"),
    "valid_until": ("valid_until", "有效期至", "有效截止日期", "批准文号有效期"),
}
CODE_COLUMNS = {
    "code": ("code", "追溯码", "单元识别代码"),
    "number": ("number", "approval_number", "registration_number", "批准文号", "登记证号"),
    "lot": ("lot", "batch_number", "批号", "生产批号"),
    "production_date": ("production_date", "生产日期"),
    "expiry_date": ("expiry_date", "expiry", "有效期至", "失效日期"),
    "packaging_level": ("packaging_level", "level", "包装级别", "包装层级"),
    "parent_code": ("parent_code", "parent", "上级码", "父码"),
}


@dataclass(frozen=True)
class Issue:
    line: int               # line in the file (CSV, JSON Lines) or item number (JSON array)
    key: str | None         # the number or code the row names, when it could be read
    reason: str


@dataclass
class ImportReport:
    what: str                                       # "registry" or "codes"
    source: str
    added: list = field(default_factory=list)       # numbers or codes, in file order
    changed: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    revoked: list = field(default_factory=list)     # registry: stored records now revoked
    rejected: list = field(default_factory=list)    # Issue: not written
    flagged: list = field(default_factory=list)     # Issue: written, with a warning
    ignored_columns: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.rejected

    def summary(self) -> dict:
        return {"what": self.what, "source": self.source, "added": len(self.added),
                "changed": len(self.changed), "unchanged": len(self.unchanged),
                "revoked": len(self.revoked), "rejected": len(self.rejected),
                "flagged": len(self.flagged)}

    def lines(self):
        """The report as text: a summary, then each rejected and flagged row."""
        s = self.summary()
        yield (f"{self.what} import from {self.source}: {s['added']:,} added, {s['changed']:,} "
               f"changed, {s['unchanged']:,} unchanged, {s['revoked']:,} revoked, "
               f"{s['rejected']:,} rejected, {s['flagged']:,} flagged ({self.seconds:.2f} s)")
        if self.ignored_columns:
            yield f"ignored columns: {', '.join(self.ignored_columns)}"
        for tag, issues in (("REJECTED", self.rejected), ("FLAGGED", self.flagged)):
            for i in issues:
                yield f"{tag} line {i.line}: {i.reason}"


# -- reading files ------------------------------------------------------------------------

def _column_map(columns: dict) -> dict:
    return {alias.lower(): name for name, aliases in columns.items() for alias in aliases}


def _format_of(path, fmt):
    if fmt:
        return fmt
    suffix = Path(str(path)).suffix.lower()
    return "json" if suffix in (".json", ".jsonl", ".ndjson") else "csv"


def canonical_row(raw: dict, names: dict, ignored: set) -> dict:
    """A row keyed by canonical column names (names: _column_map); others into ignored."""
    out = {}
    for k, v in raw.items():
        key = clean(k).lower().replace(" ", "_")
        if key in names:
            out[names[key]] = v
        elif key:
            ignored.add(clean(k))
    return out


def dict_rows(rows, columns: dict, ignored: set):
    """(item number, canonical row) of dicts given directly, numbered from 1."""
    names = _column_map(columns)
    for n, raw in enumerate(rows, 1):
        yield n, canonical_row(raw, names, ignored)


def read_rows(source, columns: dict, fmt: str | None = None, ignored: set | None = None):
    """Yield (line, row dict with canonical column names, or a RowError), streaming.

    ``source``: a path, or a binary or text stream (then ``fmt`` says which format);
    column names that mean nothing here are added to ``ignored``. A row that cannot be
    read (not UTF-8, a line or field too long, broken quoting, not a JSON object) is a
    RowError on its line and the others are read; a file that cannot be read at all (no
    header, not a JSON array) is an InputError naming it."""
    names = _column_map(columns)
    ignored = set() if ignored is None else ignored

    def canon(raw: dict):
        return canonical_row(raw, names, ignored)

    if isinstance(source, (str, Path)):
        with textinput.open_input(source) as f:
            yield from read_rows(_Named(f, str(source)), columns, _format_of(source, fmt), ignored)
        return
    name = textinput.name_of(getattr(source, "name", None))
    if (fmt or "csv") == "csv":
        yield from _csv_rows(source, name, canon)
        return
    lines = textinput.lines(source)
    for first in lines:   # the first line that is not blank tells JSON from lines of rows
        line = first[1]
        if isinstance(line, textinput.BadLine) or line.strip():
            break
    else:
        raise textinput.InputError(f"{name}: no rows (the file is empty)")
    if isinstance(line, str) and line.lstrip().startswith("["):  # one JSON array, items numbered
        text = [line]
        for m, rest in lines:
            if isinstance(rest, textinput.BadLine):
                raise textinput.InputError(f"{name} line {m}: {rest.reason}")
            text.append(rest)
        try:
            items = textinput.json_value("".join(text))
        except ValueError as exc:
            raise textinput.InputError(f"{name}: not a JSON array ({exc})") from None
        if not isinstance(items, list):
            raise textinput.InputError(f"{name}: not a JSON array")
        for k, item in enumerate(items, 1):
            yield k, canon(item) if isinstance(item, dict) else RowError("item is not a JSON object")
        return
    for n, line in itertools.chain([first], lines):
        if isinstance(line, textinput.BadLine):
            yield n, RowError(line.reason)
        elif line.strip():
            try:
                item = textinput.json_value(line)
            except ValueError as exc:
                yield n, RowError(str(exc))
                continue
            yield n, canon(item) if isinstance(item, dict) else RowError("line is not a JSON object")


class _Named:
    """A stream with the name of the file it reads (for messages)."""

    def __init__(self, stream, name):
        self._stream, self.name = stream, name

    def __getattr__(self, attr):
        return getattr(self._stream, attr)


def _csv_rows(source, name, canon):
    """(line, row or RowError) of a CSV stream: its lines are read bounded and decoded
    strictly here, then split by the csv module; an unreadable line rejects its row."""
    bad = {}                      # physical line -> why it could not be read

    def text_lines():
        for n, line in textinput.lines(source, MAX_CSV_LINE):
            if isinstance(line, textinput.BadLine):
                bad[n] = line.reason
                yield "\n"      # an empty row keeps the csv module's line count right
            else:
                yield line
    reader = csv.reader(text_lines())
    header = None
    last = 0                      # the last physical line of the previous row
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a field over the limit, quoting broken by binary data
            why = str(exc)
            if "field larger" in why:
                why = f"a field is longer than {csv.field_size_limit():,} characters"
            if header is None:
                raise textinput.InputError(f"{name} line {reader.line_num}: the header row "
                                           f"cannot be read: {why}") from None
            yield reader.line_num, RowError(why)
            last = reader.line_num
            continue
        first, last = last + 1, reader.line_num
        at = next((k for k in range(first, last + 1) if k in bad), None) if bad else None
        why = None if at is None else bad[at] if at == first else f"line {at}: {bad[at]}"
        if header is None:
            if why:
                raise textinput.InputError(f"{name} line {at}: the header row is unusable: "
                                           f"{bad[at]}")
            if not any(c.strip() for c in cells):
                continue
            header = [c.lstrip("\ufeff") for c in cells]
            continue
        if why:
            yield first, RowError(why)
        elif len(cells) > len(header):
            yield first, RowError(f"{len(cells)} cells, the header has {len(header)}")
        elif any(clean(v) for v in cells):
            yield first, canon(dict(itertools.zip_longest(header, cells[:len(header)])))
    if header is None:
        raise textinput.InputError(f"{name}: no header row (the file is empty)")


# -- registry files -----------------------------------------------------------------------

def import_approvals(store, rows, *, kind=None, source="-", strict=False) -> ImportReport:
    """Apply (line, row) pairs to the registry in one transaction; see the module doc."""
    t0 = time.perf_counter()
    rejected, first_line, entries = [], {}, {}   # entries: number -> record or StatusChange
    for line, row in rows:
        key = clean(row.get("number")) if isinstance(row, dict) else None
        try:
            if isinstance(row, RowError):
                raise row
            rec = approval_from_row(row, kind)
            key = rec.number
            have = entries.get(key)
            if have is None:
                entries[key], first_line[key] = rec, line
            elif isinstance(rec, StatusChange) or isinstance(have, StatusChange):
                raise RowError(f"{key} is already on line {first_line[key]}; a status change "
                               f"cannot be combined with other rows of the same number")
            else:
                entries[key] = merge(have, rec)
        except RowError as exc:
            rejected.append(Issue(line, key or None, str(exc)))
    now = time.time()

    def body(view):
        report = ImportReport("registry", str(source), rejected=list(rejected))
        for number, entry in entries.items():
            old = view.approval(number)
            if isinstance(entry, StatusChange):
                if old is None:
                    report.rejected.append(Issue(first_line[number], number,
                                                 f"{number} is not in the registry; a status "
                                                 f"change needs a stored record"))
                    continue
                entry = replace(old, status=entry.status, status_since=entry.status_since)
            if old is not None and old.content() == entry.content():
                report.unchanged.append(number)
                continue
            if old is not None and entry.status == "revoked" and old.status != "revoked":
                report.revoked.append(number)
            else:
                (report.added if old is None else report.changed).append(number)
            view.put_approval(replace(entry, source=str(source), updated=now), old)
        report.rejected.sort(key=lambda i: i.line)
        if strict and report.rejected:
            raise ImportRefused(f"{len(report.rejected)} rejected rows; nothing imported",
                                report=report)
        view.log_import(report.summary())
        return report
    report = store.write(body)
    report.seconds = time.perf_counter() - t0
    return report


# -- national code data -------------------------------------------------------------------

def import_codes(store, rows, *, source="-", allow_unknown=False, strict=False,
                 chunk=CHUNK, schemes=None) -> ImportReport:
    """National code data into the registry and the index; see the module doc. ``schemes``:
    the schemes codes are read by (their categories' layouts; built-in if None)."""
    t0 = time.perf_counter()
    report = ImportReport("codes", str(source))
    accepted, seen, records = [], {}, {}
    reader = CodeReader(schemes)   # the layouts codes are read by, once per import
    with store.reading() as view:
        for line, row in rows:
            key = clean(row.get("code")) if isinstance(row, dict) else None
            try:
                if isinstance(row, RowError):
                    raise row
                r = reader.row(row)
                key = r.code
                if r.code in seen:
                    raise RowError(f"{r.code} is already on line {seen[r.code]}")
                if r.number not in records:
                    records[r.number] = view.approval(r.number)
                rec = records[r.number]
                if rec is None and not allow_unknown:
                    raise RowError(f"{r.code}: {r.number} is not in the registry")
                why = reader.link(r, rec) if rec is not None else None
                if why:
                    raise RowError(why)
                seen[r.code] = line
                accepted.append((line, r))
                if rec is None:
                    report.flagged.append(Issue(line, r.code, f"{r.code}: {r.number} is not in "
                                                               f"the registry (imported anyway)"))
            except RowError as exc:
                report.rejected.append(Issue(line, key or None, str(exc)))
        levels = {r.code: r.level for _, r in accepted}
        outside = sorted({r.parent for _, r in accepted if r.parent and r.parent not in levels})
        if outside:
            at, stored = view.national_codes(np.array(outside, dtype=NATIONAL_TEXT))
            levels.update(zip((outside[i] for i in at.tolist()), stored["level"].tolist()))
    kept = []
    for line, r in accepted:
        if r.parent is not None and r.parent not in levels:
            report.flagged.append(Issue(line, r.code, f"{r.code}: parent {r.parent} is not "
                                                       f"imported (yet)"))
        elif r.parent is not None and levels[r.parent] <= r.level:
            report.rejected.append(Issue(line, r.code, f"{r.code}: parent {r.parent} has "
                                                        f"packaging level {levels[r.parent]}, "
                                                        f"not above {r.level}"))
            continue
        kept.append(r)
    report.rejected.sort(key=lambda i: i.line)
    report.flagged.sort(key=lambda i: i.line)
    if strict and report.rejected:
        raise ImportRefused(f"{len(report.rejected)} rejected rows; nothing imported", report=report)
    for start in range(0, len(kept), chunk):
        try:
            _write_codes(store, kept[start:start + chunk], records, report)
        except IndexFull as exc:  # earlier chunks are in, whole: say so, and how to finish
            raise IndexFull(f"{exc}; {start:,} of {len(kept):,} accepted code rows were imported "
                            f"before it (in chunks of {chunk:,}); import the file again to "
                            f"finish") from None
    try:
        store.write(lambda view: view.log_import(report.summary()))
    except IndexFull as exc:
        raise IndexFull(f"{exc}; all {len(kept):,} accepted code rows were imported, but not "
                        f"the import's summary: import the file again to record it") from None
    report.seconds = time.perf_counter() - t0
    return report


def _write_codes(store, rows, records, report):
    """One chunk in one transaction: the registry's fixed-width records and the index's
    imported records, in key order, each put only where it differs from what is stored."""
    order = np.argsort(np.array([r.code for r in rows], dtype=NATIONAL_TEXT), kind="stable")
    rows_sorted = [rows[i] for i in order.tolist()]
    keys = np.array([r.code for r in rows_sorted], dtype=NATIONAL_TEXT)
    new = np.zeros(len(rows), NATIONAL_CODE_DTYPE)
    new["number"] = [r.number.encode() for r in rows_sorted]
    new["lot"] = [r.lot.encode() for r in rows_sorted]
    new["produced"] = [ymd(r.produced) for r in rows_sorted]
    new["expiry"] = [ymd(r.expiry) for r in rows_sorted]
    new["level"] = [r.level for r in rows_sorted]
    new["parent"] = [(r.parent or "").encode() for r in rows_sorted]

    def body(view):
        at, old = view.national_codes(keys)
        existed = np.zeros(len(rows), bool)
        existed[at] = True
        same = np.zeros(len(rows), bool)
        same[at] = old == new[at]
        differ = np.flatnonzero(~same)
        ext = []
        for i in differ.tolist():
            r, rec = rows_sorted[i], records[rows_sorted[i].number]
            ext.append(json.dumps({
                "product": {"name": rec.products[0].name if rec else None,
                            "company": rec.company if rec else None, "approval_number": r.number},
                "approval_number": r.number, "lot": r.lot, "expiry": str(ymd(r.expiry)),
                "production_date": str(ymd(r.produced)), "packaging_level": r.level,
                "parent": r.parent, "source": "national"},
                ensure_ascii=False, separators=(",", ":")).encode())
        view.put_national_codes(keys[differ], new[differ], ext)
        return existed, same
    existed, same = store.write(body)
    status = np.empty(len(rows), np.uint8)   # in file order: 0 added, 1 changed, 2 unchanged
    status[order] = np.where(same, 2, np.where(existed, 1, 0))
    lists = (report.added, report.changed, report.unchanged)
    for r, st in zip(rows, status.tolist()):
        lists[st].append(r.code)
