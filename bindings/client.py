"""The Python client: production lines request and download codes, scanners verify,
sub-platforms send events. Blocking calls over one channel; see aio.py for asyncio.

    from tracecode.v1 import Client
    with Client("localhost:50051", token=TOKEN) as c:
        dl = c.request_codes("cn-drug-20", {"drug_id": "8177322"}, 1_000_000)
        dl.write("codes.txt")                     # or: for chunk in dl: ... (numpy S20)
        c.verify_many(scans).verdicts             # numpy, one per scan
        c.check(qr_payload).verdict               # the registry's counterfeit check: GENUINE...

Codes arrive as packed fixed-width bytes and become numpy arrays with np.frombuffer;
scans leave packed the same way: no Python work per code on the bulk paths. Calls
that are safe to repeat (issuance with its idempotency key, downloads, events with
their ids, reads) are retried across a server restart within `retry_timeout`, each
retry announced through `on_retry` (default: a logging warning, which Python prints on
stderr); verification records scans, so it is never repeated behind your back. The
first call checks that the server answers at all (its health service, `connect_timeout`)
and raises Unreachable at once ("cannot reach HOST:PORT: connection refused") rather
than waiting for a server that is not there.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time as _time
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from . import admin_pb2 as apb
from . import admin_pb2_grpc
from . import common_pb2 as cpb
from . import issuance_pb2 as ipb
from . import issuance_pb2_grpc
from . import lifecycle_pb2 as lpb
from . import lifecycle_pb2_grpc
from . import limits
from . import verification_pb2 as vpb
from . import verification_pb2_grpc
from .convert import (CHECK_DTYPE, answer, approval_info, approval_record, batch_record,
                      check_records, event_pb, pack_scans, registry_answer, result_records,
                      scan_bytes)
from .status import ServiceError

RENDERS = {"bare": ipb.RENDER_BARE, "element": ipb.RENDER_ELEMENT, "hri": ipb.RENDER_HRI,
           "dl": ipb.RENDER_DIGITAL_LINK}
VERIFY_BATCH = 16_384          # scans per VerifyBatchRequest
VERIFY_BATCH_BYTES = 4 << 20
CHECK_ANSWERS_BATCH = 2_048    # scans per CheckBatchRequest asking for answers (~1 KB each)
VERIFY_ANSWERS_BATCH = 8_192   # scans per VerifyBatchRequest asking for answers (limits)
EVENT_BATCH = 1_000            # events per EventBatch
RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)
# a request carrying an idempotency key may also be retried after a timeout: the lost
# attempt may have reserved the batch, and the same key returns it
IDEMPOTENT_RETRY = RETRYABLE + (grpc.StatusCode.DEADLINE_EXCEEDED,)
CONNECT_TIMEOUT = 5.0          # seconds the first call waits for the server to answer
STREAM_TIMEOUT = 60.0          # seconds a streaming call waits for its next reply (Stalled past it)
RETRY_PAUSES = (0.2, 0.5, 1.0, 2.0)   # between retries, then 2 s each: one message each

log = logging.getLogger("tracecode.client")


class Unreachable(ServiceError):
    """The server cannot be reached: nothing listens there, no answer, or no TLS
    handshake. Raised by the first call, at once; nothing was sent."""

    def __init__(self, address: str, why: str):
        super().__init__(grpc.StatusCode.UNAVAILABLE, f"cannot reach {address}: {why}",
                         reason="UNREACHABLE")
        self.args = (f"cannot reach {address}: {why}",)
        self.address = address

    @classmethod
    def of(cls, address: str, exc: grpc.RpcError, timeout: float) -> "Unreachable":
        return cls(address, why_unreachable(exc, timeout))


class Stalled(ServiceError):
    """A streaming call whose server sent no reply for `seconds` (the client's
    stream_timeout): the server hangs or is overloaded. DEADLINE_EXCEEDED, reason STALLED.
    What was acknowledged before stands (send_events: those batches are applied)."""

    def __init__(self, address: str, method: str, seconds: float):
        super().__init__(grpc.StatusCode.DEADLINE_EXCEEDED,
                         f"{method} on {address}: no reply for {seconds:g} s (the client's "
                         f"stream_timeout); the server hangs or is overloaded", reason="STALLED")
        self.address, self.method, self.seconds = address, method, seconds


def watched(call, client, method: str):
    """The replies of a streaming call, Stalled when the next one takes over the client's
    stream_timeout (None: wait for ever). The clock runs only while waiting for the server."""
    seconds = getattr(client, "stream_timeout", None)
    if not seconds:
        yield from call
        return
    stalled = threading.Event()

    def stall():
        stalled.set()
        call.cancel()
    while True:
        timer = threading.Timer(seconds, stall)
        timer.daemon = True
        timer.start()
        try:
            reply = next(call)
        except StopIteration:
            return
        except grpc.RpcError:
            if stalled.is_set():
                raise Stalled(client.address, method, seconds) from None
            raise
        finally:
            timer.cancel()
        yield reply


def why_unreachable(exc: grpc.RpcError, timeout: float) -> str:
    """A short reason from gRPC's "failed to connect to all addresses; last error: ..."."""
    if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"no answer within {timeout:g} s"
    details = exc.details() or exc.code().name
    for pattern, why in ((r"connection refused", "connection refused"),
                         (r"dns resolution failed|name or service not known|not resolve|"
                          r"errors resolving|domain name not found", "unknown host"),
                         (r"ssl|tls|handshake|certificate", "TLS handshake failed"),
                         (r"no route to host", "no route to host"),
                         (r"network is unreachable", "network unreachable"),
                         (r"connection reset", "connection reset")):
        if re.search(pattern, details, re.I):
            return why
    return " ".join(details.split())[:200]


