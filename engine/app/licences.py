"""The application's verbs for the licences hazardous goods' steps happen under (Service.
licence_add, .licences): adding or renewing a licence is a regulator's or an admin's (the
licensing authorities: police, safety supervision); reading them too. Audited.

And what a caller learns of a hazardous-goods code (hazardous_answer): a regulator or an
admin its state, places, quantities and alerts; the issuer that registered it the same
(the factory traces its own shells); anyone else only that it is a controlled item.
"""
from __future__ import annotations

from ..categories import hazardous as hz
from ..errors import ValidationError
from .caller import Caller
from .refusal import denied, invalid

LICENSING = frozenset({"regulator", "admin"})


class LicenceVerbs:
    def __init__(self, service):
        self.svc = service
        self.dd = service.dd

    def _admit(self, caller: Caller, method: str) -> None:
        if not caller.has(LICENSING):
            raise denied(f"{caller.name} may not call {method}: licences are a regulator's or "
                         f"an admin's", client=caller.name)

    def add(self, caller: Caller, number, holder, kinds, valid_from, valid_to, *, peer: str = "",
            method: str = "LicenceAdd") -> dict:
        self._admit(caller, method)
        try:
            lic = self.dd.assets.licences.add(number, holder, kinds, valid_from, valid_to)
        except ValidationError as exc:
            raise invalid(exc.field or "licence", str(exc)) from None
        self.svc._audit("licence_add", caller, method, peer, **lic)
        return lic

    def list(self, caller: Caller, *, method: str = "Licences") -> list:
        self._admit(caller, method)
        return sorted(self.dd.assets.licences.on_record().values(), key=lambda x: x["number"])


def hazardous_answer(caller: Caller, answer: dict) -> dict:
    """A hazardous-goods asset verdict as this caller may see it."""
    if caller.has(LICENSING) or (answer.get("owner") is not None and answer.get("owner") == caller.name
                                 and caller.has({"issuer"})):
        return answer
    out = hz.public_verdict(answer.get("verdict") != hz.NOT_REGISTERED)
    out["code"] = answer.get("code")
    return out
