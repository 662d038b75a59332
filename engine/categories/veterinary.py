"""Veterinary drugs (兽药): the 24-digit trace code of MOA announcement No. 2210.

Scheme ``cn-vet-24`` (schemes/builtin/cn-vet-24.toml): application date
YYYYMMDD, the 5-digit enterprise id, 10 FF1 digits and a Damm check digit.
Its codes are told apart by their 24 digits, the check digit and a valid
date. Scans are compared with the veterinary approvals registry (批准文号):
the enterprise id the code carries (field ``enterprise``) must be the
approval holder's, the QR payload's approval number (the five-field form)
must be the code's, and the approval valid on the scan date.

>>> from tracecode import categories
>>> vet = categories.get("veterinary")
>>> [s.name for s in categories.schemes_of("veterinary")], vet.registry.kind, vet.registry.fields
(['cn-vet-24'], 'vet', ('enterprise',))
>>> vet.registry.number   # RegistryKind REGISTRY_KIND_VET on the wire
1
"""
from .category import Category, Registry


def checks(ctx, found, rec, scan, values, today) -> dict:
    """approval_matches, approval_valid and enterprise_matches for one combination of
    (found, the code record's approval, the QR payload's approval, enterprise id)."""
    from ..registry.compare import (  # the registry imports the categories
        Verdicts,
        validity,
    )
    enterprise = values["enterprise"]
    nums = ctx.nums
    v = Verdicts()
    number = nums.numbers.__getitem__
    if scan >= 0 and scan in nums.invalid:
        v.set("approval_matches", False, f"the QR payload's approval number {number(scan)!r} is "
                                         f"not valid: {nums.invalid[scan]}")
    elif scan >= 0 and rec >= 0 and scan != rec:
        v.set("approval_matches", False, f"the QR payload says {number(scan)}, the code's record "
                                         f"{number(rec)}")
    elif rec < 0 and found:
        v.set("approval_matches", False, "the code's record names no approval" + (
            f" (the QR payload names {number(scan)})" if scan >= 0 else ""))
    elif rec < 0 and scan < 0:
        v.set("approval_matches", None, "no approval number to compare")
    elif nums.record(rec if rec >= 0 else scan) is None:
        v.set("approval_matches", False, f"{number(rec if rec >= 0 else scan)} is not in the "
                                         f"registry")
    else:
        v.set("approval_matches", True, f"{number(rec if rec >= 0 else scan)}" + (
            ": the QR payload and the code's record agree" if rec >= 0 and scan >= 0 else ""))
    eff = rec if rec >= 0 else scan if scan not in nums.invalid else -1
    approval = validity(v, nums, eff, today)
    if approval is not None:
        ok = approval.enterprise_id == enterprise
        v.set("enterprise_matches", ok,
              f"enterprise {enterprise} holds {approval.number} ({approval.company})" if ok else
              f"enterprise {enterprise} in the code, but {approval.number} is held by enterprise "
              f"{approval.enterprise_id} ({approval.company})")
    else:
        held = ctx.view.numbers_by_enterprise(enterprise)
        v.set("enterprise_matches", None if held else False,
              f"enterprise {enterprise} holds {len(held)} approval{'s' * (len(held) > 1)}; none "
              f"is named to compare"
              if held else f"enterprise {enterprise} holds no approval in the registry")
    return v.done(eff, number(scan) if scan >= 0 else None)


def record(row, number) -> dict:
    """The holder's enterprise id (5 digits, the one its trace codes carry); no spec codes."""
    from ..registry.records import RowError, clean
    enterprise = clean(row.get("enterprise_id"))
    if not enterprise:
        raise RowError(f"{number}: missing enterprise_id")
    if not (len(enterprise) == 5 and enterprise.isascii() and enterprise.isdigit()):
        raise RowError(f"{number}: enterprise_id {row['enterprise_id']!r} is not 5 digits")
    if clean(row.get("spec_codes")):
        raise RowError(f"{number}: spec_codes belong to pesticide registrations")
    return {"enterprise_id": enterprise}


def link(rec, values) -> str | None:
    """A code is the approval's if it carries the holder's enterprise id."""
    if values["enterprise"] != rec.enterprise_id:
        return (f"enterprise {values['enterprise']} in the code, but {rec.number} is held by "
                f"enterprise {rec.enterprise_id} ({rec.company})")
    return None


def product(rec, on, spec=None, production_type="1") -> dict:
    """Codes issued under an approval: today's date and the holder's enterprise id."""
    return {"date": on.strftime("%Y%m%d"), "enterprise": rec.enterprise_id}


CATEGORY = Category(
    name="veterinary",
    title="Veterinary drugs (兽药)",
    registry=Registry(kind="vet", number=1, fields=("enterprise",), checks=checks,
                      qr_approval=True, numbers="tracecode.registry.approvals",
                      noun="veterinary approval",
                      title="veterinary drug approval", number_format="兽药字(YYYY)#########",
                      record=record, link=link, product=product),
    lifecycle=("commissioning", "decommissioning", "packing", "unpacking", "shipping",
               "receiving", "retail_selling", "holding", "destroying"),
    public=("verdict", "product", "lot", "expiry", "first_scan_time", "first_scan_place",
            "scan_count", "status", "approval_number", "company", "production_date"),
    qr_fields=("product", "approval_number", "company", "phone"),   # after the code
)
