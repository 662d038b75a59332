"""The application's verbs for codes others assigned (special equipment): register them,
record their assets' steps, answer a scan of one (Service.register, .asset_steps, .asset).

Rights: registering is an issuer's (a maker's, an authority's: their own products, as
their product rules name them) or an admin's; the steps that change whether an asset may
be used at all (registration for use, taking out of service, scrapping) are a regulator's,
an admin's, or an issuer's for its own assets only (it registered them, or its product rules
name their product); inspection results and due dates (inspect, or next_due on any other
step) are the inspection body's: a regulator's or an admin's, since a failing result or a
past due date stops every filling; the others (maintained, repaired, filled...) any known
client's, each naming who did it; the public window records nothing. Every registration
and every step is audited.

Livestock: an animal's death and harmless disposal and a lost tag's replacement retire its
tag, so they are authority steps as scrapping is: the tag's registrant (or an issuer whose
product rules name it), the veterinary authority (a regulator) or an admin. A replacement's
new tag is the same registrant's, or the caller's own (registered by it or named by its
rules); only an admin puts any registered tag on any animal.
"""
from __future__ import annotations

from .. import categories
from ..errors import ValidationError
from ..index.register import RegisterReport
from .caller import Caller
from .refusal import denied, invalid
from .rights import admit

AUTHORITY_STEPS = frozenset({"register_use", "take_out_of_service", "scrap",
                             "dispose", "replace"})    # livestock's: the tag retired
AUTHORITIES = frozenset({"issuer", "regulator", "admin"})
OVERSIGHT = frozenset({"regulator", "admin"})    # any asset's authority steps; inspection bodies
MAX_STEPS_PER_CALL = 10_000


class AssetVerbs:
    def __init__(self, service):
        self.svc = service
        self.dd = service.dd

    def register(self, caller: Caller, scheme: str, codes, *, owner: str | None = None,
                 source: str = "-", peer: str = "", method: str = "Register") -> RegisterReport:
        """Register codes of an externally assigned scheme for ``owner`` (default: the
        caller); an issuer only those of products its rules name."""
        admit(caller, "register", method)
        sch = self.svc.scheme(scheme, "scheme")
        if not sch.external:
            raise invalid("scheme", f"{sch.name} codes are issued here, not registered")
        if not caller.admin:
            self._require_products(caller, sch, codes)
        try:
            rep = self.dd.register(sch.name, codes, owner=owner or caller.name, source=source)
        except ValidationError as exc:
            raise invalid(exc.field or "codes", str(exc)) from None
        self.svc._audit("register", caller, method, peer, scheme=sch.name, owner=rep.record["owner"],
                        registered=rep.registered, already=rep.already, rejected=rep.rejected)
        return rep

    def _require_products(self, caller: Caller, sch, codes) -> None:
        """Every well-formed code's product fields are a product the caller's rules name
        (checked once per distinct product)."""
        texts = [c if isinstance(c, str) else bytes(c).decode("utf-8", "replace") for c in codes]
        cut = [sch.compact(t) for t in texts]
        products = {}
        for t in cut:
            if len(t) == sch.length:
                fields = sch.split(t)
                key = tuple(fields[f.name] for f in sch.product_fields)
                products.setdefault(key, {f.name: fields[f.name] for f in sch.product_fields})
        for product in products.values():
            if not caller.owns(sch.name, product):
                shown = ",".join(f"{k}={v}" for k, v in product.items())
                raise denied(f"{caller.name} may not register {sch.name}:{shown}", client=caller.name,
                             scheme=sch.name, product=shown)

    def steps(self, caller: Caller, steps: list, *, peer: str = "", method: str = "AssetSteps") -> list:
        """Record assets' steps ({"code", "step", "by", ...} each): one result each, a refused
        step's reason and why; the others recorded."""
        admit(caller, "asset_steps", method)
        if caller.via == "public":
            raise denied("the public window records no asset steps", client=caller.name)
        if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS_PER_CALL:
            raise invalid("steps", f"1 to {MAX_STEPS_PER_CALL:,} steps per call")
        out = []
        for entry in steps:
            why = self._may_not(caller, entry) if isinstance(entry, dict) else None
            if why:
                out.append({"ok": False, "code": entry.get("code"), "reason": "permission_denied",
                            "error": why})
                continue
            if isinstance(entry, dict):
                entry = dict(entry, client=caller.name)
            out.append(self.dd.assets.record_many([entry])[0])
        self.svc._audit("asset_steps", caller, method, peer, steps=len(out),
                        recorded=sum(1 for r in out if r.get("ok")),
                        refused=[(r.get("code"), r.get("reason")) for r in out if not r.get("ok")][:20])
        return out

    def _may_not(self, caller: Caller, entry: dict) -> str | None:
        """Why the caller may not record this step (None: it may)."""
        why = self._may_not_step(caller, entry)
        if why is None and entry.get("step") == "replace" and not caller.admin:
            why = self._may_not_put_on(caller, entry)
        return why

    def _may_not_put_on(self, caller: Caller, entry: dict) -> str | None:
        """Why the caller may not put the replace step's new tag on the old tag's animal: it
        is neither the old tag's registrant's nor the caller's (None: it may, or either tag
        is unregistered, which the step's check refuses)."""
        new_tag = entry.get("new_tag")
        old = self.dd.assets.registration(entry.get("code"))
        new = self.dd.assets.registration(new_tag) if isinstance(new_tag, str) else None
        if old is None or new is None:
            return None
        if new["owner"] in (old["owner"], caller.name) or caller.owns(new["scheme"], new["product"]):
            return None
        return (f"{caller.name} may not put tag {new_tag} (registered by {new['owner']}) on an animal "
                f"whose tag is registered by {old['owner']}: a replacement tag is the same "
                f"registrant's or the caller's own")

    def _may_not_step(self, caller: Caller, entry: dict) -> str | None:
        name = entry.get("step")
        if caller.has(OVERSIGHT):
            return None
        sets_due = entry.get("next_due") not in (None, "") and name != "register_use"
        if name == "inspect" or sets_due:
            return (f"{caller.name} may not record inspection results or due dates: they are an "
                    f"inspection body's ({', '.join(sorted(OVERSIGHT))})")
        if name not in AUTHORITY_STEPS:
            return None
        if not caller.has(AUTHORITIES):
            return f"{caller.name} may not record {name}: it needs one of {', '.join(sorted(AUTHORITIES))}"
        reg = self.dd.assets.registration(entry.get("code"))
        if reg is None:
            return None                  # no registered asset: the step is refused as not_registered
        if reg["owner"] == caller.name or caller.owns(reg["scheme"], reg["product"]):
            return None
        return (f"{caller.name} may not record {name} for an asset registered by {reg['owner']}: "
                f"an issuer records it only for its own assets")

    def asset(self, caller: Caller, code: str, *, unit: str | None = None, today=None,
              method: str = "Asset") -> dict:
        """What a scan of an asset's code answers (special_equipment.verdict); with
        ``unit``, whether that filling unit may fill it now."""
        admit(caller, "asset", method)
        if not isinstance(code, str) or not code.strip():
            raise invalid("code", "required")
        if unit is not None and (not isinstance(unit, str) or len(unit) > 200):
            raise invalid("unit", "a filling unit's id of at most 200 characters")
        answer = self.dd.assets.verdict(code, unit=unit, today=today)
        sch = self.dd.index.schemes.get(answer.get("scheme"))
        if sch is not None and categories.of_scheme(sch).name == "hazardous":
            from .licences import hazardous_answer   # details for regulators only
            return hazardous_answer(caller, answer)
        return answer
