"""Every client verb once, for the sync and the asyncio client alike (sans-I/O).

A verb is a generator: it builds its requests (calls.py), yields what it needs done
over the channel as an operation (Call, Open, Next, Pause, Emit), gets the reply sent
back (a gRPC error thrown in), decodes it and returns the result. Client (client.py)
runs the operations blocking, AsyncClient (aio.py) awaiting them; that is all they
differ in. install() gives a client class one method per verb.
"""
from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2

from . import admin_pb2 as apb
from . import issuance_pb2 as ipb
from . import lifecycle_pb2 as lpb
from . import verification_pb2 as vpb
from .calls import (EVENT_BATCH, RENDERS, VERIFY_ANSWERS_BATCH, VERIFY_BATCH, Checks, Verdicts,
                    batch_request, check_batches, chunk_array, code_report, event_batches,
                    event_result, scan_request, verify_batches)
from .convert import answer, approval_info, batch_record, registry_answer
from .retry import IDEMPOTENT_RETRY, RETRYABLE, Retry, Unreachable
from .status import ServiceError


# -- the operations a verb asks its client to do ---------------------------------------------

@dataclass(frozen=True)
class Call:
    """One unary call; the reply is sent back. ``timeout`` None: the client's."""
    service: str
    method: str
    request: object
    timeout: float | None = None


@dataclass(frozen=True)
class Open:
    """Start a streaming call (its requests an iterator, or one message); the call is sent
    back. ``fail_fast``: wait_for_ready=False (no silent wait for a server that is gone)."""
    service: str
    method: str
    request: object
    fail_fast: bool = True


@dataclass(frozen=True)
class Next:
    """The next reply of a streaming call, END after the last; Stalled past the client's
    stream_timeout."""
    call: object
    method: str


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Emit:
    """A value for whoever iterates the verb (the chunks of a download)."""
    value: object


END = object()


# -- the plumbing verbs share ----------------------------------------------------------------

def reach(client):
    """Check once that the server answers (its health service, within connect_timeout);
    Unreachable otherwise, at once. The clients run this before any verb."""
    try:
        yield Call("health", "Check", health_pb2.HealthCheckRequest(),
                   timeout=client.connect_timeout)
    except grpc.RpcError as exc:
        if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise ServiceError.from_rpc_error(exc) from None
        raise Unreachable.of(client.address, exc, client.connect_timeout) from None


def unary(client, service, method, request, *, retry: bool = True, done_if_exists: bool = False,
          retry_on=RETRYABLE):
    """A unary call; safe ones are retried while the server is unavailable (a restart),
    each retry announced, up to retry_timeout. done_if_exists: ALREADY_EXISTS on a retry
    means the lost attempt succeeded (returns None)."""
    policy = Retry(client, retry_on)
    while True:
        try:
            return (yield Call(service, method, request))
        except grpc.RpcError as exc:
            if done_if_exists and policy.attempt and exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                return None
            if not retry:
                raise ServiceError.from_rpc_error(exc) from None
            yield Pause(policy.pause(exc))


def drain(service, method, requests, sink):
    """A streaming call whose every reply goes to ``sink``; not retried (it records)."""
    try:
        call = yield Open(service, method, requests, fail_fast=False)
        while (reply := (yield Next(call, method))) is not END:
            sink(reply)
    except grpc.RpcError as exc:
        raise ServiceError.from_rpc_error(exc) from None


def chunks(dl):
    """The codes of a Download (dl: batch_id, offset, count, render, chunk_codes, received,
    resumed), chunk by chunk as Emit; a broken stream resumes from the offset reached."""
    policy = Retry(dl.client)
    policy.attempt = dl.resumed
    while True:
        if dl.count is not None and dl.received >= dl.count:
            return   # all asked for came (a resumed request's count 0 would mean "to the end")
        count = 0 if dl.count is None else dl.count - dl.received
        req = ipb.DownloadCodesRequest(batch_id=dl.batch_id, offset=dl.offset + dl.received,
                                       count=count, render=RENDERS[dl.render],
                                       chunk_codes=dl.chunk_codes)
        try:
            call = yield Open("issuance", "DownloadCodes", req)
            while (chunk := (yield Next(call, "DownloadCodes"))) is not END:
                codes = chunk_array(chunk)
                dl.received += len(codes)
                policy.progress(reset_attempts=False)   # the time runs from the last progress
                yield Emit(codes)
            return
        except grpc.RpcError as exc:
            if dl.count is None and dl.received and _past_the_end(exc):
                return   # the broken stream had sent the whole batch: only its end was lost
            pause = policy.pause(exc)
            dl.resumed = policy.attempt
            yield Pause(pause)


