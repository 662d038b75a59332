"""Failover of a shard in the lab: kill -9 of the primary's postgres while clients reserve
counters and write events; no counter handed out twice, no acknowledged event lost, writes
resume within 30 s; one etcd member stopped, and the shard still fails over."""
from __future__ import annotations

import signal
import statistics
import time

import pytest

from cluster_lab import check_drill, clients, failover_round, running_lab, wait_acks, wait_healthy
from tracecode.cluster import procs

ROUNDS = 2          # bench/test_bench_failover.py runs 20


@pytest.fixture(scope="module")
def lab():
    with running_lab(shards=1, replicas=2) as lab:
        yield lab


@pytest.mark.slow
def test_primary_killed_during_writes(lab):
    dsn = lab.dsn("shard0")
    times = []
    with clients(dsn) as logs:
        for _ in range(ROUNDS):
            times.append(failover_round(lab, "shard0", logs))
        wait_acks(logs, time.monotonic(), 30)
    done = check_drill(dsn, logs)
    assert done["events"] > 0
    assert max(times) < 30, times
    print(f"failover: median {statistics.median(times):.2f} s, worst {max(times):.2f} s over "
          f"{len(times)} kills; {done['counters']:,} counters, {done['events']:,} events")


@pytest.mark.slow
# Known, open (issue 16): on a loaded machine, a primary killed while one etcd member is down
# sometimes fails over in more than 30 s (1 of 2 loaded runs; unloaded it passes: XPASS, 43 s).
# Looked at (h16b): not the stopped member. On loopback it refuses at once and Patroni's etcd
# client goes on to the next (writes acknowledged again 0.2 s after the stop). The 30 s is the
# 2-member strict synchronous mode: no commit until the old primary has rejoined as the standby,
# which Patroni's log shows as crash recovery started and stopped (~2 s), the new primary's
# post-promotion checkpoint (~2.5 s), pg_rewind (~4 s), start and catch-up, all CPU and disk
# bound: under the full suite on 2 cores it can pass 30 s, here and in the test above, which
# shares the bound. Not cheap to fix: a third member (--replicas 3) or giving up strict mode
# (no). Not strict, so it still runs and reports XPASS when it holds; the assertions unchanged.
@pytest.mark.xfail(strict=False, reason="failover with one etcd member down can exceed 30 s under load")
def test_one_etcd_member_stopped(lab):
    """Two of three etcd members are a quorum: with one stopped the shard still has a leader
    that commits, and still fails over within 30 s of a kill."""
    dsn = lab.dsn("shard0")
    wait_healthy(lab, "shard0")      # the previous test's kills: the old primary has rejoined
    member = lab.state["etcd"][0]["proc"]
    assert procs.signal_rec(member, signal.SIGTERM)
    stopped = time.monotonic()
    with clients(dsn, n=2) as logs:
        # Patroni may lose its etcd connection to the stopped member and re-elect: wait for a
        # shard proven healthy again (a loaded machine: generous), then kill its primary
        wait_healthy(lab, "shard0")
        wait_acks(logs, time.monotonic(), 30, what="after the shard was healthy again")
        print(f"etcd member stopped: writes acknowledged again {time.monotonic() - stopped:.1f} s after")
        took = failover_round(lab, "shard0", logs)
        wait_acks(logs, time.monotonic(), 30, what="after the failover")
    check_drill(dsn, logs)
    assert took < 30


def _children(ppid: int) -> list[int]:
    from pathlib import Path
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rindex(b")") + 2:].split()[1]) == ppid:
                out.append(int(p.name))
    return out


@pytest.mark.slow
def test_frozen_standby_holds_commits_back(lab):
    """A synchronous standby that stops (SIGSTOP, the whole postgres of that member): the
    primary acknowledges nothing meanwhile (strict synchronous mode: no write on one machine
    only), and writes resume once it goes on; nothing acknowledged is lost."""
    import os

    dsn = lab.dsn("shard0")
    wait_healthy(lab, "shard0")      # leader, streaming sync standby, a write committed
    standby = next(v["name"] for v in lab.members_view("shard0") if v.get("role") == "sync_standby")
    pm = lab.postmaster("shard0", standby)
    # the postmaster and its children (walreceiver, startup): each child of a postmaster is a
    # session of its own, so they are found by their parent, not signalled as a group
    frozen_pids = [pm["pid"]] + _children(pm["pid"])
    assert len(frozen_pids) > 2
    with clients(dsn, n=2) as logs:
        wait_acks(logs, time.monotonic(), 30, what="before the freeze (the shard was healthy)")
        for pid in frozen_pids:
            os.kill(pid, signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            time.sleep(5)     # a window to watch nothing happen in (nothing to wait for)
            late = [t for log in logs for t, _ in log.acks if t > frozen + 1]
        finally:
            for pid in frozen_pids:
                os.kill(pid, signal.SIGCONT)
        thawed = time.monotonic()
        assert not late, f"{len(late)} writes acknowledged while the synchronous standby was frozen"
        wait_acks(logs, thawed, 30, what="of the thaw")
    check_drill(dsn, logs)
