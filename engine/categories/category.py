"""What every category module declares: the same small vocabulary for each.

A category (drugs, veterinary drugs, pesticides, GS1 trade items...) is one
module of this package with a ``CATEGORY`` at module level. Its schemes are
the definition files whose ``[scheme]`` table names it (``category = "drugs"``);
everything else it knows is declared here, as data the engine reads:

- ``prefixes``: the leading characters its codes have in circulation (drug
  codes start with 8). A soft rule: a code without one is still read, but
  when it fits another scheme too, that scheme reads it.
- ``registry``: the authority's registry its codes are compared with (the
  counterfeit check, tracecode.registry.compare), with the code fields the
  comparison reads and the function that runs the checks; None for none.
- ``lifecycle``: the EPCIS bizSteps its codes go through (CBV names, or URIs
  under our namespace ``urn:tracecode:bizstep:`` for steps CBV lacks).
- ``public``: the fields a public query may show (the HTTP window uses it).
- ``qr_fields``: the names of the fields after the code in a QR payload of
  fields (the veterinary five-field form), as the scan parser reports them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import StepError

# CBV 2.0 bizSteps the engine's lifecycle actions use (tracecode.index.lifecycle)
CBV_STEPS = ("commissioning", "decommissioning", "packing", "unpacking", "shipping", "receiving",
             "retail_selling", "dispensing", "holding", "destroying",
             # the asset steps of long-lived equipment (special_equipment) CBV 2.0 names
             "installing", "inspecting", "repairing")
OUR_NAMESPACE = "urn:tracecode:bizstep:"
# What any category's public page may show; a category lists the ones it does
# ("path": the distribution path, where the code was shipped, received, sold: places and
# dates only, never who sent the events, the production line, the requester or the volumes)
PUBLIC_FIELDS = ("verdict", "product", "lot", "expiry", "first_scan_time", "first_scan_place",
                 "scan_count", "status", "approval_number", "company", "production_date", "path")


@dataclass(frozen=True)
class Registry:
    """The registry a category's codes are checked against.

    ``kind``: the registry's name ("vet"); ``number``: its RegistryKind on the
    wire (proto/tracecode/v1/verification.proto: the enum lists these numbers);
    ``fields``: the scheme's code fields the comparison reads, in order (their
    characters, cut from each code by the scheme's layout, key the checks run
    once per distinct value); ``checks``: ``checks(ctx, found, rec, scan, values,
    today) -> dict`` over tracecode.registry.compare's Context, where values maps
    each of ``fields`` to its characters; ``qr_approval``: the QR payload of
    fields names the approval, compared with the code's record."""
    kind: str
    number: int
    fields: tuple[str, ...]
    checks: Callable = field(compare=False)
    qr_approval: bool = False    # a QR payload of fields carries the approval number (its third field)
    # What the importer and issuance read from the category instead of knowing each kind
    # (tracecode.registry.records and .registry). ``numbers``: the module (python-stdnum
    # style: looks_like, validate) that reads this registry's numbers, imported when first
    # needed since the registry package imports the categories; ``noun``: what its numbers
    # are called in messages; ``record``: ``record(row, number) -> dict`` of the
    # ApprovalRecord fields only this kind has (the holder's enterprise id, spec codes),
    # RowError if the row lacks them; ``link``: ``link(rec, values) -> str | None``, why a
    # code whose ``fields`` are ``values`` is not one of the record's (None: it is);
    # ``product``: ``product(rec, on, spec, production_type) -> dict``, the scheme's
    # product fields for issuing codes under the record on date ``on``.
    numbers: str = ""
    noun: str = ""               # in messages about numbers: "not a {noun} number"
    title: str = ""              # what a record is, as the CLI shows it
    number_format: str = ""
    record: Callable | None = field(default=None, compare=False)
    link: Callable | None = field(default=None, compare=False)
    product: Callable | None = field(default=None, compare=False)
    # ``code_prefix``: ``code_prefix(number) -> str``, the leading characters of the codes
    # a number's holder issues (pesticides: digits 1-7 encode the registration), by which
    # the registry finds the records a code can mean; None when codes do not encode it.
    code_prefix: Callable | None = field(default=None, compare=False)

    def number_module(self):
        """The module reading this registry's numbers (see ``numbers``)."""
        import importlib
        return importlib.import_module(self.numbers)


@dataclass(frozen=True)
class Category:
    name: str                                  # the module's name
    title: str
    prefixes: tuple[str, ...] = ()
    registry: Registry | None = None
    lifecycle: tuple[str, ...] = CBV_STEPS
    public: tuple[str, ...] = ("verdict", "product", "lot", "expiry", "scan_count")
    qr_fields: tuple[str, ...] = ()
    # The category's own section of the code's public page: ``section(svc, code, lang,
    # unit=None) -> dict | None`` (data, never markup: "title", "verdict", "tone", "rows"
    # of (label, value), "notes"), what its readers need beyond the verdict (special
    # equipment: whether it may be used, its inspections and who did them); None for none.
    section: Callable | None = field(default=None, compare=False)

    def __post_init__(self):
        for step in self.lifecycle:
            if step not in CBV_STEPS and not step.startswith(OUR_NAMESPACE):
                raise ValueError(f"category {self.name!r}: bizStep {step!r} is neither CBV's nor "
                                 f"under {OUR_NAMESPACE}")
        unknown = sorted(set(self.public) - set(PUBLIC_FIELDS))
        if unknown:
            raise ValueError(f"category {self.name!r}: {unknown[0]!r} is not a public field "
                             f"({', '.join(PUBLIC_FIELDS)})")

    def prefix_score(self, codes: np.ndarray) -> np.ndarray:
        """Per code (numpy S array): +1 if it carries one of the prefixes, -1 if the
        category declares prefixes and it carries none, 0 if it declares none."""
        if not self.prefixes:
            return np.zeros(len(codes), np.int64)
        hit = np.zeros(len(codes), bool)
        for p in self.prefixes:
            hit |= np.char.startswith(codes, p.encode("ascii"))
        return np.where(hit, 1, -1).astype(np.int64)


def step_texts(step: dict, keys, name: str, *, strip: bool = False) -> dict:
    """The free-text fields `keys` a registered asset's step gives (special equipment,
    hazardous goods, livestock), as text, at most 200 characters each; StepError naming
    the field past that. Absent or empty ones are left out."""
    out = {}
    for key in keys:
        if step.get(key) not in (None, ""):
            value = str(step[key]).strip() if strip else str(step[key])
            if len(value) > 200:
                raise StepError(f"{name}: {key} is longer than 200 characters", field=key)
            out[key] = value
    return out