def _past_the_end(exc: grpc.RpcError) -> bool:
    """Whether a resumed download (of the batch to its end) was refused for its offset: the
    server says so only at or past the batch's last code (tracecode.app.Service.download)."""
    if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
        return False
    return any(f == "offset" for f, _ in ServiceError.from_rpc_error(exc).violations)


# -- the verbs -----------------------------------------------------------------------------

VERBS: dict = {}


def verb(fn):
    VERBS[fn.__name__] = fn
    return fn


@verb
def request_batch(client, scheme: str, product: dict, count: int, *, lot=None, expiry=None,
                  line=None, attributes=None, idempotency_key: str | None = None):
    """Reserve a batch; returns its BatchRecord. Retried with the same idempotency key
    (a fresh UUID if none is given), so a retry never makes a second batch."""
    req = batch_request(scheme, product, count, lot=lot, expiry=expiry, line=line,
                        attributes=attributes, idempotency_key=idempotency_key)
    return batch_record((yield from unary(client, "issuance", "RequestBatch", req,
                                          retry_on=IDEMPOTENT_RETRY)))


VERBS["issue"] = request_batch   # the application's verb name (tracecode.app.Service.issue)


@verb
def request_codes(client, scheme: str, product: dict, count: int, *, render: str = "bare",
                  chunk_codes: int = 0, **batch_options):
    """Reserve a batch and download its codes (``.batch`` is the record)."""
    batch = yield from request_batch(client, scheme, product, count, **batch_options)
    return client.download(batch.id, 0, batch.count, render=render, chunk_codes=chunk_codes,
                           batch=batch)


@verb
def report_commissioned(client, event_id: str, *, batch_id: int = 0, ranges=(), codes=(),
                        place=None, time=None) -> dict:
    """Codes applied to products: ranges are (offset, count) in the batch."""
    return (yield from _report(client, "ReportCommissioned",
                               code_report(event_id, batch_id, ranges, codes, place, time)))


@verb
def report_spoiled(client, event_id: str, *, batch_id: int = 0, ranges=(), codes=(),
                   place=None, time=None, reason="spoiled") -> dict:
    return (yield from _report(client, "ReportSpoiled",
                               code_report(event_id, batch_id, ranges, codes, place, time, reason)))


def _report(client, method, req) -> dict:
    # a resent report the server applied before is acknowledged by the server (same
    # client, same event); ALREADY_EXISTS means another event holds the id: a refusal
    r = yield from unary(client, "issuance", method, req)
    return {"id": req.event_id, "ok": True, "seq": r.seq}


@verb
def verify(client, scan, *, scanner=None, place=None, time=None, record: bool = True,
           region=None, lat=None, lon=None):
    """The verdict on one scan (an Answer). An unreadable scan raises ServiceError
    (INVALID_ARGUMENT) whose violations say what is wrong where."""
    req = scan_request(vpb.VerifyRequest, scan, scanner, place, time, record, region, lat, lon)
    return answer((yield from unary(client, "verification", "Verify", req, retry=False)))


