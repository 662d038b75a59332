"""The gRPC Epcis service in a real `tracecode serve` process, through tracecode.v1.Client
and the command line's --server: capture jobs, the binding's query parameters, an event by
its id, named queries per owner, a code's history as EPCIS (against GS1's schema), rights."""
from __future__ import annotations

import json
import subprocess
import sys

import grpc
import jsonschema
import pytest

from tracecode.v1 import Client, ServiceError
from tracecode.v1.testing import ServerProcess

from epcis_reference import SCHEMA, need
from web_platform import Platform

PO = "urn:epcglobal:cbv:bt:0614141000005:PO-7"
A, B = "urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"


def _doc(*events) -> bytes:
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                       "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-12-01T08:00:00.000+08:00",
                       "epcisBody": {"eventList": list(events)}}).encode()


def _event(minute: int, n: int, epcs, **fields) -> dict:
    return {"type": "ObjectEvent", "eventID": f"urn:uuid:00000000-0000-4000-8000-0000000000{n:02d}",
            "action": "OBSERVE", "bizStep": "shipping", "eventTime": f"2026-11-30T09:{minute:02d}:00.000+08:00",
            "eventTimeZoneOffset": "+08:00", "epcList": list(epcs), **fields}


def _dl(element: str) -> str:
    return f"https://id.gs1.org/01/{element[2:16]}/21/{element[18:]}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    need(SCHEMA)   # capture validates against GS1's schema
    root = tmp_path_factory.mktemp("epcis-grpc")
    p = Platform(root, count=4)
    tokens, gs1 = dict(p.tokens), list(p.gs1)
    p.close()
    with ServerProcess(root / "data", "--tokens", root / "clients.toml") as server:
        yield {"server": server, "tokens": tokens, "gs1": gs1, "root": root}


def _client(world, who: str) -> Client:
    return Client(world["server"].address, token=world["tokens"][who])


def test_capture_query_and_named_queries_over_grpc(world):
    with _client(world, "admin") as c:
        doc = _doc(_event(1, 1, [A], bizTransactionList=[{"type": "po", "bizTransaction": PO}]),
                   _event(2, 2, [B]), _event(3, 3, [A, B], bizStep="receiving"))
        job = c.capture(doc)
        assert job["state"] == "success" and job["counts"]["stored"] == 3, job
        assert c.capture_job(job["id"])["counts"] == job["counts"]
        again = c.capture(doc)
        assert again["counts"]["already_stored"] == 3 and again["counts"]["stored"] == 0
        jobs, token = c.capture_jobs(per_page=1)
        assert [j["id"] for j in jobs] == [again["id"]] and token
        assert [j["id"] for j in c.capture_jobs(token, per_page=5)[0]] == [job["id"]]

        events, token = c.query_epcis({"MATCH_epc": A, "orderBy": "eventTime"})
        assert [e["eventID"][-2:] for e in events] == ["03", "01"] and token is None
        assert [e["eventID"][-2:] for e in c.query_epcis({"EQ_bizTransaction_po": PO})[0]] == ["01"]
        first, token = c.query_epcis({}, per_page=2)
        rest, end = c.query_epcis({}, token, per_page=2)
        assert len(first) == 2 and len(rest) == 1 and end is None
        assert c.epcis_event("urn:uuid:00000000-0000-4000-8000-000000000002")[0]["epcList"] == [B]

        with pytest.raises(ServiceError) as e:
            c.query_epcis({"EQ_exception": "urn:x"})
        assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and "EQ_exception" in str(e.value)
        with pytest.raises(ServiceError) as e:
            c.epcis_event("urn:uuid:00000000-0000-4000-8000-0000000000ff")
        assert e.value.code == grpc.StatusCode.NOT_FOUND

        q = c.define_query("received", {"EQ_bizStep": ["receiving"]})
        assert q["name"] == "received" and q["query"] == {"EQ_bizStep": ["receiving"]}
        with pytest.raises(ServiceError) as e:
            c.define_query("received", {"EQ_bizStep": ["shipping"]})
        assert e.value.code == grpc.StatusCode.ALREADY_EXISTS
        assert [d["name"] for d in c.named_queries()[0]] == ["received"]
        assert [e["eventID"][-2:] for e in c.run_query("received")[0]] == ["03"]
        c.delete_query("received")
        with pytest.raises(ServiceError) as e:
            c.run_query("received")
        assert e.value.code == grpc.StatusCode.NOT_FOUND
    with _client(world, "regulator") as c:
        assert len(c.query_epcis({})[0]) == 3 and c.named_queries() == ([], None)   # the admin's own
    with _client(world, "scanner") as c:
        with pytest.raises(ServiceError) as e:
            c.query_epcis({})
        assert e.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_an_issuer_captures_its_codes_and_reads_their_history_as_epcis(world):
    schema = json.loads(need(SCHEMA).read_text())
    code = world["gs1"][0]
    with _client(world, "issuer") as c:
        job = c.capture(_doc(_event(10, 10, [_dl(code)])))
        assert job["state"] == "success" and job["counts"]["applied"] == 1, job
        assert [e["eventID"][-2:] for e in c.query_epcis({})[0]] == ["10"]   # its own, not the partner's
        doc = c.history_epcis(code)
        jsonschema.validate(doc, schema)
        assert "shipping" in [e.get("bizStep") for e in doc["epcisBody"]["eventList"]]
    with _client(world, "other_issuer") as c:
        with pytest.raises(ServiceError) as e:
            c.history_epcis(code)
        assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
        job = c.capture(_doc(_event(11, 11, [_dl(code)])))   # another's code: an error in the job
        assert job["state"] == "failure" and job["errors"][0]["reason"] == "permission_denied"


