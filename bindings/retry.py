"""When a client call is tried again, and how long it waits: one policy for the sync and
the asyncio client (client.py, aio.py), and the errors that end a call before the server
answers (Unreachable, Stalled).

Calls that are safe to repeat are retried while the server is unavailable (a restart), up
to the client's retry_timeout from the start or the last progress, each retry announced
through on_retry: a caller must not wait on a silent client.
"""
from __future__ import annotations

import logging
import re
import time as _time

import grpc

from .status import ServiceError

RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)
# a request carrying an idempotency key may also be retried after a timeout: the lost
# attempt may have reserved the batch, and the same key returns it
IDEMPOTENT_RETRY = RETRYABLE + (grpc.StatusCode.DEADLINE_EXCEEDED,)
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


class Retry:
    """One call's retry state: ``pause(exc)`` is the pause before the next attempt (announced),
    or raises the ServiceError when the failure is not retried or the time is up;
    ``progress()`` restarts the clock (a stream that delivered something)."""

    def __init__(self, client, retry_on=RETRYABLE):
        self.client, self.retry_on = client, retry_on
        self.attempt = 0
        self.deadline = _time.monotonic() + client.retry_timeout

    def progress(self, *, reset_attempts: bool = True) -> None:
        if reset_attempts:
            self.attempt = 0
        self.deadline = _time.monotonic() + self.client.retry_timeout

    def pause(self, exc: grpc.RpcError) -> float:
        if exc.code() not in self.retry_on or _time.monotonic() > self.deadline:
            raise ServiceError.from_rpc_error(exc) from None
        pause = retry_pause(self.attempt)
        announce_retry(self.client.on_retry, self.client.address, exc, pause,
                       self.deadline - _time.monotonic())
        self.attempt += 1
        return pause