def retry_pause(attempt: int) -> float:
    return RETRY_PAUSES[min(attempt, len(RETRY_PAUSES) - 1)]


def announce_retry(on_retry, address: str, exc: grpc.RpcError, pause: float, left: float) -> None:
    """One visible line per retry: the caller must not wait on a silent client."""
    why = why_unreachable(exc, 0) if exc.code() == grpc.StatusCode.UNAVAILABLE \
        else exc.code().name
    (on_retry or log.warning)(f"{address}: {why}; retrying in {pause:g} s "
                              f"(giving up in {max(left, 0):.0f} s)")


def _read(value) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return Path(value).read_bytes()


@dataclass(frozen=True)
class TLS:
    """TLS settings: `ca` the CA that signed the server's certificate (PEM bytes or a
    path; None: the system's roots), `cert` and `key` a client certificate for mutual
    TLS, `server_name` the name to check the server's certificate against."""
    ca: bytes | str | Path | None = None
    cert: bytes | str | Path | None = None
    key: bytes | str | Path | None = None
    server_name: str | None = None

    def credentials(self):
        return grpc.ssl_channel_credentials(root_certificates=_read(self.ca),
                                            private_key=_read(self.key),
                                            certificate_chain=_read(self.cert))


def channel_setup(token: str | None, tls) -> tuple[list, tuple, object]:
    """(channel options, call metadata, credentials or None) for a client."""
    options = list(limits.GRPC_OPTIONS)
    creds = None
    if tls:
        tls = TLS() if tls is True else tls
        creds = tls.credentials()
        if tls.server_name:
            options.append(("grpc.ssl_target_name_override", tls.server_name))
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    return options, metadata, creds


def batch_request(scheme, product, count, *, lot=None, expiry=None, line=None, attributes=None,
                  idempotency_key=None) -> ipb.RequestBatchRequest:
    return ipb.RequestBatchRequest(
        idempotency_key=idempotency_key or str(uuid.uuid4()),
        product=cpb.Product(scheme=scheme, fields={k: str(v) for k, v in product.items()}),
        count=count, lot=lot or "", expiry=expiry or "", line=line or "",
        attributes={k: str(v) for k, v in (attributes or {}).items()})


