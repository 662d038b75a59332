"""CBV and EPCIS rules GS1's JSON schema does not express (it checks shapes, not how fields
go together): each gives a Problem with the JSON pointer of the field at fault."""
from __future__ import annotations

from .epc import to_code
from .errors import EpcisError, Problem, pointer as _ptr
from .cbv import epcs_of, vocab

_READ = tuple(f"urn:epc:{k}:" for k in ("id:sgtin", "id:sscc", "id:sgln", "id:grai", "id:giai",
                                         "id:gsrn", "id:gsrnp", "id:gdti", "id:sgcn", "class:lgtin",
                                         "idpat:sgtin"))
_EPC_ROLES = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")


def _has(event, *keys) -> bool:
    return any(isinstance(event.get(k), list) and event[k] for k in keys)


def cbv_problems(event, at: str = "") -> list[Problem]:
    """The rule-breaking of one event (`at` its pointer, e.g. /epcisBody/eventList/3).

    >>> [str(p) for p in cbv_problems({"type": "AggregationEvent", "action": "ADD",
    ...                                 "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017"]}, "/e")]
    ['/e/parentID: an AggregationEvent ADD needs a parentID (the container the children go into)']
    """
    if not isinstance(event, dict):
        return [Problem(at, "an event is a JSON object")]
    out: list[Problem] = []
    kind, action = event.get("type"), event.get("action")

    def here(*parts):
        return at + _ptr(*parts)

    if kind in ("AggregationEvent", "AssociationEvent") and action in ("ADD", "DELETE") \
            and event.get("parentID") is None:
        what = "the container the children go into" if action == "ADD" else "the container they leave"
        out.append(Problem(here("parentID"), f"an {kind} {action} needs a parentID ({what})"))
    if kind in ("AggregationEvent", "AssociationEvent") and action == "ADD" \
            and not _has(event, "childEPCs", "childQuantityList"):
        out.append(Problem(here("childEPCs"), f"an {kind} ADD needs children (childEPCs or childQuantityList)"))
    if kind == "ObjectEvent" and not _has(event, "epcList", "quantityList"):
        out.append(Problem(here("epcList"), "an ObjectEvent names what it is about: epcList or quantityList"))
    if kind == "TransformationEvent" and not _has(event, "inputEPCList", "inputQuantityList",
                                                   "outputEPCList", "outputQuantityList"):
        out.append(Problem(here("inputEPCList"), "a TransformationEvent needs inputs or outputs"))
    if kind == "TransactionEvent" and not _has(event, "bizTransactionList"):
        out.append(Problem(here("bizTransactionList"), "a TransactionEvent names its business transactions"))
    if "ilmd" in event and not (kind == "TransformationEvent" or (kind == "ObjectEvent" and action == "ADD")):
        out.append(Problem(here("ilmd"), "ilmd (instance/lot master data) belongs to an ObjectEvent ADD or a "
                                         "TransformationEvent, where the objects come to be"))
    if vocab(event.get("bizStep")) == "commissioning" and kind == "ObjectEvent" and action not in ("ADD", None):
        out.append(Problem(here("action"), f"commissioning is an ObjectEvent ADD, not {action}"))
    # EPCs that claim to be EPC URNs must be well-formed ones (any other URI is the sender's)
    roles = epcs_of(event)
    for role in (*_EPC_ROLES, "parentID"):
        for i, epc in enumerate(roles[role]):
            if epc.lower().startswith(_READ):
                try:
                    to_code(epc)
                except EpcisError as exc:
                    where = here(role) if role == "parentID" else here(role, i)
                    out.append(Problem(where, exc.detail))
    return out
