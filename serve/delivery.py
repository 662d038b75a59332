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

import httpcore
import httpx

from ..app import alert_events, webhook_guard
from ..epcis.schedule import Schedule

log = logging.getLogger("tracecode.serve")
logging.getLogger("httpx").setLevel(logging.WARNING)   # not a line per delivery in the server's log

LEASE = "epcis-delivery"
LEASE_S = 10.0
POLL_S = 0.2           # how soon a captured event goes out in stream mode
TIMEOUT_S = 10.0       # per delivery: connect, write and read
MAX_IN_FLIGHT = 64     # subscriptions delivering at once
MAX_PER_OWNER = 8      # of those, one client's at most: its dead receivers cannot take every slot
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
        self.owners: dict = {}     # subscription id -> its owner (for MAX_PER_OWNER)
        self.offset = 0            # where the next round starts in the list of subscriptions
        self.lease_key = (LEASE, self.holder)   # the store records progress only while we hold it
        self.publish_error = None  # the last sweep's failure (app/alert_events.py), logged once

    async def run(self, stop: asyncio.Event) -> None:
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
        transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        # every connect judged again and pinned to the addresses judged (DNS rebinding)
        transport._pool._network_backend = _GuardedBackend(transport._pool._network_backend,
                                                           self.svc.subs.webhook_allow)
        async with httpx.AsyncClient(transport=transport, timeout=self.timeout_s, follow_redirects=False,
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
        try:   # alerts raised or opened again become events of the log (app/alert_events.py)
            await asyncio.to_thread(alert_events.publish, self.svc)
            self.publish_error = None
        except Exception as exc:   # noqa: BLE001 - a full or read-only store: the next round tries again
            if str(exc) != self.publish_error:   # said once, not every round
                log.warning("subscriptions: alerts not put in the EPCIS log yet: %s", exc)
            self.publish_error = str(exc)
        self.tasks = {k: t for k, t in self.tasks.items() if not t.done()}
        subs = await asyncio.to_thread(self.store.subscriptions)
        now = time.time()
        live = {sub["id"] for sub in subs}
        owners: dict = {}
        for task_id in self.tasks:
            owner = self.owners.get(task_id)
            owners[owner] = owners.get(owner, 0) + 1
        # a rotating start: the slots do not go to the same first subscriptions every round
        start = self.offset % len(subs) if subs else 0
        self.offset = start + MAX_IN_FLIGHT
        for sub in subs[start:] + subs[:start]:
            owner = sub.get("owner")
            if sub["id"] in self.tasks or len(self.tasks) >= MAX_IN_FLIGHT or owners.get(owner, 0) >= MAX_PER_OWNER:
                continue
            owners[owner] = owners.get(owner, 0) + 1
            self.owners[sub["id"]] = owner
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
        self.owners = {k: v for k, v in self.owners.items() if k in self.tasks}

    async def _deliver(self, client, sub: dict, fire: bool) -> None:
        """Deliveries of one subscription until it is caught up or a delivery fails. The
        bookmark is recorded every PROGRESS_S and when the subscription stops (caught up,
        failing, unsubscribed, the runner stopping): a worker killed in between sends the
        deliveries since its last record again, which at least once allows."""
        subs, lease = self.svc.subs, self.lease_key
        first, pending, recorded = True, None, time.monotonic()
        shown = webhook_guard.redacted(sub["dest"])[:100]
        try:
            while self.holding:
                due = await asyncio.to_thread(subs.due, sub, None, fire, first, lease)
                if due is None:
                    return
                body, headers = await asyncio.to_thread(subs.body, due)
                error = None
                try:
                    r = await client.post(sub["dest"], content=body, headers=headers)
                    if not 200 <= r.status_code < 300:
                        error = f"{shown} answered {r.status_code}"
                except httpx.HTTPError as exc:
                    error = f"{shown}: {type(exc).__name__} {exc}"[:300]
                if error is not None:
                    if pending is not None:
                        await asyncio.to_thread(subs.progress, pending, lease)
                        pending = None
                    wait = await asyncio.to_thread(subs.failed, due, error, None, lease)
                    log.info("subscription %s: %s; next try in %.1f s", sub["id"], error, wait)
                    return
                sub = pending = subs.taken(due)   # the next delivery goes on from here
                first = False
                if due.empty_report or time.monotonic() - recorded >= PROGRESS_S:
                    kept = await asyncio.to_thread(subs.progress, pending, lease)
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
                await asyncio.to_thread(subs.progress, pending, lease)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with each TCP connect's host resolved and judged
    (webhook_guard, the allow-list read at each connect) and the connection made to the
    address judged, so a name re-resolving elsewhere after the check reaches nothing."""

    def __init__(self, inner, allow):
        self.inner, self.allow = inner, allow

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addrs = await asyncio.to_thread(lambda: webhook_guard.resolve(host, port, self.allow()))
        except webhook_guard.DestRefused as exc:
            raise httpcore.ConnectError(str(exc)) from None
        return await self.inner.connect_tcp(addrs[0], port, timeout=timeout, local_address=local_address,
                                            socket_options=socket_options)

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks are sent over TCP only")

    async def sleep(self, seconds):
        await self.inner.sleep(seconds)


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