def code_report(event_id, batch_id=0, ranges=(), codes=(), place=None, time=None, reason=None):
    return ipb.CodeReport(event_id=event_id, batch_id=batch_id,
                          ranges=[ipb.CodeRange(offset=o, count=n) for o, n in ranges],
                          codes=[c.decode() if isinstance(c, bytes) else str(c) for c in codes],
                          place=place or "", time=time or 0.0, reason=reason or "")


def verify_batches(scans, offsets, *, scanner=None, place=None, time=None, record=True,
                   answers=False, batch_size=VERIFY_BATCH, message=vpb.VerifyBatchRequest):
    """(count, requests): the VerifyBatchRequests (or CheckBatchRequests: `message`) of a
    list of scans, each under batch_size scans and VERIFY_BATCH_BYTES bytes."""
    data, lengths = pack_scans(scans, offsets)
    ends = np.cumsum(lengths, dtype=np.int64)
    common = dict(scanner=scanner or "", place=place or "", time=time or 0.0,
                  no_record=not record, answers=answers)

    def requests():
        i, seq = 0, 0
        while i < len(lengths):
            start = int(ends[i - 1]) if i else 0
            j = min(i + batch_size, int(np.searchsorted(ends, start + VERIFY_BATCH_BYTES, "right")))
            j = max(j, i + 1)
            seq += 1
            yield message(sequence=seq, data=data[start:int(ends[j - 1])],
                          lengths=lengths[i:j].tobytes(), **common)
            i = j
    return len(lengths), requests()


class Verdicts:
    """verify_many's result: ``records`` (numpy: verdict, status, fault, batch, scan_count,
    places, first_scan_time; Verdict's numbers, the wire's), ``batches`` (id -> BatchRecord),
    and with answers=True one Answer per scan (iterate, or index)."""

    def __init__(self, count: int, want_answers: bool):
        from .convert import RESULT_DTYPE
        self.records = np.zeros(count, RESULT_DTYPE)
        self.batches: dict = {}
        self.answers = [] if want_answers else None
        self._filled = 0

    def add(self, reply: vpb.VerifyBatchReply) -> None:
        self.records[self._filled:self._filled + reply.count] = result_records(reply)
        self._filled += reply.count
        self.batches.update((b.id, batch_record(b)) for b in reply.batches)
        if self.answers is not None:
            self.answers += [answer(a) for a in reply.answers]

    def __len__(self):
        return len(self.records)

    @property
    def verdicts(self) -> np.ndarray:
        return self.records["verdict"]

    def _need_answers(self):
        if self.answers is None:
            raise TypeError("ask verify_many(..., answers=True) for Answers; records has the verdicts")
        return self.answers

    def __iter__(self):
        return iter(self._need_answers())

    def __getitem__(self, i):
        return self._need_answers()[i]


def scan_request(message, scan, scanner=None, place=None, time=None, record=True):
    """A VerifyRequest or a CheckRequest (the same fields) for one scan."""
    raw = scan_bytes(scan)
    return message(scan=raw, scanner=scanner or "", place=place or "", time=time or 0.0,
                   no_record=not record)


def check_batches(scans, offsets, *, answers=False, batch_size=None, **kw):
    """(count, requests): the CheckBatchRequests of a list of scans."""
    if batch_size is None:
        batch_size = CHECK_ANSWERS_BATCH if answers else VERIFY_BATCH
    return verify_batches(scans, offsets, answers=answers, batch_size=batch_size,
                          message=vpb.CheckBatchRequest, **kw)


