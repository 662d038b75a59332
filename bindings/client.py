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

import threading
import time as _time
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2_grpc

from . import admin_pb2_grpc, epcis_pb2_grpc, issuance_pb2_grpc, lifecycle_pb2_grpc, limits, verbs
from . import analytics_pb2_grpc
from . import verification_pb2_grpc
from .calls import (CHECK_ANSWERS_BATCH, EVENT_BATCH, RENDERS, VERIFY_ANSWERS_BATCH,  # noqa: F401
                    VERIFY_BATCH, VERIFY_BATCH_BYTES, Checks, CodeWriter, EventBatches, Verdicts,
                    batch_request, check_batches, chunk_array, code_report, event_batches,
                    event_result, scan_request, verify_batches)
from .retry import (IDEMPOTENT_RETRY, RETRY_PAUSES, RETRYABLE, Stalled,  # noqa: F401
                    Unreachable, announce_retry, retry_pause, why_unreachable)

CONNECT_TIMEOUT = 5.0          # seconds the first call waits for the server to answer
STREAM_TIMEOUT = 60.0          # seconds a streaming call waits for its next reply (Stalled past it)


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


def stubs(channel) -> dict:
    """The services of a channel by the names verbs.py calls them (sync or grpc.aio alike)."""
    return {"health": health_pb2_grpc.HealthStub(channel),
            "issuance": issuance_pb2_grpc.IssuanceStub(channel),
            "verification": verification_pb2_grpc.VerificationStub(channel),
            "lifecycle": lifecycle_pb2_grpc.LifecycleStub(channel),
            "admin": admin_pb2_grpc.AdminStub(channel),
            "epcis": epcis_pb2_grpc.EpcisStub(channel),
            "analytics": analytics_pb2_grpc.AnalyticsStub(channel)}


class Download(verbs.Transfer):
    """The codes of a batch (or part of one), chunk by chunk: iterate for numpy arrays
    (dtype S<width>), or write() them to a file. A broken stream resumes from the offset
    reached: the same codes, FF1 being deterministic."""

    def __iter__(self):
        return self.client._iterate(verbs.chunks(self))

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


def _blocking(fn):
    def method(self, *args, **kw):
        return self._run(fn(self, *args, **kw))
    return method


@verbs.install_with(_blocking)
class Client(verbs.Connection):
    """A connection to a tracecode server. `token`: a bearer token (see `tracecode token
    add`); `tls`: True (system roots), a TLS(...) (own CA, client certificate), or
    None for plain text (loopback). `timeout` bounds each unary call; `connect_timeout`
    the first contact (Unreachable past it); `stream_timeout` the wait for each reply of a
    streaming call (download, verify_many, check_many, send_events: Stalled past it, None
    for no limit); `on_retry(message)` hears of each retry. The verbs (request_batch,
    verify_many, send_events...) are verbs.py's, run blocking."""

    def __init__(self, address: str, *, token: str | None = None, tls=None,
                 timeout: float | None = 60.0, retry_timeout: float = 30.0,
                 connect_timeout: float = CONNECT_TIMEOUT, on_retry=None,
                 stream_timeout: float | None = STREAM_TIMEOUT):
        options, md, creds = channel_setup(token, tls)
        channel = grpc.secure_channel(address, creds, options) if creds \
            else grpc.insecure_channel(address, options)
        super().__init__(channel, stubs(channel), md, address, timeout=timeout,
                         retry_timeout=retry_timeout, connect_timeout=connect_timeout,
                         on_retry=on_retry, stream_timeout=stream_timeout)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def download(self, batch_id: int, offset: int = 0, count: int | None = None, *,
                 render: str = "bare", chunk_codes: int = 0, batch=None) -> Download:
        """Codes of an issued batch again, all or `count` from `offset`."""
        return Download(self, batch_id, offset, count, render, chunk_codes, batch)

    # -- the I/O: verbs.py's operations, blocking -----------------------------------------------
    def reach(self) -> None:
        """Check once that the server answers (its health service, within
        connect_timeout); raises Unreachable otherwise. Every call does this first."""
        if not self._reached:
            self._finish(verbs.reach(self))
            self._reached = True

    def _run(self, gen):
        self.reach()
        return self._finish(gen)

    def _finish(self, gen):
        steps = verbs.Steps(gen)
        for _ in self._steps(steps):
            raise TypeError("a verb that emits is iterated, not run")
        return steps.value

    def _iterate(self, gen):
        self.reach()
        return self._steps(verbs.Steps(gen))

    def _steps(self, steps):
        while (op := steps.next()) is not None:
            if isinstance(op, verbs.Emit):
                yield op.value
                continue
            try:
                steps.reply(self._do(op))
            except grpc.RpcError as exc:
                steps.fail(exc)

    def _do(self, op):
        if isinstance(op, verbs.Next):
            return self._next(op.call, op.method)
        if isinstance(op, verbs.Pause):
            return _time.sleep(op.seconds)
        return self._method(op)(op.request, **self._options(op))

    def _next(self, call, method: str):
        """The next reply, Stalled when it takes over stream_timeout (None: wait for
        ever). The clock runs only while waiting for the server."""
        seconds = self.stream_timeout
        stalled = threading.Event()
        timer = None
        if seconds:
            def stall():
                stalled.set()
                call.cancel()
            timer = threading.Timer(seconds, stall)
            timer.daemon = True
            timer.start()
        try:
            return next(call)
        except StopIteration:
            return verbs.END
        except grpc.RpcError:
            if stalled.is_set():
                raise Stalled(self.address, method, seconds) from None
            raise
        finally:
            if timer is not None:
                timer.cancel()
