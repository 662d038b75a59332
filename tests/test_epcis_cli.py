"""`tracecode epcis capture|query` and `tracecode history --epcis` as a user runs them (the
installed command in a subprocess, real files, stdin and pipes): the job printed with each
error's JSON pointer and exit 1 when any event failed, rollback and --proceed, queries by
EPC, type, bizStep and time, --json documents that GS1's schema accepts and that capture
into another directory gives the same events, and one-line usage errors."""
from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
from epcis_reference import EXAMPLES, SCHEMA, need

BASE = "https://trace.example.gov.cn"
SSCC = "(00)106141411234567897"



def run(*args, stdin: bytes | None = None, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], input=stdin,
                          capture_output=True, timeout=180)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    assert proc.returncode == code, (proc.returncode, proc.stdout.decode()[-2000:], proc.stderr.decode())
    return proc


def doc(*events) -> dict:
    return {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-12-01T08:00:00+08:00",
            "epcisBody": {"eventList": list(events)}}


def event(epcs, step="shipping", minute=0, disposition="in_transit") -> dict:
    return {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": step, "disposition": disposition,
            "eventTime": f"2026-11-30T10:{minute:02d}:00+08:00", "eventTimeZoneOffset": "+08:00",
            "epcList": list(epcs)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("epcis-cli")
    d = root / "data"
    run("init", d, "--base-url", BASE)
    run("issue", d, "--scheme", "cn-drug-20", "--product", "drug_id=8177322", "--count", 30,
        "--out", root / "drugs.txt")
    drugs = (root / "drugs.txt").read_text().split()
    lines = [{"id": "c1", "action": "commission", "codes": drugs, "time": "2026-11-30T09:00:00+08:00"},
             {"id": "p1", "action": "pack", "codes": drugs[20:24], "parent": SSCC,
              "time": "2026-11-30T09:30:00+08:00"}]
    run("events", d, stdin="\n".join(json.dumps(x) for x in lines).encode())
    return {"root": root, "dir": d, "drugs": drugs, "schema": json.loads(need(SCHEMA).read_text())}


def epc(code: str) -> str:
    return f"{BASE}/c/{code}"


def events_of(proc) -> list:
    return json.loads(proc.stdout)["epcisBody"]["eventList"]


def test_capture_prints_the_job_and_exits_by_its_outcome(world, tmp_path):
    d, drugs = world["dir"], world["drugs"]
    path = tmp_path / "ship.jsonld"
    path.write_text(json.dumps(doc(event([epc(drugs[0]), epc(drugs[1])]))))
    out = run("epcis", "capture", d, path).stdout.decode()
    assert out.startswith("capture job ") and "(rollback): success" in out and "1 stored" in out
    assert "1 applied" in out

    wrong = {**event([epc(drugs[3])], minute=2), "action": "JUMP"}              # not an EPCIS action
    bad = json.dumps(doc(event([epc(drugs[2])], minute=1), wrong)).encode()
    proc = run("epcis", "capture", d, "-", stdin=bad, code=1)       # rollback: nothing stored
    text = proc.stdout.decode()
    assert "(rollback): failure" in text and "0 stored" in text
    assert "  /epcisBody/eventList/1" in text                        # where, as a JSON pointer
    assert events_of(run("epcis", "query", d, "--epc", epc(drugs[2]), "--json")) == []

    proc = run("epcis", "capture", d, "-", "--proceed", stdin=bad, code=1)
    assert "(proceed): failure" in proc.stdout.decode() and "1 stored" in proc.stdout.decode()
    [stored] = events_of(run("epcis", "query", d, "--epc", epc(drugs[2]), "--json"))
    assert stored["epcList"] == [epc(drugs[2])]

    job = json.loads(run("epcis", "capture", d, path, "--json").stdout)    # again: idempotent
    assert job["state"] == "success" and job["counts"]["already_stored"] == 1 and job["counts"]["stored"] == 0

    # the lifecycle moved: the history says shipped
    history = [json.loads(x) for x in run("history", d, drugs[0]).stdout.decode().splitlines()]
    assert "ship" in [h.get("action") for h in history]


def test_query_filters_and_round_trip(world, tmp_path):
    d, drugs = world["dir"], world["drugs"]
    body = doc(event([epc(drugs[5])], "shipping", 10),
               event([epc(drugs[5])], "receiving", 12, "in_progress"),
               event([epc(drugs[6])], "shipping", 20))
    run("epcis", "capture", d, "-", stdin=json.dumps(body).encode())
    # receiving what was never shipped: the lifecycle refuses it, the job says so, exit 1
    proc = run("epcis", "capture", d, "-", stdin=json.dumps(doc(event([epc(drugs[7])], "receiving", 40,
                                                                     "in_progress"))).encode(), code=1)
    assert "illegal_transition" in proc.stdout.decode()
    lines = run("epcis", "query", d, "--biz-step", "receiving").stdout.decode().splitlines()
    assert lines and all("\treceiving\t" in x for x in lines)
    assert all(x.split("\t")[1] == "ObjectEvent" for x in run("epcis", "query", d, "--type", "ObjectEvent")
               .stdout.decode().splitlines())
    window = events_of(run("epcis", "query", d, "--since", "2026-11-30T10:15:00+08:00",
                           "--until", "2026-11-30T10:25:00+08:00", "--json"))
    assert [e["epcList"] for e in window] == [[epc(drugs[6])]]
    assert len(run("epcis", "query", d, "--limit", "2").stdout.decode().splitlines()) == 2

    everything = run("epcis", "query", d, "--json")
    document = json.loads(everything.stdout)
    jsonschema.validate(document, world["schema"])
    other = tmp_path / "other"
    run("init", other, "--base-url", BASE)
    proc = run("epcis", "capture", other, "-", stdin=everything.stdout)     # a trade partner's copy
    assert "success" in proc.stdout.decode()
    again = json.loads(run("epcis", "query", other, "--json").stdout)
    key = lambda e: json.dumps({k: v for k, v in e.items() if k != "recordTime"}, sort_keys=True)  # noqa: E731
    assert sorted(map(key, again["epcisBody"]["eventList"])) == sorted(map(key, document["epcisBody"]["eventList"]))


def test_gs1_examples_through_the_command(world, tmp_path):
    d = tmp_path / "gs1"
    run("init", d)
    for path in sorted(need(EXAMPLES).glob("*.jsonld")):
        assert "success" in run("epcis", "capture", d, path).stdout.decode(), path.name
    found = events_of(run("epcis", "query", d, "--epc", "urn:epc:id:sgtin:0614141.107346.2017", "--json"))
    assert found


def test_history_as_epcis_validates_against_gs1_schema(world):
    d, drugs = world["dir"], world["drugs"]
    for code in (drugs[0], drugs[20], SSCC):
        document = json.loads(run("history", d, code, "--epcis").stdout)
        assert document["type"] == "EPCISDocument"
        jsonschema.validate(document, world["schema"])
        assert document["epcisBody"]["eventList"], code
    [commission] = [e for e in json.loads(run("history", d, drugs[0], "--epcis").stdout)["epcisBody"]["eventList"]
                    if e["bizStep"] == "commissioning"]
    assert epc(drugs[0]) in commission["epcList"] and commission["eventTimeZoneOffset"] == "+08:00"
    packed = json.loads(run("history", d, SSCC, "--epcis").stdout)["epcisBody"]["eventList"]
    assert any(e["type"] == "AggregationEvent" and e["parentID"].endswith("/00/106141411234567897")
               for e in packed)


def test_usage_errors_are_one_line(world, tmp_path):
    d = world["dir"]
    for args, code, words in [
            (("epcis", "query", d, "--since", "yesterday"), 2, "--since 'yesterday' is not a time"),
            (("epcis", "query", d, "--epc", "a", "--parent", "b"), 2, "not both"),
            (("epcis", "capture", d, tmp_path / "missing.json"), 1, "missing.json"),
            (("history", "--server", "127.0.0.1:1", "X", "--epcis"), 1, "cannot reach"),   # the gRPC verb
            (("epcis", "query", "--server", "127.0.0.1:1", d), 1, "not both"),
            (("epcis", "query", d, "--asc"), 2, "--order-by"),
            (("epcis", "query", d, "--param", "EQ_action"), 2, "NAME=VALUE"),
            (("epcis",), 2, "capture|query")]:
        proc = run(*args, code=code)
        err = proc.stderr.decode()
        assert words in err and len(err.strip().splitlines()) == 1, (args, err)
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    assert "empty" in run("epcis", "capture", d, empty, code=1).stderr.decode()
