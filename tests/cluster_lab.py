"""The cluster lab for tests and benchmarks: a lab in a directory the postgres user can enter
(pytest's tmp_path under root is 0700), stopped and removed after; and the failover drill:
clients reserving counters and writing events through psycopg transactions of the store's
shape (UPDATE ... RETURNING, one transaction per event batch) while the primary is killed."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from tracecode.cluster import Lab
from tracecode.cluster.lab import missing_tools


def need_lab():
    """Skip, naming what is missing; under CI=true fail instead (.ci/run installs them)."""
    missing = missing_tools()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing.append("psycopg")
    if missing:
        why = f"the cluster lab needs {', '.join(missing)} (apt-get install etcd-server patroni postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


@contextmanager
def running_lab(shards: int = 1, replicas: int = 2):
    need_lab()
    root = tempfile.mkdtemp(prefix="tracecode-lab-", dir="/tmp")
    os.chmod(root, 0o711)    # the postgres user enters, lists nothing
    lab = Lab(root)
    try:
        lab.up(shards, replicas)
        yield lab
    finally:
        try:
            if lab.state:
                lab.down(timeout=30)
        finally:
            shutil.rmtree(root, ignore_errors=True)


SCHEMA = """
CREATE TABLE IF NOT EXISTS drill_counters (product int PRIMARY KEY, next bigint NOT NULL);
CREATE TABLE IF NOT EXISTS drill_events (client int, n bigint, first bigint, last bigint,
                                         PRIMARY KEY (client, n));