@verb
def verify_many(client, scans, offsets=None, *, scanner=None, place=None, time=None,
                record: bool = True, answers: bool = False,
                batch_size: int = VERIFY_BATCH, region=None, lat=None, lon=None) -> Verdicts:
    """Verdicts on many scans over one stream, batches pipelined. `scans`: a list of
    str/bytes, an S array, or a packed buffer with int64 `offsets`."""
    if answers:  # the server refuses more in one message: the reply would be too large
        batch_size = min(batch_size, VERIFY_ANSWERS_BATCH)
    count, requests = verify_batches(scans, offsets, scanner=scanner, place=place, time=time,
                                     record=record, answers=answers, batch_size=batch_size,
                                     region=region, lat=lat, lon=lon)
    out = Verdicts(count, answers)
    yield from drain("verification", "VerifyStream", requests, out.add)
    return out


@verb
def check(client, scan, *, scanner=None, place=None, time=None, record: bool = True,
          region=None, lat=None, lon=None):
    """The counterfeit check of one scan against the server's registry: a RegistryAnswer
    (verdict GENUINE, NOT_GENUINE or NOT_COVERED; checks as (name, ok, detail); the
    approval compared against; the index's Answer). An unreadable scan is an answer
    (code_exists fails), not an error. Recorded like verify (region, lat, lon too)."""
    req = scan_request(vpb.CheckRequest, scan, scanner, place, time, record, region, lat, lon)
    return registry_answer((yield from unary(client, "verification", "Check", req, retry=False)))


@verb
def check_many(client, scans, offsets=None, *, scanner=None, place=None, time=None,
               record: bool = True, answers: bool = False, batch_size: int | None = None,
               region=None, lat=None, lon=None) -> Checks:
    """The counterfeit check of many scans over one stream (packed columns; with
    answers=True also one RegistryAnswer per scan, in batches of 2,048). `scans` as
    verify_many takes them."""
    count, requests = check_batches(scans, offsets, scanner=scanner, place=place, time=time,
                                    record=record, answers=answers, batch_size=batch_size,
                                    region=region, lat=lat, lon=lon)
    out = Checks(count, answers)
    yield from drain("verification", "CheckStream", requests, out.add)
    return out


@verb
def lookup_approval(client, number: str, date=None):
    """Manual entry of an approval or registration number (any spelling): an ApprovalInfo
    (record, valid, validity, on, products, companies), validity on `date` (a date or
    YYYY-MM-DD; default the server's today). NOT_FOUND for a number not in the registry,
    INVALID_ARGUMENT for text that is no such number."""
    req = vpb.LookupApprovalRequest(number=number, date=str(date) if date else "")
    return approval_info((yield from unary(client, "verification", "LookupApproval", req)))


@verb
def send_events(client, events, *, atomic: bool = False, batch_size: int = EVENT_BATCH) -> list:
    """Apply lifecycle events (dicts as `tracecode events` reads them, or Event
    messages); one result per event, as Index.apply gives. Each batch is acknowledged
    once committed; after a break, unacknowledged batches are sent again (event ids
    make that safe)."""
    batches = event_batches(events, atomic, batch_size)
    results: list = []
    acked, resent_from = 0, len(batches)
    policy = Retry(client)
    while acked < len(batches):
        try:
            call = yield Open("lifecycle", "SendEvents", iter(batches[acked:]))
            while (ack := (yield Next(call, "SendEvents"))) is not END:
                results += [event_result(r, acked >= resent_from) for r in ack.results]
                acked += 1
                policy.progress()   # the time runs from the last ack
        except grpc.RpcError as exc:
            pause = policy.pause(exc)
            resent_from = min(resent_from, acked)
            yield Pause(pause)
    return batches.results(results)


VERBS["apply_events"] = send_events   # the application's verb name (Service.apply_events)


@verb
def history(client, code: str, limit: int = 0) -> list:
    """Every event and scan of a code and its containers, as Index.history gives them."""
    reply = yield from unary(client, "lifecycle", "History", lpb.HistoryRequest(code=code,
                                                                                limit=limit))
    return [json.loads(i.record) for i in reply.items]


@verb
def schemes(client) -> list:
    return list((yield from unary(client, "admin", "ListSchemes", apb.ListSchemesRequest())).schemes)


