"""One data directory for the public window's tests (tests/test_web_answer.py, the browser
test): a veterinary registry (a valid and a revoked approval), drug codes in every state
(genuine, recalled, sold, destroyed, never commissioned, expired), veterinary codes issued
under the approvals, and callers: the public, the drugs' issuer, another issuer, a regulator.

    w = build(root)          # {"d", "svc", "genuine": code, ..., "tokens": {role: token}}
"""
import datetime as dt

import tracecode
from tracecode.app.caller import LOCAL, Caller, ProductRule
from tracecode.app.service import Service

from conftest import wait_until

COMPANY = "华东某某动物药业有限公司"
VALID = "兽药字(2015)010012345"
REVOKED = "兽药字(2017)010012347"
PEST, PEST_COMPANY = "PD20092927", "某农化有限公司"
ENTERPRISE = "00002"
DRUG = {"drug_id": "8177322"}
LINE, REQUESTER = "line-secret-9", "requester-secret-bob"
ISSUER = Caller("maker", frozenset({"issuer"}), (ProductRule("cn-drug-20", (("drug_id", "8177322"),)),))
OTHER_ISSUER = Caller("rival", frozenset({"issuer"}), (ProductRule("cn-drug-20", (("drug_id", "8100000"),)),))
REGULATOR = Caller("moa", frozenset({"regulator"}))


def qr(code, approval):
    return ",".join([code, "兽用阿莫西林可溶性粉", approval, COMPANY, "0571-88888888"])


def commission(d, codes, eid):
    assert all(r["ok"] for r in d.apply([{"id": eid, "action": "commission", "codes": codes,
                                          "place": "Factory A"}]))


def build(root, *, clients=None):
    """The world under `root`; `clients`: a Clients for the Service (default: open)."""
    d = tracecode.init(root / "data")
    vet = dict(company=COMPANY, enterprise_id=ENTERPRISE, dosage_form="粉剂", specification="100g",
               valid_until="2099-12-31")
    assert d.registry.import_rows([
        dict(vet, number=VALID, product="阿莫西林可溶性粉"),
        dict(vet, number=REVOKED, product="氟苯尼考粉", status="revoked", status_since="2024-01-01"),
        dict(number=PEST, product="吡虫啉", company=PEST_COMPANY, spec_codes="001;002", valid_until="2099-12-31"),
    ]).ok
    b = d.issue("cn-drug-20", DRUG, 12, lot="L7", expiry="20991231", line=LINE, requester=REQUESTER)
    drugs = [c.decode() for c in b.codes()]
    commission(d, drugs[:11], "c-drugs")
    assert all(r["ok"] for r in d.apply([
        {"id": "ship", "action": "ship", "codes": drugs[:2] + drugs[4:6], "place": "Nanning DC"},
        {"id": "recall", "action": "recall", "codes": drugs[1:2], "reason": "contamination"},
        {"id": "sell", "action": "sell", "codes": drugs[2:3], "place": "Pharmacy 3"},
        {"id": "destroy", "action": "destroy", "codes": drugs[3:4], "reason": "damaged"}]))
    old = d.issue("cn-drug-20", DRUG, 2, lot="OLD", expiry="20200131")
    expired = [c.decode() for c in old.codes()]
    commission(d, expired, "c-old")
    vb = d.issue_approved(VALID, 3, date=dt.date(2023, 3, 1), lot="V1", expiry="20991231")
    vets = [c.decode() for c in vb.codes()]
    commission(d, vets, "c-vet")
    rb = d.issue_approved(REVOKED, 2, date=dt.date(2023, 6, 1), lot="R1", expiry="20991231")
    revoked = [c.decode() for c in rb.codes()]
    commission(d, revoked, "c-rev")
    nb = d.issue_approved(VALID, 1, date=dt.date(2023, 3, 1), lot="V2")   # no expiry on record
    vet_no_expiry = [c.decode() for c in nb.codes()]
    commission(d, vet_no_expiry, "c-vet-no-expiry")
    pb = d.issue_approved(PEST, 2, spec="001", lot="P1", expiry="20991231")
    pests = [c.decode() for c in pb.codes()]
    commission(d, pests, "c-pest")
    svc = Service(d, clients)
    key = svc.link_key_of(svc.verify(LOCAL, drugs[0], record=False))
    svc.set_links(LOCAL, key, [
        {"link_type": "gs1:pip", "href": "https://maker.example/zh/8177322", "lang": ["zh"], "title": "说明书"},
        {"link_type": "gs1:pip", "href": "https://maker.example/en/8177322", "lang": ["en"], "default": True},
        {"link_type": "gs1:epcis", "href": "https://epcis.maker.example/events"}])
    w = {"d": d, "svc": svc, "genuine": drugs[0], "recalled": drugs[1], "sold": drugs[2],
         "destroyed": drugs[3], "repeat": drugs[4], "suspicious": drugs[5], "private": drugs[6],
         "fresh": drugs[7], "uncommissioned": drugs[11], "expired": expired[0], "vet": vets[0],
         "vet2": vets[1], "revoked": revoked[0], "pest": pests[0], "vet_no_expiry": vet_no_expiry[0],
         "unknown": "81773220000000000001"}
    return w


def close(w):
    w["svc"].close()
    w["d"].close()


def scans_of(w, code) -> list:
    return [i for i in w["d"].history(code) if i["kind"] == "scan"]


def settled(w, code, n):
    """Scans reach the next answer's counts once the group commit has written them: wait
    until the code's n scans are in (a flush racing the background one may find none)."""
    return wait_until(lambda: w["d"].index.store.flush_scans() is not None
                      and len(scans_of(w, code)) >= n and scans_of(w, code), what=f"{n} scans")
