"""Pesticides (农药): the 32-digit label code of MOA announcement No. 2579.

Scheme ``cn-pesticide-32`` (schemes/builtin/cn-pesticide-32.toml):
registration class (1 PD, 2 WP, 3 temporary), the last six digits of the
registration number, production type, the company's 3-digit specification
code, 20 FF1 digits and a Damm check digit. Its codes are told apart by
their 32 digits, the check digit and the class and production type choices.
Scans are compared with the pesticide registrations registry (登记证号):
class and number (fields ``reg_class`` + ``reg_number``, digits 1-7) must
encode a registered number, the spec code (``spec``) be one its holder
declared, and the registration valid on the scan date.

>>> from tracecode import categories
>>> pest = categories.get("pesticides")
>>> [s.name for s in categories.schemes_of("pesticides")], pest.registry.kind
(['cn-pesticide-32'], 'pesticide')
>>> pest.registry.fields, pest.registry.number   # REGISTRY_KIND_PESTICIDE on the wire
(('reg_class', 'reg_number', 'spec'), 2)
"""
from .category import Category, Registry


def checks(ctx, found, rec, scan, values, today) -> dict:
    """approval_matches, approval_valid and enterprise_matches for one combination of
    (the code record's registration, registration prefix, spec code)."""
    from ..registry.compare import (  # the registry imports the categories
        Verdicts,
        validity,
    )
    nums = ctx.nums
    v = Verdicts()
    prefix, spec = values["reg_class"] + values["reg_number"], values["spec"]
    registered = ctx.view.numbers_by_prefix(prefix)
    record = nums.record(rec)
    if rec >= 0:
        eff = rec
        if record is None:
            v.set("approval_matches", False, f"{nums.numbers[rec]} on the code's record is not "
                                             f"in the registry")
        elif record.code_prefix != prefix:
            v.set("approval_matches", False, f"digits 1-7 {prefix} do not encode "
                                             f"{record.number} ({record.code_prefix}), the "
                                             f"code's record")
        else:
            v.set("approval_matches", True, f"digits 1-7 {prefix} encode {record.number}")
    elif registered:
        refs = [nums.ref(r) for r in registered]  # several only across eras: prefer a valid one
        eff = next((r for r in refs if nums.record(r).validity(today)[0]), refs[0])
        v.set("approval_matches", True, f"digits 1-7 {prefix} encode {nums.numbers[eff]}")
    else:
        eff = -1
        v.set("approval_matches", False, f"digits 1-7 {prefix}: no registration of class "
                                         f"{prefix[0]} ends in {prefix[1:]}")
    approval = validity(v, nums, eff, today)
    if approval is None:
        v.set("enterprise_matches", None, "no registration to compare the company with")
    elif not approval.spec_codes:
        v.set("enterprise_matches", True, f"{approval.company} declares no spec codes; "
                                          f"spec {spec} taken as theirs")
    else:
        ok = spec in approval.spec_codes
        v.set("enterprise_matches", ok, f"spec code {spec} is "
                                        f"{'' if ok else 'not '}one {approval.company} declared "
                                        f"for {approval.number}")
    return v.done(eff)


def code_prefix(number: str) -> str:
    """Digits 1-7 of a registration's label codes: its class digit and last six digits."""
    from ..registry import registrations
    return registrations.code_prefix(number)


def record(row, number) -> dict:
    """The spec codes (label code digits 9-11) the holder declared, if any."""
    from ..registry.records import spec_codes
    return {"spec_codes": spec_codes(row.get("spec_codes"))}


def link(rec, values) -> str | None:
    """A label code is the registration's if digits 1-7 encode its number and the spec
    code is one the holder declared (any, when it declared none)."""
    prefix, spec = values["reg_class"] + values["reg_number"], values["spec"]
    if prefix != rec.code_prefix:
        return f"digits 1-7 {prefix} do not encode {rec.number} ({rec.code_prefix})"
    if rec.spec_codes and spec not in rec.spec_codes:
        return (f"spec code {spec} is not one {rec.company} declared for {rec.number} "
                f"({', '.join(rec.spec_codes)})")
    return None


def product(rec, on, spec=None, production_type="1") -> dict:
    """Label codes under a registration: its class and digits, and a declared spec code."""
    from ..errors import ApprovalNotValid
    if spec is None or (rec.spec_codes and spec not in rec.spec_codes):
        raise ApprovalNotValid(f"{rec.number} needs one of its spec codes "
                               f"({', '.join(rec.spec_codes) or 'any 3 digits'}), got {spec!r}")
    prefix = rec.code_prefix
    return {"reg_class": prefix[0], "reg_number": prefix[1:], "production_type": production_type,
            "spec": spec}


CATEGORY = Category(
    name="pesticides",
    title="Pesticides (农药)",
    registry=Registry(kind="pesticide", number=2, fields=("reg_class", "reg_number", "spec"),
                      checks=checks, numbers="tracecode.registry.registrations",
                      noun="pesticide registration",
                      title="pesticide registration", number_format="PD/WP/LS/WL + 8 digits",
                      record=record, link=link, product=product, code_prefix=code_prefix),
    lifecycle=("commissioning", "decommissioning", "packing", "unpacking", "shipping",
               "receiving", "retail_selling", "holding", "destroying"),
    public=("verdict", "product", "lot", "expiry", "first_scan_time", "first_scan_place",
            "scan_count", "status", "approval_number", "company", "production_date"),
)
