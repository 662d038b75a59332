"""The application layer without a server: rights, refusals, idempotent issuance and
the audit, through tracecode.app.Service and Callers built by hand (no gRPC)."""
import subprocess
import sys

import pytest
import tracecode
from tracecode.app import LOCAL, REASONS, Caller, ProductRule, Refusal, Service
from tracecode.app.audit import read as read_audit
from tracecode.app.clients import Clients, ClientsFile
from tracecode.app.refusal import refusal_of
from tracecode.app.rights import VERBS, admit
from tracecode.errors import CapacityExceeded

DRUG = {"drug_id": "8177322"}


def caller(name, *roles, products=()):
    return Caller(name, frozenset(roles), tuple(ProductRule.parse(p) for p in products))


LINE = caller("line-3", "issuer", products=["cn-drug-20:drug_id=8177322"])
OTHER = caller("line-9", "issuer", products=["cn-drug-20:drug_id=1234567"])
SCANNER = caller("pda-7", "scanner")
REGULATOR = caller("nmpa", "regulator")


@pytest.fixture
def svc(tmp_path):
    tracecode.init(tmp_path / "data").close()
    d = tracecode.open(tmp_path / "data")
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    clients.add("line-3", ["issuer"], ["cn-drug-20:drug_id=8177322"])
    s = Service(d, Clients(tmp_path / "clients.toml"))
    yield s
    s.close()
    d.close()


def refused(reason, fn, *args, **kw) -> Refusal:
    with pytest.raises(Refusal) as info:
        fn(*args, **kw)
    assert info.value.reason == reason, info.value
    return info.value


