"""The delivery runner of EPCIS subscriptions: webhooks POSTed from the store's outbox
(tracecode.app.subscriptions), in ONE process per data directory.

Every worker of `tracecode serve` runs a DeliveryRunner; only the one holding the store's
lease "epcis-delivery" delivers (taken for LEASE_S seconds, renewed every LEASE_S / 3), so
several workers never send the same subscription at once. A worker killed with SIGKILL
stops renewing; another takes the lease when it expires and goes on from the bookmarks, so a
delivery in flight at the kill is sent again (at least once, never skipped).

Each subscription is one task: its deliveries go one after another, in seq order, and a
receiver that is down waits out its back-off in the store (attempts, next_try) without
holding up the others. httpx is the HTTP client (already the tests' client; async, HTTP/1.1
keep-alive pools per host, timeouts on connect and read, and no redirects followed: a
webhook that moves is an error the subscriber sees in lastError).
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import os
import socket
import time
import uuid

import httpx

from ..epcis.schedule import Schedule

log = logging.getLogger("tracecode.serve")
logging.getLogger("httpx").setLevel(logging.WARNING)   # not a line per delivery in the server's log

LEASE = "epcis-delivery"
LEASE_S = 10.0
POLL_S = 0.2           # how soon a captured event goes out in stream mode
TIMEOUT_S = 10.0       # per delivery: connect, write and read
MAX_IN_FLIGHT = 64     # subscriptions delivering at once
PROGRESS_S = 0.5       # how often a stream's bookmark is recorded (a kill re-sends at most this much)


class DeliveryRunner:
    """Delivers the subscriptions of one Service while it holds the lease (run until stop)."""

    def __init__(self, svc, *, lease_s: float = LEASE_S, poll_s: float = POLL_S,
                 timeout_s: float = TIMEOUT_S, holder: str | None = None):
        self.svc = svc
        self.store = svc.index.store
        self.lease_s, self.poll_s, self.timeout_s = lease_s, poll_s, timeout_s
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.fires: dict = {}      # subscription id -> the next time its schedule fires
        self.tasks: dict = {}      # subscription id -> its delivering task
        self.holding = False

    async def run(self, stop: asyncio.Event) -> None:
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
        async with httpx.AsyncClient(timeout=self.timeout_s, limits=limits, follow_redirects=False,
                                     trust_env=False) as client:
            renewed = 0.0
            try:
                while not stop.is_set():
                    now = time.monotonic()
                    if now - renewed >= self.lease_s / 3 or not self.holding:
                        try:
                            held = await asyncio.to_thread(self.store.lease, LEASE, self.holder, self.lease_s)
                        except Exception as exc:   # noqa: BLE001 - a full or read-only store: try later
                            log.warning("subscriptions: the delivery lease could not be taken: %s", exc)
                            held = False
                        if held and not self.holding:
                            log.info("subscriptions: this worker delivers (lease %s)", self.holder)
                        self.holding, renewed = held, now if held else renewed
                    if self.holding:
                        await self._round(client)
                    await _sleep(stop, self.poll_s if self.holding else self.lease_s / 3)
            finally:
                for task in self.tasks.values():
                    task.cancel()
                await asyncio.gather(*self.tasks.values(), return_exceptions=True)
                if self.holding:
                    try:
                        await asyncio.to_thread(self.store.lease_release, LEASE, self.holder)
                    except Exception:   # noqa: BLE001 - it expires anyway
                        pass

    async def _round(self, client) -> None:
        self.tasks = {k: t for k, t in self.tasks.items() if not t.done()}
        subs = await asyncio.to_thread(self.store.subscriptions)
        now = time.time()
        live = set()
        for sub in subs:
            live.add(sub["id"])
            if sub["id"] in self.tasks or len(self.tasks) >= MAX_IN_FLIGHT:
                continue
            fire = False
            if not sub["stream"]:
                at = self.fires.get(sub["id"])
                if at is None:
                    at = self.fires[sub["id"]] = _next_fire(sub, now)
                if at is not None and at <= now:
                    fire = True
                    self.fires[sub["id"]] = _next_fire(sub, now)
            self.tasks[sub["id"]] = asyncio.create_task(self._deliver(client, sub, fire))
        for gone in set(self.fires) - live:
            del self.fires[gone]

    async def _deliver(self, client, sub: dict, fire: bool) -> None:
        """Deliveries of one subscription until it is caught up or a delivery fails. The
        bookmark is recorded every PROGRESS_S and when the subscription stops (caught up,
        failing, unsubscribed, the runner stopping): a worker killed in between sends the
        deliveries since its last record again, which at least once allows."""
        subs = self.svc.subs
        first, pending, recorded = True, None, time.monotonic()
        try:
            while self.holding:
                due = await asyncio.to_thread(subs.due, sub, None, fire, first)
                if due is None:
                    return
                body, headers = await asyncio.to_thread(subs.body, due)
                error = None
                try:
                    r = await client.post(sub["dest"], content=body, headers=headers)
                    if not 200 <= r.status_code < 300:
                        error = f"{sub['dest'][:100]} answered {r.status_code}"
                except httpx.HTTPError as exc:
                    error = f"{sub['dest'][:100]}: {type(exc).__name__} {exc}"[:300]
                if error is not None:
                    if pending is not None:
                        await asyncio.to_thread(subs.progress, pending)
                        pending = None
                    wait = await asyncio.to_thread(subs.failed, due, error)
                    log.info("subscription %s: %s; next try in %.1f s", sub["id"], error, wait)
                    return
                sub = pending = subs.taken(due)   # the next delivery goes on from here
                first = False
                if due.empty_report or time.monotonic() - recorded >= PROGRESS_S:
                    kept = await asyncio.to_thread(subs.progress, pending)
                    pending, recorded = None, time.monotonic()
                    if not kept or due.empty_report:
                        return
                # rewound, redefined or unsubscribed meanwhile: its generation says so
                now = await asyncio.to_thread(self.store.subscription_get, sub["id"])
                if now is None or now["state"]["generation"] != sub["state"]["generation"]:
                    pending = None
                    return
        finally:
            if pending is not None:   # not recorded if rewound meanwhile (its generation)
                await asyncio.to_thread(subs.progress, pending)


def _next_fire(sub: dict, now: float) -> float | None:
    try:
        t = Schedule.parse(sub["schedule"]).next_after(_dt.datetime.fromtimestamp(now, _dt.timezone.utc))
    except Exception:   # noqa: BLE001 - checked when subscribed; a bad one never fires
        return None
    return None if t is None else t.timestamp()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