class Checks:
    """check_many's result, the counterfeit check of each scan:

    ``records`` (numpy): verdict (1 GENUINE, 2 NOT_GENUINE, 3 NOT_COVERED), kind (0 none,
    1 vet, 2 pesticide), genuine, failed and unchecked (bitmasks: bit i is ``checks[i]``),
    source (0 not found, 1 issued by us, 2 national code data), level, expiry (YYYYMMDD,
    0 none) and approval (index in ``approvals``, -1 none); ``approvals``: the registry
    records compared against, each once; ``index``: the index's Verdicts on the same
    scans; with answers=True one RegistryAnswer per scan (iterate, or index)."""

    def __init__(self, count: int, want_answers: bool):
        self.records = np.zeros(count, CHECK_DTYPE)
        self.index = Verdicts(count, False)
        self.approvals: list = []
        self.checks: tuple = ()
        self.answers = [] if want_answers else None
        self._slot: dict = {}
        self._filled = 0

    def add(self, reply: vpb.CheckBatchReply) -> None:
        rec = check_records(reply)
        local = []
        for a in reply.approvals:
            if a.number not in self._slot:
                self._slot[a.number] = len(self.approvals)
                self.approvals.append(approval_record(a))
            local.append(self._slot[a.number])
        rec["approval"] = np.array(local + [-1], np.int32)[rec["approval"]]  # -1 stays -1
        self.records[self._filled:self._filled + reply.count] = rec
        self._filled += reply.count
        self.checks = self.checks or tuple(reply.checks)
        self.index.add(reply.index)
        if self.answers is not None:
            self.answers += [registry_answer(a) for a in reply.answers]

    def __len__(self):
        return len(self.records)

    @property
    def genuine(self) -> np.ndarray:
        return self.records["genuine"]

    def names(self, mask: int) -> tuple:
        """The check names of a failed or unchecked bitmask."""
        return tuple(n for i, n in enumerate(self.checks) if int(mask) >> i & 1)

    def _need_answers(self):
        if self.answers is None:
            raise TypeError("ask check_many(..., answers=True) for RegistryAnswers; records has "
                            "the verdicts and failed checks")
        return self.answers

    def __iter__(self):
        return iter(self._need_answers())

    def __getitem__(self, i):
        return self._need_answers()[i]


class EventBatches(list):
    """The EventBatch messages of a send_events call; ``local`` holds the results of the
    events no message can carry (a batch id that is no integer...), by their position:
    each is that event's own refusal, never the whole call's."""
    local: dict

    def results(self, sent: list) -> list:
        """The results of every event, in order: the server's for those sent."""
        if not self.local:
            return sent
        it = iter(sent)
        return [self.local[i] if i in self.local else next(it)
                for i in range(len(sent) + len(self.local))]


def event_batches(events, atomic: bool, batch_size: int) -> EventBatches:
    events = list(events)
    if atomic and len(events) > limits.MAX_EVENTS_PER_BATCH:
        raise ValueError(f"an atomic call holds at most {limits.MAX_EVENTS_PER_BATCH:,} events")
    messages, local = [], {}
    for i, e in enumerate(events):
        try:
            messages.append(e if isinstance(e, lpb.Event) else event_pb(e))
        except (TypeError, ValueError, OverflowError, AttributeError) as exc:
            eid = str(e.get("id") or "")[:limits.MAX_KEY_LENGTH] if isinstance(e, dict) else ""
            local[i] = {"id": eid, "ok": False, "status": "INVALID_ARGUMENT",
                        "error": f"events[{i}] cannot be sent: " + (
                            "not an object" if not isinstance(e, dict) else str(exc)[:200])}
    if atomic and local:   # all or none: none, as the server would
        local.update({i: {"id": str(m.id), "ok": False, "status": "ABORTED",
                          "error": "not applied: another event in the batch is invalid"}
                      for i, m in zip((i for i in range(len(events)) if i not in local), messages)})
        messages = []
    size = len(messages) if atomic else batch_size
    out = EventBatches(lpb.EventBatch(sequence=n + 1, atomic=atomic, events=messages[i:i + size])
                       for n, i in enumerate(range(0, len(messages), max(size, 1))))
    out.local = local
    return out


