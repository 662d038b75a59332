"""`tracecode epcis subscribe / subscriptions / rewind / unsubscribe` as a user runs them
(real processes on a real data directory)."""
from __future__ import annotations

import json
import subprocess
import sys

import tracecode
from tracecode.store.port import EpcisRecord

from test_epcis_subscriptions import allow_loopback


def run(*args, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], capture_output=True,
                          timeout=120, text=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, (proc.returncode, proc.stdout[-2000:], proc.stderr)
    return proc


def test_subscribe_list_rewind_unsubscribe(tmp_path):
    d = tmp_path / "data"
    dd = tracecode.init(d)
    allow_loopback(d)
    dd.index.store.epcis_put([EpcisRecord(event_id=f"urn:uuid:{i}", event={"eventID": f"urn:uuid:{i}"},
                                          event_time=1.8e9, time_offset="+00:00", record_time=1.8e9,
                                          type="ObjectEvent") for i in range(3)])
    dd.close()
    sub = json.loads(run("epcis", "subscribe", d, "recalls", "--dest", "https://province.example/hook",
                         "--token", "k", "--schedule", "hour=1,minute=5", "--report-if-empty",
                         "--disposition", "recalled", "--json").stdout)
    assert sub["schedule"] == {"hour": "1", "minute": "5"} and sub["signed"] and sub["bookmark"] == 3
    assert sub["query"] == {"dispositions": ["recalled"]} and "token" not in json.dumps(sub)
    again = json.loads(run("epcis", "subscribe", d, "all", "--dest", "http://127.0.0.1:8/h", "--stream",
                           "--from-start", "--json").stdout)
    assert again["bookmark"] == 0 and again["stream"] is True
    lines = run("epcis", "subscriptions", d).stdout.splitlines()
    assert len(lines) == 2 and any(sub["subscriptionID"] in line and "schedule hour=1,minute=5" in line
                                   for line in lines)
    listed = json.loads(run("epcis", "subscriptions", d, "--json").stdout)
    assert sorted(s["subscriptionID"] for s in listed) == sorted([sub["subscriptionID"], again["subscriptionID"]])
    out = run("epcis", "rewind", d, sub["subscriptionID"], "1").stdout
    assert "bookmark 1," in out
    run("epcis", "unsubscribe", d, sub["subscriptionID"])
    assert [s["subscriptionID"] for s in json.loads(run("epcis", "subscriptions", d, "--json").stdout)] \
        == [again["subscriptionID"]]
    # mistakes are one line each, nothing stored
    err = run("epcis", "subscribe", d, "q", "--dest", "ftp://x/", "--stream", code=1).stderr
    assert "http:// or https://" in err
    err = run("epcis", "subscribe", d, "q", "--dest", "http://x/", "--schedule", "minute=61", code=1).stderr
    assert "outside 0-59" in err
    err = run("epcis", "subscribe", d, "q", "--dest", "http://x/", "--schedule", "minute", code=2).stderr
    assert "FIELD=VALUE" in err
    run("epcis", "subscribe", d, "q", "--dest", "http://x/", code=2)    # neither --stream nor --schedule
    err = run("epcis", "unsubscribe", d, sub["subscriptionID"], code=1).stderr
    assert "no subscription" in err
    assert len(json.loads(run("epcis", "subscriptions", d, "--json").stdout)) == 1
