"""Real processes, killed: the index keeps its invariants; parallel writers lose nothing."""
import json
import random
import signal
import subprocess
import sys
import time

import pytest

import tracecode
from tracecode.index import Verdict
from tracecode.store.lmdb.scanlog import MAX_PENDING

from conftest import read_lines

DRUG = {"drug_id": "8177322"}

ISSUER = """
import sys, tracecode
d = tracecode.open(sys.argv[1])
n = 0
while True:
    b = d.issue("cn-drug-20", {"drug_id": "8177322"}, 997, line=sys.argv[2])
    # a code leaves the engine only after its reservation committed
    print(b.id, b.start, b.count, b.codes()[0].decode(), flush=True)
"""


def _read_lines(out):
    rows = []
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 4:  # a line cut by the kill is not a handed-out batch
            rows.append((int(parts[0]), int(parts[1]), int(parts[2]), parts[3]))
    return rows


def check_invariants(path, handed_out):
    """Batches never overlap, the next counter is past all of them, every code handed out
    before a kill verifies as issued, and ids are unique. Gaps are allowed: a reservation
    killed between its journal line and its commit wastes its counters (raised past on
    reopen, never reused) but is no batch: nobody was given it."""
    with tracecode.open(path) as d:
        batches = d.index.batches.list()
        ids = [b.id for b in batches]
        assert len(ids) == len(set(ids))
        spans = sorted((b.start, b.start + b.count) for b in batches)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
        assert spans[0][0] >= 0 and d.issued("cn-drug-20", DRUG) >= spans[-1][1]
        recorded = {b.id: (b.start, b.count) for b in batches}
        for bid, start, count, _first in handed_out:
            assert recorded[bid] == (start, count)
        sample = [first for *_, first in handed_out[-200:]]
        if sample:
            assert {a.verdict for a in d.verify_many(sample, record=False)} == {Verdict.NOT_COMMISSIONED}


def _issue_and_kill(path, rng, longest: float) -> list:
    """Two processes issuing into `path`, killed with -9 at a random point of their issuing
    loop (after their first code, whatever the start-up takes): what they handed out."""
    procs = [subprocess.Popen([sys.executable, "-c", ISSUER, str(path), f"line-{k}"],
                              stdout=subprocess.PIPE) for k in range(2)]
    firsts = [p.stdout.readline() for p in procs]
    time.sleep(rng.uniform(0.0, longest))
    for p in procs:
        p.send_signal(signal.SIGKILL)
    handed_out = []
    for p, first in zip(procs, firsts):
        out, _ = p.communicate(timeout=60)
        handed_out += _read_lines(first + out)
    return handed_out


@pytest.mark.slow  # 50 rounds of two processes: about 25 s
def test_kill_9_at_random_points_never_hands_out_a_counter_twice(tmp_path):
    path = tmp_path / "d"
    tracecode.init(path).close()
    rng = random.Random(1)
    handed_out = []
    for round_ in range(50):
        handed_out += _issue_and_kill(path, rng, longest=0.3)
        if round_ % 10 == 9:
            check_invariants(path, handed_out)
    check_invariants(path, handed_out)
    starts = [s for _, s, _, _ in handed_out]
    assert len(starts) == len(set(starts)) and len(handed_out) > 50


SCANNER = """
import sys, time, tracecode
d = tracecode.open(sys.argv[1])
codes = open(sys.argv[2]).read().split()
n = 0
while True:
    for c in codes:
        d.verify(c, scanner="pda", place="dock")
        n += 1
        if n % 200 == 0:
            print(n, time.time(), flush=True)
"""