def event_result(r: lpb.EventResult, resent: bool) -> dict:
    """As Index.apply reports it, and a rejection's status code by name ("status"). A
    resent event the server already applied is acknowledged as applied by the server
    itself (the same event from the same client, its first seq); ALREADY_EXISTS means
    another event holds the id, a refusal even on a resend."""
    if r.ok:
        return {"id": r.id, "ok": True, "seq": r.seq}
    return {"id": r.id, "ok": False, "error": r.error, "status": _CODE_NAMES.get(r.code, "UNKNOWN")}


_CODE_NAMES = {c.value[0]: c.name for c in grpc.StatusCode}


def chunk_array(chunk: ipb.CodeChunk) -> np.ndarray:
    return np.frombuffer(chunk.codes, f"S{chunk.width}", chunk.count)


class CodeWriter:
    """Codes one per line into a binary file, through one reused buffer."""

    def __init__(self, f, newline: bytes = b"\n"):
        self.f, self.newline, self.buf, self.count = f, newline, None, 0

    def write(self, codes: np.ndarray) -> None:
        k, w = len(codes), codes.dtype.itemsize
        if not self.newline:
            self.f.write(memoryview(codes).cast("B"))
        else:
            if self.buf is None or self.buf.shape[0] < k or self.buf.shape[1] != w + len(self.newline):
                self.buf = np.empty((k, w + len(self.newline)), np.uint8)
            out = self.buf[:k]
            out[:, :w] = codes.view(np.uint8).reshape(k, w)
            out[:, w:] = np.frombuffer(self.newline, np.uint8)
            self.f.write(memoryview(out).cast("B"))
        self.count += k


class Download:
    """The codes of a batch (or part of one), chunk by chunk: iterate for numpy arrays
    (dtype S<width>), or write() them to a file. A broken stream resumes from the offset
    reached: the same codes, FF1 being deterministic."""

    def __init__(self, client, batch_id: int, offset: int = 0, count: int | None = None,
                 render: str = "bare", chunk_codes: int = 0, batch=None):
        self.client, self.batch_id, self.offset, self.count = client, batch_id, offset, count
        self.render, self.chunk_codes, self.batch = render, chunk_codes, batch
        self.received = 0          # codes delivered so far
        self.resumed = 0           # streams resumed after a break

    def _request(self):
        count = 0 if self.count is None else self.count - self.received
        return ipb.DownloadCodesRequest(batch_id=self.batch_id, offset=self.offset + self.received,
                                        count=count, render=RENDERS[self.render],
                                        chunk_codes=self.chunk_codes)

    def __iter__(self):
        if self.count is not None and self.received >= self.count:
            return
        deadline = _time.monotonic() + self.client.retry_timeout
        while True:
            try:
                for chunk in watched(self.client._stream(self.client._issuance.DownloadCodes,
                                                         self._request()), self.client, "DownloadCodes"):
                    codes = chunk_array(chunk)
                    self.received += len(codes)
                    deadline = _time.monotonic() + self.client.retry_timeout  # from the last progress
                    yield codes
                return
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or _time.monotonic() > deadline:
                    raise ServiceError.from_rpc_error(exc) from None
                pause = retry_pause(self.resumed)
                self.client._announce(exc, pause, deadline)
                self.resumed += 1
                _time.sleep(pause)

    def write(self, out, newline: bytes = b"\n", progress=None) -> int:
        """Write the codes one per line to a path or a binary file; returns the count.
        `progress(done)` is called after each chunk."""
        if isinstance(out, (str, Path)):
            with open(out, "wb") as f:
                return self.write(f, newline, progress)
        writer = CodeWriter(out, newline)
        for codes in self:
            writer.write(codes)
            if progress:
                progress(writer.count)
        return writer.count

    def all(self) -> np.ndarray:
        parts = list(self)
        return np.concatenate(parts) if parts else np.zeros(0, "S1")


