"""The Registry: approvals and registrations, national code data, and the comparison."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ApprovalNotValid, UnknownApproval
from .. import categories
from . import compare, importer
from .records import ApprovalRecord, RowError, canonical_number, kind_of_number


@dataclass(frozen=True)
class ApprovalInfo:
    """What manual entry of a number answers: the record, its validity, what it covers."""
    record: ApprovalRecord
    valid: bool
    validity: str               # "valid until ...", "revoked since ...", "expired ..."
    on: _dt.date

    @property
    def products(self) -> tuple:
        return self.record.products

    @property
    def companies(self) -> tuple:
        return (self.record.company,)


class Registry:
    """Product registries over an Index's store: its RegistryStore (tracecode.store.port;
    the LMDB tables and their layout are in tracecode.store.lmdb.registry).

    ``plausible``: packaging level -> queries a code of that level plausibly gets
    (compare.PLAUSIBLE_QUERIES by default); a level without a figure takes the next lower
    level's, and an unknown level (0) the lowest level's.
    """

    def __init__(self, index, *, plausible: dict | None = None):
        self.index = index
        self.store = index.store.registry()
        table = dict(plausible or compare.PLAUSIBLE_QUERIES)
        self.limits = np.array([table[max([lv for lv in table if lv <= level] or [min(table)])]
                                for level in range(10)], np.uint32)

    # -- imports -----------------------------------------------------------------------------
    def import_file(self, source, *, kind: str | None = None, fmt: str | None = None,
                    strict: bool = False) -> importer.ImportReport:
        """Approvals or registrations from a CSV or JSON file (path or text stream)."""
        return self._import(importer.import_approvals, importer.REGISTRY_COLUMNS, source, fmt,
                            kind=kind, strict=strict)

    def import_rows(self, rows, *, kind: str | None = None, strict: bool = False,
                    source: str = "rows") -> importer.ImportReport:
        """Approvals from dicts keyed like the file columns, numbered from 1 in the report."""
        return self._import(importer.import_approvals, importer.REGISTRY_COLUMNS, rows, None,
                            kind=kind, strict=strict, name=source)

    def import_codes_file(self, source, *, fmt: str | None = None, allow_unknown: bool = False,
                          strict: bool = False) -> importer.ImportReport:
        """National code data from a CSV or JSON file (path or text stream)."""
        return self._import(importer.import_codes, importer.CODE_COLUMNS, source, fmt,
                            allow_unknown=allow_unknown, strict=strict, schemes=self._schemes())

    def import_code_rows(self, rows, *, allow_unknown: bool = False, strict: bool = False,
                         source: str = "rows") -> importer.ImportReport:
        """National code data from dicts keyed like the file columns."""
        return self._import(importer.import_codes, importer.CODE_COLUMNS, rows, None,
                            allow_unknown=allow_unknown, strict=strict, name=source,
                            schemes=self._schemes())

    def _schemes(self) -> dict | None:
        """The index's schemes (with its data-file ones): their categories read the codes."""
        return getattr(self.index, "schemes", None)

    def _import(self, run, columns, source, fmt, name=None, **kw):
        ignored: set = set()
        if name is not None:
            rows = importer.dict_rows(source, columns, ignored)
        else:
            rows = importer.read_rows(source, columns, fmt, ignored)
            name = str(getattr(source, "name", None) or (
                source if isinstance(source, (str, Path)) else "<stream>"))
        report = run(self.store, rows, source=name, **kw)
        report.ignored_columns = sorted(ignored)
        return report

    def imports(self) -> list[dict]:
        """The audit trail: one summary per import, oldest first."""
        with self.store.reading() as view:
            return view.imports()

    # -- reading -----------------------------------------------------------------------------
    def get(self, number: str):
        """The record of an approval or registration number (any spelling)."""
        try:
            _, canonical = canonical_number(number)
        except RowError as exc:
            raise UnknownApproval(str(exc)) from None
        with self.store.reading() as view:
            rec = view.approval(canonical)
        if rec is None:
            raise UnknownApproval(f"{canonical} is not in the registry")
        return rec

    def lookup(self, number: str, today: _dt.date | None = None) -> ApprovalInfo:
        """Manual entry of an approval number: its record and whether it is valid."""
        rec = self.get(number)
        on = today or _dt.date.today()
        valid, why = rec.validity(on)
        return ApprovalInfo(rec, valid, why, on)

    def approvals_of(self, enterprise_id: str) -> list:
        """The veterinary approvals an enterprise (5-digit id) holds."""
        with self.store.reading() as view:
            return [view.approval(n) for n in view.numbers_by_enterprise(enterprise_id)]

    def registrations_for(self, code: str) -> list:
        """The pesticide registrations a 32-digit label code's first 7 digits can mean."""
        with self.store.reading() as view:
            return [view.approval(n) for n in view.numbers_by_prefix(code[:7])]

    def records(self) -> list:
        with self.store.reading() as view:
            return list(view.approvals())

    def count(self) -> dict:
        """Records per kind, every category's registry: {"vet": n, "pesticide": m}."""
        with self.store.reading() as view:
            kinds = [r.kind for r in view.approvals()]
        return {c.registry.kind: kinds.count(c.registry.kind) for c in categories.with_registry()}

    def __bool__(self):
        with self.store.reading() as view:
            return next(iter(view.approvals()), None) is not None

    # -- our own issuance under an approval --------------------------------------------------
    def product_for(self, number: str, *, date: _dt.date | None = None, spec: str | None = None,
                    production_type: str = "1") -> tuple[str, dict]:
        """(scheme, product fields) for issuing codes under an approval valid on ``date``
        (today): the scheme of the record's category (cn-vet-24 with the holder's enterprise
        id, cn-pesticide-32 with the registration's digits and a declared spec code), its
        product fields as the category's registry derives them from the record."""
        rec = self.get(number)
        on = date or _dt.date.today()
        valid, why = rec.validity(on)
        if not valid:
            raise ApprovalNotValid(f"refusing to issue codes under {rec.number}: it is {why}")
        cat = categories.of_registry(rec.kind)
        if cat.registry.product is None:
            raise ApprovalNotValid(f"{rec.number}: the {cat.title} registry issues no codes")
        scheme = categories.schemes_of(cat.name, self._schemes())[0]
        return scheme.name, cat.registry.product(rec, on, spec, production_type)

    def link_batch(self, batch_id: int, number: str, level: int = 1) -> None:
        """Record that one of our batches carries this approval (and packaging level)."""
        self.store.link_batch(batch_id, self.get(number).number, level)

    # -- the comparison ----------------------------------------------------------------------
    def check_many(self, scans, offsets=None, **kw) -> compare.CheckBatch:
        """Every named check on many scans, in one batch (see compare.py): a list of
        str/bytes, or a packed buffer with int64 ``offsets``; ``kw`` as Index.verify_many:
        scanner, place, when, record, today, region, lat, lon."""
        return compare.compare(self, scans, offsets, **kw)

    def check(self, scan, **kw) -> compare.RegistryAnswer:
        """One scan (any form the parser reads, or a typed code), the same rules."""
        return self.check_many([scan], **kw)[0]

    def manual(self, text: str, **kw):
        """Manual entry: an approval or registration number gives its ApprovalInfo,
        anything else is checked as a scan (a typed 24- or 32-digit code)."""
        if kind_of_number(text) is not None:
            return self.lookup(text, kw.get("today"))
        return self.check(text, **kw)