def test_a_killed_scanner_loses_at_most_the_group_commit_window(tmp_path):
    path = tmp_path / "d"
    with tracecode.init(path) as d:
        b = d.issue("cn-drug-20", DRUG, 50)
        codes = [c.decode() for c in b.codes()]
        d.apply([{"id": "c", "action": "commission", "codes": codes}])
    (tmp_path / "codes.txt").write_text("\n".join(codes))
    for _ in range(3):
        with tracecode.open(path) as d:
            with d.index.env.begin() as txn:
                before = txn.stat(d.index.db_scans)["entries"]
        p = subprocess.Popen([sys.executable, "-c", SCANNER, str(path), str(tmp_path / "codes.txt")],
                             stdout=subprocess.PIPE)
        first = read_lines(p.stdout, 5, timeout=120)  # 1,000 scans in, however slow the start
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=60)
        out = first + out
        reports = [line.split() for line in out.decode().splitlines() if len(line.split()) == 2]
        assert reports, "the scanner made no progress"
        acknowledged = int(reports[-1][0])
        with tracecode.open(path) as d:
            with d.index.env.begin() as txn:
                logged = txn.stat(d.index.db_scans)["entries"] - before
        # The documented bound: scans waiting plus scans being written, at most
        # 2 x MAX_PENDING (the scanner reports every 200, so logged may run ahead).
        assert logged <= acknowledged + 200
        assert acknowledged - logged <= 2 * MAX_PENDING, (acknowledged, logged)


WRITER = """
import sys, json, tracecode
d = tracecode.open(sys.argv[1])
me = sys.argv[2]
out = []
for i in range(int(sys.argv[3])):
    b = d.issue("cn-drug-20", {"drug_id": "8177322"}, 50, line=me)
    codes = [c.decode() for c in b.codes()]
    r = d.apply([{"id": f"{me}-{i}", "action": "commission", "codes": codes}])
    assert r[0]["ok"], r
    out.append([b.id, b.start, codes[0], codes[-1]])
d.close()
print(json.dumps(out))
"""

READER = """
import sys, tracecode
from tracecode.index import Verdict
d = tracecode.open(sys.argv[1])
bad = 0
for _ in range(int(sys.argv[2])):
    for b in d.index.batches.list()[-5:]:
        a = d.verify(d.issuer("cn-drug-20", {"drug_id": "8177322"}).codes(b.start, 1)[0].decode(),
                     record=False)
        bad += a.verdict not in (Verdict.GENUINE, Verdict.NOT_COMMISSIONED)
print(bad)
"""


def test_parallel_writers_and_readers_lose_and_double_nothing(tmp_path):
    path = tmp_path / "d"
    tracecode.init(path).close()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{k}", "40"],
                                stdout=subprocess.PIPE) for k in range(3)]
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(path), "30"],
                                stdout=subprocess.PIPE) for _ in range(2)]
    results = [json.loads(p.communicate(timeout=300)[0]) for p in writers]
    assert all(p.returncode == 0 for p in writers)
    assert [int(p.communicate(timeout=300)[0]) for p in readers] == [0, 0]
    batches = [row for rows in results for row in rows]
    assert len(batches) == 120
    assert len({b[0] for b in batches}) == 120 and len({b[1] for b in batches}) == 120
    with tracecode.open(path) as d:
        assert d.issued("cn-drug-20", DRUG) == 120 * 50
        answers = d.verify_many([c for b in batches for c in b[2:]], record=False)
        assert {a.verdict for a in answers} == {Verdict.GENUINE}
        with d.index.env.begin() as txn:
            assert txn.stat(d.index.db_events)["entries"] == 120
            assert txn.stat(d.index.db_codes)["entries"] == 120 * 50  # one state record each


@pytest.mark.slow  # 12 rounds of two killed processes: about 12 s
def test_kill_9_then_restore_of_an_older_backup_hands_out_nothing_twice(tmp_path):
    """Issuers killed at random points, a backup taken between rounds, more killed rounds,
    the index lost: the backup restored with the journal knows every batch handed out."""
    from tracecode.store.lmdb import journal
    from tracecode.store.lmdb.backup import backup, restore
    path = tmp_path / "d"
    tracecode.init(path).close()
    rng = random.Random(2)
    handed_out = []
    for round_ in range(12):
        if round_ == 4:
            backup(path, tmp_path / "bk")
        handed_out += _issue_and_kill(path, rng, longest=0.2)
    (path / "index" / "data.mdb").unlink()
    restore(tmp_path / "bk", path)          # with DIR's own journal
    check_invariants(path, handed_out)
    with tracecode.open(path) as d:
        nxt = d.issue("cn-drug-20", DRUG, 1).start
    assert nxt >= max(s + c for _, s, c, _ in handed_out)
    assert journal.read(path / journal.NAME)[0] == json.loads((path / "index.stamp").read_text())["index"]