class Client:
    """A connection to a tracecode server. `token`: a bearer token (see `tracecode token
    add`); `tls`: True (system roots), a TLS(...) (own CA, client certificate), or
    None for plain text (loopback). `timeout` bounds each unary call; `connect_timeout`
    the first contact (Unreachable past it); `stream_timeout` the wait for each reply of a
    streaming call (download, verify_many, check_many, send_events: Stalled past it, None
    for no limit); `on_retry(message)` hears of each retry."""

    def __init__(self, address: str, *, token: str | None = None, tls=None,
                 timeout: float | None = 60.0, retry_timeout: float = 30.0,
                 connect_timeout: float = CONNECT_TIMEOUT, on_retry=None,
                 stream_timeout: float | None = STREAM_TIMEOUT):
        options, self._md, creds = channel_setup(token, tls)
        self._channel = grpc.secure_channel(address, creds, options) if creds \
            else grpc.insecure_channel(address, options)
        self.address = address
        self.timeout, self.retry_timeout = timeout, retry_timeout
        self.connect_timeout, self.on_retry = connect_timeout, on_retry
        self.stream_timeout = stream_timeout
        self._reached = False
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._issuance = issuance_pb2_grpc.IssuanceStub(self._channel)
        self._verification = verification_pb2_grpc.VerificationStub(self._channel)
        self._lifecycle = lifecycle_pb2_grpc.LifecycleStub(self._channel)
        self._admin = admin_pb2_grpc.AdminStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plumbing ----------------------------------------------------------------------------
    def reach(self) -> None:
        """Check once that the server answers (its health service, within
        connect_timeout); raises Unreachable otherwise. Every call does this first."""
        if self._reached:
            return
        try:
            self._health.Check(health_pb2.HealthCheckRequest(), timeout=self.connect_timeout,
                               wait_for_ready=False)
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise ServiceError.from_rpc_error(exc) from None
            raise Unreachable.of(self.address, exc, self.connect_timeout) from None
        self._reached = True

    def _announce(self, exc, pause: float, deadline: float) -> None:
        announce_retry(self.on_retry, self.address, exc, pause, deadline - _time.monotonic())

    def _call(self, method, request, *, retry: bool = True, done_if_exists: bool = False,
              retry_on=RETRYABLE):
        """A unary call; safe ones are retried while the server is unavailable (a
        restart), each retry announced, up to retry_timeout. Attempts fail fast
        (wait_for_ready=False): a silent wait for a server that is gone helps nobody.
        done_if_exists: ALREADY_EXISTS on a retry means the lost attempt succeeded
        (returns None)."""
        self.reach()
        deadline = _time.monotonic() + self.retry_timeout
        attempt = 0
        while True:
            try:
                return method(request, timeout=self.timeout, metadata=self._md, wait_for_ready=False)
            except grpc.RpcError as exc:
                if done_if_exists and attempt and exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                    return None
                if not retry or exc.code() not in retry_on or _time.monotonic() > deadline:
                    raise ServiceError.from_rpc_error(exc) from None
                pause = retry_pause(attempt)
                self._announce(exc, pause, deadline)
                attempt += 1
                _time.sleep(pause)

    def _stream(self, method, request):
        self.reach()
        return method(request, metadata=self._md, wait_for_ready=False)

    # -- issuance ----------------------------------------------------------------------------
    def request_batch(self, scheme: str, product: dict, count: int, *, lot=None, expiry=None,
                      line=None, attributes=None, idempotency_key: str | None = None):
        """Reserve a batch; returns its BatchRecord. Retried with the same idempotency key
        (a fresh UUID if none is given), so a retry never makes a second batch."""
        req = batch_request(scheme, product, count, lot=lot, expiry=expiry, line=line,
                            attributes=attributes, idempotency_key=idempotency_key)
        return batch_record(self._call(self._issuance.RequestBatch, req, retry_on=IDEMPOTENT_RETRY))

    issue = request_batch   # the application's verb name (tracecode.app.Service.issue)

    def request_codes(self, scheme: str, product: dict, count: int, *, render: str = "bare",
                      chunk_codes: int = 0, **batch_options) -> Download:
        """Reserve a batch and download its codes (``.batch`` is the record)."""
        batch = self.request_batch(scheme, product, count, **batch_options)
        return Download(self, batch.id, 0, batch.count, render, chunk_codes, batch)

    def download(self, batch_id: int, offset: int = 0, count: int | None = None, *,
                 render: str = "bare", chunk_codes: int = 0) -> Download:
        """Codes of an issued batch again, all or `count` from `offset`."""
        return Download(self, batch_id, offset, count, render, chunk_codes)

    def report_commissioned(self, event_id: str, *, batch_id: int = 0, ranges=(), codes=(),
                            place=None, time=None) -> dict:
        """Codes applied to products: ranges are (offset, count) in the batch."""
        return self._report(self._issuance.ReportCommissioned,
                            code_report(event_id, batch_id, ranges, codes, place, time))

    def report_spoiled(self, event_id: str, *, batch_id: int = 0, ranges=(), codes=(),
                       place=None, time=None, reason="spoiled") -> dict:
        return self._report(self._issuance.ReportSpoiled,
                            code_report(event_id, batch_id, ranges, codes, place, time, reason))

    def _report(self, method, req) -> dict:
        # a resent report the server applied before is acknowledged by the server (same
        # client, same event); ALREADY_EXISTS means another event holds the id: a refusal
        r = self._call(method, req)
        return {"id": req.event_id, "ok": True, "seq": r.seq}

    # -- verification --------------------------------------------------------------------------
    def verify(self, scan, *, scanner=None, place=None, time=None, record: bool = True):
        """The verdict on one scan (an Answer). An unreadable scan raises ServiceError
        (INVALID_ARGUMENT) whose violations say what is wrong where."""
        req = scan_request(vpb.VerifyRequest, scan, scanner, place, time, record)
        return answer(self._call(self._verification.Verify, req, retry=False))

    def verify_many(self, scans, offsets=None, *, scanner=None, place=None, time=None,
                    record: bool = True, answers: bool = False,
                    batch_size: int = VERIFY_BATCH) -> Verdicts:
        """Verdicts on many scans over one stream, batches pipelined. `scans`: a list of
        str/bytes, an S array, or a packed buffer with int64 `offsets`."""
        if answers:  # the server refuses more in one message: the reply would be too large
            batch_size = min(batch_size, VERIFY_ANSWERS_BATCH)
        count, requests = verify_batches(scans, offsets, scanner=scanner, place=place, time=time,
                                         record=record, answers=answers, batch_size=batch_size)
        out = Verdicts(count, answers)
        self.reach()
        try:
            for reply in watched(self._verification.VerifyStream(requests, metadata=self._md),
                                 self, "VerifyStream"):
                out.add(reply)
        except grpc.RpcError as exc:
            raise ServiceError.from_rpc_error(exc) from None
        return out

    # -- the counterfeit check (product registries) ---------------------------------------------
    def check(self, scan, *, scanner=None, place=None, time=None, record: bool = True):
        """The counterfeit check of one scan against the server's registry: a RegistryAnswer
        (verdict GENUINE, NOT_GENUINE or NOT_COVERED; checks as (name, ok, detail); the
        approval compared against; the index's Answer). An unreadable scan is an answer
        (code_exists fails), not an error. Recorded like verify."""
        req = scan_request(vpb.CheckRequest, scan, scanner, place, time, record)
        return registry_answer(self._call(self._verification.Check, req, retry=False))

    def check_many(self, scans, offsets=None, *, scanner=None, place=None, time=None,
                   record: bool = True, answers: bool = False, batch_size: int | None = None) -> Checks:
        """The counterfeit check of many scans over one stream (packed columns; with
        answers=True also one RegistryAnswer per scan, in batches of 2,048). `scans` as
        verify_many takes them."""
        count, requests = check_batches(scans, offsets, scanner=scanner, place=place, time=time,
                                        record=record, answers=answers, batch_size=batch_size)
        out = Checks(count, answers)
        self.reach()
        try:
            for reply in watched(self._verification.CheckStream(requests, metadata=self._md),
                                 self, "CheckStream"):
                out.add(reply)
        except grpc.RpcError as exc:
            raise ServiceError.from_rpc_error(exc) from None
        return out

    def lookup_approval(self, number: str, date=None):
        """Manual entry of an approval or registration number (any spelling): an ApprovalInfo
        (record, valid, validity, on, products, companies), validity on `date` (a date or
        YYYY-MM-DD; default the server's today). NOT_FOUND for a number not in the registry,
        INVALID_ARGUMENT for text that is no such number."""
        req = vpb.LookupApprovalRequest(number=number, date=str(date) if date else "")
        return approval_info(self._call(self._verification.LookupApproval, req))

    # -- lifecycle -------------------------------------------------------------------------------
    def send_events(self, events, *, atomic: bool = False, batch_size: int = EVENT_BATCH) -> list:
        """Apply lifecycle events (dicts as `tracecode events` reads them, or Event
        messages); one result per event, as Index.apply gives. Each batch is acknowledged
        once committed; after a break, unacknowledged batches are sent again (event ids
        make that safe)."""
        batches = event_batches(events, atomic, batch_size)
        results: list = []
        acked, resent_from = 0, len(batches)
        self.reach()
        deadline = _time.monotonic() + self.retry_timeout
        attempt = 0
        while acked < len(batches):
            try:
                replies = self._lifecycle.SendEvents(iter(batches[acked:]), metadata=self._md,
                                                     wait_for_ready=False)
                for ack in watched(replies, self, "SendEvents"):
                    results += [event_result(r, acked >= resent_from) for r in ack.results]
                    acked += 1
                    attempt = 0
                    deadline = _time.monotonic() + self.retry_timeout  # from the last ack
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or _time.monotonic() > deadline:
                    raise ServiceError.from_rpc_error(exc) from None
                resent_from = min(resent_from, acked)
                pause = retry_pause(attempt)
                self._announce(exc, pause, deadline)
                attempt += 1
                _time.sleep(pause)
        return batches.results(results)

    apply_events = send_events   # the application's verb name (Service.apply_events)

    def history(self, code: str, limit: int = 0) -> list:
        """Every event and scan of a code and its containers, as Index.history gives them."""
        reply = self._call(self._lifecycle.History, lpb.HistoryRequest(code=code, limit=limit))
        return [json.loads(i.record) for i in reply.items]

    # -- administration -----------------------------------------------------------------------
    def schemes(self) -> list:
        return list(self._call(self._admin.ListSchemes, apb.ListSchemesRequest()).schemes)

    def batches(self, scheme: str | None = None) -> list:
        """Every batch record the caller may see, oldest first."""
        out, after = [], 0
        while True:  # a page with more=True is never empty
            page = self._call(self._admin.ListBatches,
                              apb.ListBatchesRequest(after_id=after, scheme=scheme or ""))
            out += [batch_record(b) for b in page.batches]
            if not page.more:
                return out
            after = page.batches[-1].id

    def stats(self) -> apb.StatsReply:
        return self._call(self._admin.Stats, apb.StatsRequest())

    def whoami(self, *, retry: bool = True) -> apb.WhoAmIReply:
        """Who the server takes the caller for, its limits, whether it has a registry.
        retry=False: fail at once if the server is unreachable."""
        return self._call(self._admin.WhoAmI, apb.WhoAmIRequest(), retry=retry)