def test_the_layer_imports_no_transport():
    """tracecode.app and its verbs load without gRPC or protobuf."""
    code = ("import sys, tracecode.app, tracecode.app.service; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('grpc', 'google')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_refusals_are_a_closed_vocabulary():
    assert Refusal("index_full").detail == REASONS["index_full"]
    with pytest.raises(ValueError):
        Refusal("INVALID_ARGUMENT")
    r = refusal_of(CapacityExceeded("none left", remaining=0))
    assert (r.reason, r.facts["remaining"]) == ("capacity_exceeded", "0")
    assert refusal_of(RuntimeError("ours")) is None


def test_every_verb_has_its_roles_and_admission_refuses_others():
    admit(SCANNER, "verify")
    for verb in ("issue", "apply_events", "stats", "list_batches"):
        r = refused("permission_denied", admit, SCANNER, verb)
        assert r.facts["client"] == "pda-7" and verb in r.detail
    admit(REGULATOR, "stats")
    refused("permission_denied", admit, LINE, "stats")
    assert set(VERBS) >= {"issue", "download", "verify", "verify_many", "check", "check_many",
                          "apply_events", "history", "list_schemes", "list_batches", "stats",
                          "whoami", "lookup_approval", "report_commissioned", "report_spoiled"}


def test_issue_is_idempotent_scoped_and_audited(svc):
    batch, replayed = svc.issue(LINE, "cn-drug-20", DRUG, 100, idempotency_key="k1")
    again, replayed_again = svc.issue(LINE, "cn-drug-20", DRUG, 100, idempotency_key="k1")
    assert (again.id, replayed, replayed_again) == (batch.id, False, True)
    r = refused("key_reused", svc.issue, LINE, "cn-drug-20", DRUG, 99, idempotency_key="k1")
    assert r.field == "idempotency_key"
    refused("permission_denied", svc.issue, OTHER, "cn-drug-20", DRUG, 1, idempotency_key="k2")
    refused("unknown_scheme", svc.issue, LINE, "no-such", DRUG, 1, idempotency_key="k3")
    assert refused("invalid_argument", svc.issue, LINE, "cn-drug-20", DRUG, 0,
                   idempotency_key="k4").field == "count"
    events = [r["event"] for r in read_audit(svc.audit.path)]
    assert events[:4] == ["issue_intent", "issue", "issue_intent", "issue"]


def test_verify_report_and_history_through_the_verbs(svc):
    batch, _ = svc.issue(LOCAL, "cn-drug-20", DRUG, 10, idempotency_key="k")
    width, chunks = svc.download(LINE, batch.id)
    codes = [c for _, part in chunks for c in part.tolist()]
    assert width == 20 and len(codes) == 10
    refused("permission_denied", svc.download, OTHER, batch.id)
    assert svc.report_commissioned(LINE, "e1", batch_id=batch.id, ranges=[(0, 5)])["ok"]
    assert svc.verify(SCANNER, codes[0]).verdict.name == "GENUINE"
    assert refused("unreadable_scan", svc.verify, SCANNER, "").facts["fault"] == "EMPTY"
    refused("permission_denied", svc.verify, SCANNER, codes[0], record=False)
    items, truncated = svc.history(LINE, codes[0].decode())
    assert items and not truncated
    refused("permission_denied", svc.history, OTHER, codes[0].decode())


def test_events_rejected_one_by_one_or_all(svc):
    batch, _ = svc.issue(LINE, "cn-drug-20", DRUG, 4, idempotency_key="k")
    codes = [c.decode() for _, part in svc.download(LINE, batch.id)[1] for c in part.tolist()]
    results = svc.apply_events(LINE, [{"id": "a", "action": "commission", "codes": codes[:2]},
                                      {"id": "b", "action": "sell", "codes": codes[2:]},
                                      "events[2]: not decodable"])
    assert [r["ok"] for r in results] == [True, False, False]
    assert [r.get("reason") for r in results[1:]] == ["illegal_transition", "invalid_argument"]
    atomic = svc.apply_events(LINE, [{"id": "c", "action": "commission", "codes": codes[2:]},
                                     {"id": ""}], atomic=True)
    assert [r.get("reason") for r in atomic] == ["not_applied", "invalid_argument"]
    refused("permission_denied", svc.apply_events, OTHER,
            [{"id": "x", "action": "commission", "codes": codes[2:]}])
    refused("permission_denied", svc.apply_events, SCANNER, [{"id": "x", "action": "commission"}])


def test_stats_and_whoami(svc):
    svc.issue(LOCAL, "cn-drug-20", DRUG, 10, idempotency_key="k")
    s = svc.stats(REGULATOR)
    assert (s["batches"], s["codes_issued"], s["schemes"][0]["products"]) == (1, 10, 1)
    assert svc.whoami(LINE)["products"] == ["cn-drug-20:drug_id=8177322"]
    batches, more = svc.list_batches(OTHER)
    assert (batches, more) == ([], False)


def test_local_and_remote_back_ends_have_the_same_verbs(tmp_path):
    """The command line runs each verb on either back end: same names, same arguments."""
    import inspect

    from tracecode.app.local import LocalClient
    from tracecode.v1 import Client
    verbs = ("issue", "request_codes", "verify", "verify_many", "check", "check_many",
             "lookup_approval", "apply_events", "history", "schemes", "batches", "stats", "whoami")
    for verb in verbs:
        local = inspect.signature(getattr(LocalClient, verb)).parameters
        remote = inspect.signature(getattr(Client, verb)).parameters
        shared = [p for p in remote if p not in ("self", "batch_size", "chunk_codes")]
        assert all(p in local for p in shared), (verb, shared, list(local))


def test_the_operator_records_as_the_engine_does(tmp_path):
    from tracecode.app.local import LocalClient
    tracecode.init(tmp_path / "data").close()
    with LocalClient(tracecode.open(tmp_path / "data")) as c:
        dl = c.request_codes("cn-drug-20", DRUG, 3, requester="me")
        codes = [x.decode() for part in dl for x in part.tolist()]
        assert dl.batch.requester == "me"
        assert c.apply_events([{"id": "e", "action": "commission", "codes": codes}])[0]["ok"]
        assert [a.verdict.name for a in c.verify_many(codes, scanner="pda", place="P")] == \
            ["GENUINE"] * 3
        c.dd.index.log.flush()   # scans are group-committed
        scans = [i for i in c.history(codes[0]) if i["kind"] == "scan"]
        assert scans[0]["scanner"] == "pda"
        # the engine's own event id namespace: the same event again is a replay
        assert c.dd.apply([{"id": "e", "action": "commission", "codes": codes}])[0]["ok"]