"""


def prepare(dsn: str, products: int) -> None:
    with connect_retrying(dsn) as c:
        c.execute(SCHEMA)
        for p in range(products):
            c.execute("INSERT INTO drill_counters VALUES (%s, 0) ON CONFLICT DO NOTHING", (p,))


@dataclass
class ClientLog:
    ranges: list = field(default_factory=list)   # (product, first, last) acknowledged
    events: list = field(default_factory=list)   # (client, n) acknowledged
    acks: list = field(default_factory=list)     # (monotonic time, server port) of each ack
    errors: int = 0


def client_loop(dsn: str, cid: int, products: int, stop: threading.Event, log: ClientLog,
                count: int = 1000) -> None:
    """Reserve a range (one UPDATE ... RETURNING, its own transaction), then record an event
    naming it (one transaction); only what committed is logged as acknowledged. A failure
    reconnects (the multi-host DSN finds the new primary) and goes on."""
    import psycopg
    conn = None
    n = 0
    while not stop.is_set():
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(dsn, autocommit=True)
            product = (cid + n) % products
            # the server's port tells which member answered: a backend of a killed primary
            # may still commit (and be acknowledged, the standby having it) for a few ms
            row = conn.execute("UPDATE drill_counters SET next = next + %s WHERE product = %s "
                               "RETURNING next, inet_server_port()", (count, product)).fetchone()
            last, port = row
            log.ranges.append((product, last - count + 1, last))
            with conn.transaction():
                conn.execute("INSERT INTO drill_events VALUES (%s, %s, %s, %s)",
                             (cid, n, last - count + 1, last))
            log.events.append((cid, n))
            log.acks.append((time.monotonic(), port))
            n += 1
        except psycopg.Error:
            log.errors += 1
            n += 1    # an event whose commit is unknown keeps its number: a new one is new
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
    if conn is not None:
        conn.close()


def connect_retrying(dsn: str, timeout: float = 30.0):
    """A connection to the primary, retried while there is none (as every client does)."""
    import psycopg
    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg.connect(dsn, autocommit=True)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def check_drill(dsn: str, logs: list) -> dict:
    """Every acknowledged range is disjoint from every other (no counter handed out twice),
    within the counter the database holds now, and every acknowledged event is stored."""
    by_product: dict = {}
    for log in logs:
        for product, first, last in log.ranges:
            by_product.setdefault(product, []).append((first, last))
    with connect_retrying(dsn) as c:
        counters = dict(c.execute("SELECT product, next FROM drill_counters").fetchall())
        stored = set(c.execute("SELECT client, n FROM drill_events").fetchall())
    handed = 0
    for product, ranges in by_product.items():
        ranges.sort()
        for (_, a_last), (b_first, _) in zip(ranges, ranges[1:]):
            assert b_first > a_last, f"product {product}: a counter handed out twice"
        assert ranges[-1][1] <= counters[product], "a counter past the stored one was handed out"
        handed += sum(last - first + 1 for first, last in ranges)
    acked = [e for log in logs for e in log.events]
    lost = [e for e in acked if e not in stored]
    assert not lost, f"{len(lost)} acknowledged events lost: {lost[:5]}"
    return {"counters": handed, "events": len(acked)}


@contextmanager
def clients(dsn: str, n: int = 3, products: int = 4):
    prepare(dsn, products)
    stop = threading.Event()
    logs = [ClientLog() for _ in range(n)]
    threads = [threading.Thread(target=client_loop, args=(dsn, i, products, stop, logs[i]), daemon=True)
               for i in range(n)]
    for t in threads:
        t.start()
    try:
        yield logs
    finally:
        stop.set()
        for t in threads:
            t.join(30)


def wait_acks(logs, after: float, timeout: float, not_port: int | None = None,
              what: str = "of the kill") -> float:
    """Seconds from `after` until some client's write is acknowledged (by a member other than
    the one on not_port); fails past timeout."""
    deadline = after + timeout
    while time.monotonic() < deadline:
        ts = [t for log in logs for t, port in log.acks[-50:] if t > after and port != not_port]
        if ts:
            return min(ts) - after
        time.sleep(0.02)
    errors = sum(log.errors for log in logs)
    pytest.fail(f"no write acknowledged within {timeout:g} s {what} (client errors: {errors})")


READY_TIMEOUT = 180.0   # a loaded CI machine: the old primary's rejoin (pg_rewind) takes long


def _probe_write(dsn: str, wait: float) -> str | None:
    """One write through the shard's DSN, committed on the primary and confirmed by the
    synchronous standby; None if so, else why not. A commit waiting for the standby longer than
    `wait` is cancelled by statement_timeout: PostgreSQL then keeps it locally and only WARNs,
    so that warning counts as a failure."""
    import psycopg
    warnings: list[str] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.add_notice_handler(lambda d: warnings.append(d.message_primary or ""))
            c.execute(f"SET statement_timeout = {int(wait * 1000)}")
            c.execute("CREATE TABLE IF NOT EXISTS drill_probe (at timestamptz NOT NULL)")
            c.execute("INSERT INTO drill_probe VALUES (now())")
    except psycopg.Error as e:
        return f"{type(e).__name__}: {e}".strip()
    sync = [w for w in warnings if "synchronous replication" in w]
    return f"commit not confirmed by the standby: {sync[0]}" if sync else None


def wait_healthy(lab: Lab, shard: str, timeout: float = READY_TIMEOUT) -> float:
    """Wait until the shard is proven healthy: Patroni names a running leader and a running
    synchronous standby, and a write through the DSN commits (strict synchronous mode: the
    standby confirmed it). Seconds it took; fails with the last reason past timeout."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    why = "not tried"
    while time.monotonic() < deadline:
        view = lab.members_view(shard)
        leader = [v for v in view if v.get("role") == "leader" and v.get("state") == "running"]
        # Patroni 3.0 names a replica's state "running" (later ones "streaming"); that it
        # streams is proven by the probe write, which the standby must confirm
        sync = [v for v in view if v.get("role") == "sync_standby"
                and v.get("state") in ("running", "streaming")]
        if not leader or not sync:
            why = f"Patroni's view: {[(v.get('name'), v.get('role'), v.get('state')) for v in view]}"
        else:
            why = _probe_write(lab.dsn(shard), wait=min(10.0, max(1.0, deadline - time.monotonic())))
            if why is None:
                return time.monotonic() - t0
        time.sleep(0.5)
    pytest.fail(f"shard {shard} not healthy within {timeout:g} s: {why} (see {lab.root / 'logs'})")


def failover_round(lab: Lab, shard: str, logs, timeout: float = 30.0) -> float:
    """Wait for the shard proven healthy (a kill before it would fail over to nothing, or to a
    standby an acknowledged write never reached), kill -9 the primary's
    postgres, and return the seconds until another member acknowledges writes."""
    wait_healthy(lab, shard)
    wait_acks(logs, time.monotonic(), 30, what="before the kill (the shard was healthy)")
    t = time.monotonic()
    killed = lab.kill_primary_postgres(shard)
    return wait_acks(logs, t, timeout, not_port=lab.member(shard, killed)["pg_port"])
