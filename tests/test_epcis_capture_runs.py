"""Capture jobs answered at once (Service.start_capture) over a real data directory: a job
left "running" by a worker that was killed reads as failed, saying why; the capture queue of a
process is capped per client and in all, refused before any job is stored."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import tracecode
from tracecode.app import Caller, Refusal, Service
from tracecode.app import capture_runs
from tracecode.app.capture_runs import CaptureQueue

ADMIN = Caller("platform", frozenset({"admin"}), ())
OPS = Caller("ops", frozenset({"admin"}), ())
DOC = json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                  "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-12-01T08:00:00+08:00",
                  "epcisBody": {"eventList": []}}).encode()

# begins a capture (the job stored "running", as start_capture does) and dies as kill -9 would
BEGIN_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    import tracecode
    from tracecode.app import Caller, Service
    d = tracecode.open(sys.argv[1])
    svc = Service(d)
    job, _ = svc.epcis.begin(Caller("platform", frozenset({"admin"}), ()), sys.argv[2].encode(), "application/ld+json")
    print(job["id"], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.fixture
def datadir(tmp_path):
    tracecode.init(tmp_path / "data").close()
    return tmp_path / "data"


def test_a_job_of_a_killed_worker_reads_as_failed(datadir):
    run = subprocess.run([sys.executable, "-c", BEGIN_AND_DIE, str(datadir), DOC.decode()],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == -9, run.stderr
    job_id = run.stdout.strip()
    d = tracecode.open(datadir)
    svc = Service(d)
    try:
        assert d.index.store.capture_job_get(job_id)["state"] == "running"   # as the worker left it
        job = svc.capture_job(ADMIN, job_id)
        assert job["state"] == "failure" and job["finished"]
        assert [e["reason"] for e in job["errors"]] == ["worker_stopped"]
        assert "capture again" in job["errors"][0]["error"]
        assert d.index.store.capture_job_get(job_id)["state"] == "failure"   # recorded, not only answered
        jobs, _ = svc.capture_jobs(ADMIN)
        assert [(j["id"], j["state"]) for j in jobs] == [(job_id, "failure")]
    finally:
        svc.close()
        d.close()


def test_a_job_of_a_live_worker_stays_running_and_a_reused_pid_does_not_count(datadir):
    d = tracecode.open(datadir)
    svc = Service(d)
    try:
        me = capture_runs.runner()
        assert me["pid"] == os.getpid() and not capture_runs.stopped(me)
        assert capture_runs.stopped({**me, "start": "1"})                 # the pid of another process now
        assert not capture_runs.stopped({**me, "host": "elsewhere"})      # cannot be told: left running
        assert not capture_runs.stopped(None)                             # a job from before runners
        for n, runner in enumerate([me, {**me, "start": "1"}]):
            job = {"id": f"j{n}", "state": "running", "behaviour": "rollback", "client": "platform",
                   "created": f"2026-12-01T08:00:0{n}.000Z", "finished": None, "errors": [], "errors_total": 0,
                   "counts": {"events": 0, "stored": 0, "already_stored": 0, "applied": 0, "failed": 0},
                   "runner": runner}
            d.index.store.capture_job_put(job)
        assert svc.capture_job(ADMIN, "j0")["state"] == "running"
        assert svc.capture_job(ADMIN, "j1")["state"] == "failure"
    finally:
        svc.close()
        d.close()


def test_the_capture_queue_is_capped_per_client_and_in_all(datadir):
    d = tracecode.open(datadir)
    svc = Service(d)
    try:
        svc._captures = queue = CaptureQueue(total=2, per_client=1)
        queue.reserve("platform")          # one of platform's captures waiting
        with pytest.raises(Refusal) as e:
            svc.start_capture(ADMIN, DOC, "application/ld+json")
        assert e.value.reason == "too_many_captures" and e.value.facts["retry_after"] == "5"
        queue.reserve("ops")               # the process's two places taken
        with pytest.raises(Refusal) as e:
            svc.start_capture(Caller("line-3", frozenset({"admin"}), ()), DOC, "application/ld+json")
        assert e.value.reason == "too_many_captures" and "server process has 2" in e.value.detail
        assert svc.capture_jobs(ADMIN)[0] == [] and svc.capture_jobs(OPS)[0] == []   # no job for a refusal
        queue.release("platform")
        job = svc.start_capture(ADMIN, DOC, "application/ld+json")
        svc.drain_captures()               # its place is given back when it is done
        assert svc.capture_job(ADMIN, job["id"])["state"] != "running"
        assert queue._queued == {"ops": 1}
    finally:
        svc.close()
        d.close()