@verb
def batches(client, scheme: str | None = None) -> list:
    """Every batch record the caller may see, oldest first."""
    out, after = [], 0
    while True:  # a page with more=True is never empty
        page = yield from unary(client, "admin", "ListBatches",
                                apb.ListBatchesRequest(after_id=after, scheme=scheme or ""))
        out += [batch_record(b) for b in page.batches]
        if not page.more:
            return out
        after = page.batches[-1].id


@verb
def stats(client) -> apb.StatsReply:
    return (yield from unary(client, "admin", "Stats", apb.StatsRequest()))


@verb
def whoami(client, *, retry: bool = True) -> apb.WhoAmIReply:
    """Who the server takes the caller for, its limits, whether it has a registry.
    retry=False: fail at once if the server is unreachable."""
    return (yield from unary(client, "admin", "WhoAmI", apb.WhoAmIRequest(), retry=retry))


# -- what both clients are, but for the I/O ------------------------------------------------

def install_with(wrap):
    """A class decorator: one method per verb, ``wrap(verb)`` running the verb's generator
    the client's way (blocking or awaiting)."""
    def install(cls):
        for name, fn in VERBS.items():
            method = functools.wraps(fn)(wrap(fn))
            sig = inspect.signature(fn)   # the verb's, its first parameter the method's self
            first, *rest = sig.parameters.values()
            method.__signature__ = sig.replace(parameters=[first.replace(name="self"), *rest])
            setattr(cls, name, method)
        return cls
    return install


class Steps:
    """A verb's generator, stepped by a client: ``next()`` the next operation (None when
    the verb is done, its result in ``value``), then ``reply(x)`` or ``fail(exc)``."""

    def __init__(self, gen):
        self.gen, self.value = gen, None
        self._send = self._error = None

    def next(self):
        try:
            op = self.gen.throw(self._error) if self._error is not None else \
                self.gen.send(self._send)
        except StopIteration as stop:
            self.value = stop.value
            return None
        self._send = self._error = None
        return op

    def reply(self, value) -> None:
        self._send = value

    def fail(self, exc: BaseException) -> None:
        self._error = exc


class Connection:
    """What a client holds: the channel, its stubs by service name, the call metadata
    (the bearer token) and the timeouts; how an operation becomes a stub call."""

    def __init__(self, channel, stubs: dict, metadata: tuple, address: str, *, timeout,
                 retry_timeout, connect_timeout, on_retry, stream_timeout):
        self._channel, self._stubs, self._md = channel, stubs, metadata
        self.address = address
        self.timeout, self.retry_timeout = timeout, retry_timeout
        self.connect_timeout, self.on_retry = connect_timeout, on_retry
        self.stream_timeout = stream_timeout
        self._reached = False

    def _method(self, op):
        return getattr(self._stubs[op.service], op.method)

    def _options(self, op) -> dict:
        """The keyword arguments of the stub call for a Call or an Open. Attempts fail fast
        (wait_for_ready=False): a silent wait for a server that is gone helps nobody."""
        if isinstance(op, Call):
            if op.service == "health":   # reach(): no token needed, its own timeout
                return {"timeout": op.timeout, "wait_for_ready": False}
            return {"timeout": self.timeout if op.timeout is None else op.timeout,
                    "metadata": self._md, "wait_for_ready": False}
        return {"metadata": self._md, **({"wait_for_ready": False} if op.fail_fast else {})}


class Transfer:
    """A download's state, for both clients' Download: which codes, how many arrived,
    how often the stream was resumed (chunks() steps it)."""

    def __init__(self, client, batch_id: int, offset: int = 0, count: int | None = None,
                 render: str = "bare", chunk_codes: int = 0, batch=None):
        self.client, self.batch_id, self.offset, self.count = client, batch_id, offset, count
        self.render, self.chunk_codes, self.batch = render, chunk_codes, batch
        self.received = 0          # codes delivered so far
        self.resumed = 0           # streams resumed after a break


from . import epcis_verbs  # noqa: E402,F401 - the EPCIS verbs (epcis_verbs.py) join VERBS
from . import analytics_verbs  # noqa: E402,F401 - the alert verbs (analytics_verbs.py) join VERBS