def test_the_command_line_with_server(world, tmp_path):
    server, token = world["server"].address, world["tokens"]["admin"]

    def tc(*args, stdin=None, code=0):
        proc = subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], input=stdin,
                              capture_output=True, timeout=180)
        assert b"Traceback" not in proc.stderr, proc.stderr.decode()
        assert proc.returncode == code, (proc.returncode, proc.stdout.decode(), proc.stderr.decode())
        return proc.stdout.decode()

    remote = ("--server", server, "--token", token)
    out = tc("epcis", "capture", *remote, "-", stdin=_doc(_event(20, 20, [A], bizStep="departing")))
    assert "success" in out and "1 stored" in out
    lines = tc("epcis", "query", *remote, "--biz-step", "departing").splitlines()
    assert len(lines) == 1 and lines[0].endswith("urn:uuid:00000000-0000-4000-8000-000000000020")
    doc = json.loads(tc("epcis", "query", *remote, "--param", "EQ_action=OBSERVE", "--order-by", "eventTime",
                        "--limit", "2", "--json"))
    # newest first: this one, then the issuer's (the other issuer's event failed and was not stored)
    assert [e["eventTime"][11:16] for e in doc["epcisBody"]["eventList"]] == ["09:20", "09:10"]
    history = json.loads(tc("history", *remote, world["gs1"][0], "--epcis"))
    jsonschema.validate(history, json.loads(need(SCHEMA).read_text()))
    err = subprocess.run([sys.executable, "-m", "tracecode", "epcis", "query", *remote, "--param", "EQ_nope=1"],
                         capture_output=True, timeout=120).stderr.decode()
    assert "EQ_nope" in err and len(err.strip().splitlines()) == 1


def test_a_history_over_the_message_limit_in_bytes_is_refused(monkeypatch):
    """The bound is on UTF-8 bytes: a Chinese history under the limit in characters is over it in bytes."""
    import asyncio

    import tracecode.v1.epcis as bindings_epcis
    from tracecode.app import Refusal
    from tracecode.v1 import epcis_pb2

    class History:   # the application's answer, as Service.history_epcis gives it
        dd = None

        def history_epcis(self, who, code, method):
            return {"type": "EPCISDocument", "note": "北京市朝阳区" * 100}

    doc = json.dumps(History().history_epcis(None, "", ""), ensure_ascii=False)
    monkeypatch.setattr(bindings_epcis, "MAX_MESSAGE_BYTES", len(doc) + 100)   # over the characters, under the bytes
    call = bindings_epcis.Epcis.EpcisHistory.__wrapped__
    with pytest.raises(Refusal) as e:
        asyncio.run(call(bindings_epcis.Epcis(History()), epcis_pb2.EpcisHistoryRequest(code="X"), None, None))
    assert e.value.reason == "invalid_argument" and "tracecode history" in e.value.detail
    monkeypatch.setattr(bindings_epcis, "MAX_MESSAGE_BYTES", len(doc.encode()) + 100)
    reply = asyncio.run(call(bindings_epcis.Epcis(History()), epcis_pb2.EpcisHistoryRequest(code="X"), None, None))
    assert json.loads(reply.document)["note"].startswith("北京")
