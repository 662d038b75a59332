"""The asyncio client: AsyncClient has Client's methods as coroutines (downloads are
async iterators), on grpc.aio, sharing client.py's request building and decoding."""
from __future__ import annotations

import json
import asyncio
import time as _time
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from . import admin_pb2 as apb
from . import admin_pb2_grpc
from . import issuance_pb2 as ipb
from . import issuance_pb2_grpc
from . import lifecycle_pb2 as lpb
from . import lifecycle_pb2_grpc
from . import verification_pb2 as vpb
from . import verification_pb2_grpc
from .client import (CONNECT_TIMEOUT, EVENT_BATCH, IDEMPOTENT_RETRY, RENDERS, RETRYABLE,
                     STREAM_TIMEOUT, VERIFY_ANSWERS_BATCH, VERIFY_BATCH, Checks, CodeWriter, Stalled,
                     Unreachable, Verdicts, announce_retry,
                     batch_request, channel_setup, check_batches, chunk_array, code_report,
                     event_batches, event_result, retry_pause, scan_request, verify_batches)
from .convert import answer, approval_info, batch_record, registry_answer
from .status import ServiceError


async def watched(call, client, method: str):
    """The replies of a streaming call, Stalled when the next one takes over the client's
    stream_timeout (None: wait for ever); see client.watched."""
    seconds = getattr(client, "stream_timeout", None)
    while True:
        try:
            reply = await asyncio.wait_for(call.read(), seconds) if seconds else await call.read()
        except asyncio.TimeoutError:
            call.cancel()
            raise Stalled(client.address, method, seconds) from None
        if reply is grpc.aio.EOF:
            return
        yield reply


class AsyncDownload:
    """Download for asyncio: ``async for codes in dl`` or ``await dl.write(path)``."""

    def __init__(self, client, batch_id, offset=0, count=None, render="bare", chunk_codes=0,
                 batch=None):
        self.client, self.batch_id, self.offset, self.count = client, batch_id, offset, count
        self.render, self.chunk_codes, self.batch = render, chunk_codes, batch
        self.received = 0
        self.resumed = 0

    def _request(self):
        count = 0 if self.count is None else self.count - self.received
        return ipb.DownloadCodesRequest(batch_id=self.batch_id, offset=self.offset + self.received,
                                        count=count, render=RENDERS[self.render],
                                        chunk_codes=self.chunk_codes)

    async def __aiter__(self):
        if self.count is not None and self.received >= self.count:
            return
        deadline = _time.monotonic() + self.client.retry_timeout
        await self.client.reach()
        while True:
            try:
                call = self.client._issuance.DownloadCodes(self._request(), metadata=self.client._md,
                                                           wait_for_ready=False)
                async for chunk in watched(call, self.client, "DownloadCodes"):
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
                await asyncio.sleep(pause)

    async def write(self, out, newline: bytes = b"\n") -> int:
        if isinstance(out, (str, Path)):
            with open(out, "wb") as f:
                return await self.write(f, newline)
        writer = CodeWriter(out, newline)
        async for codes in self:
            writer.write(codes)
        return writer.count

    async def all(self) -> np.ndarray:
        parts = [codes async for codes in self]
        return np.concatenate(parts) if parts else np.zeros(0, "S1")


class AsyncClient:
    """Client for asyncio; see tracecode.v1.Client for the methods."""

    def __init__(self, address: str, *, token: str | None = None, tls=None,
                 timeout: float | None = 60.0, retry_timeout: float = 30.0,
                 connect_timeout: float = CONNECT_TIMEOUT, on_retry=None,
                 stream_timeout: float | None = STREAM_TIMEOUT):
        options, self._md, creds = channel_setup(token, tls)
        self._channel = grpc.aio.secure_channel(address, creds, options) if creds \
            else grpc.aio.insecure_channel(address, options)
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

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def reach(self) -> None:
        """As Client.reach: Unreachable at once if the server does not answer."""
        if self._reached:
            return
        try:
            await self._health.Check(health_pb2.HealthCheckRequest(), timeout=self.connect_timeout,
                                     wait_for_ready=False)
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise ServiceError.from_rpc_error(exc) from None
            raise Unreachable.of(self.address, exc, self.connect_timeout) from None
        self._reached = True

    def _announce(self, exc, pause: float, deadline: float) -> None:
        announce_retry(self.on_retry, self.address, exc, pause, deadline - _time.monotonic())

    async def _call(self, method, request, *, retry: bool = True, done_if_exists: bool = False,
                    retry_on=RETRYABLE):
        await self.reach()
        deadline = _time.monotonic() + self.retry_timeout
        attempt = 0
        while True:
            try:
                return await method(request, timeout=self.timeout, metadata=self._md,
                                    wait_for_ready=False)
            except grpc.RpcError as exc:
                if done_if_exists and attempt and exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                    return None
                if not retry or exc.code() not in retry_on or _time.monotonic() > deadline:
                    raise ServiceError.from_rpc_error(exc) from None
                pause = retry_pause(attempt)
                self._announce(exc, pause, deadline)
                attempt += 1
                await asyncio.sleep(pause)

    # -- issuance ----------------------------------------------------------------------------
    async def request_batch(self, scheme, product, count, **options):
        return batch_record(await self._call(self._issuance.RequestBatch,
                                             batch_request(scheme, product, count, **options),
                                             retry_on=IDEMPOTENT_RETRY))

    issue = request_batch   # the application's verb name (tracecode.app.Service.issue)

    async def request_codes(self, scheme, product, count, *, render="bare", chunk_codes=0,
                            **batch_options) -> AsyncDownload:
        batch = await self.request_batch(scheme, product, count, **batch_options)
        return AsyncDownload(self, batch.id, 0, batch.count, render, chunk_codes, batch)

    def download(self, batch_id, offset=0, count=None, *, render="bare",
                 chunk_codes=0) -> AsyncDownload:
        return AsyncDownload(self, batch_id, offset, count, render, chunk_codes)

    async def report_commissioned(self, event_id, *, batch_id=0, ranges=(), codes=(), place=None,
                                  time=None) -> dict:
        return await self._report(self._issuance.ReportCommissioned,
                                  code_report(event_id, batch_id, ranges, codes, place, time))

    async def report_spoiled(self, event_id, *, batch_id=0, ranges=(), codes=(), place=None,
                             time=None, reason="spoiled") -> dict:
        return await self._report(self._issuance.ReportSpoiled,
                                  code_report(event_id, batch_id, ranges, codes, place, time, reason))

    async def _report(self, method, req) -> dict:
        r = await self._call(method, req)   # a resend is acknowledged by the server (client.py)
        return {"id": req.event_id, "ok": True, "seq": r.seq}

    # -- verification --------------------------------------------------------------------------
    async def verify(self, scan, *, scanner=None, place=None, time=None, record=True):
        req = scan_request(vpb.VerifyRequest, scan, scanner, place, time, record)
        return answer(await self._call(self._verification.Verify, req, retry=False))

    async def verify_many(self, scans, offsets=None, *, scanner=None, place=None, time=None,
                          record=True, answers=False, batch_size=VERIFY_BATCH) -> Verdicts:
        if answers:
            batch_size = min(batch_size, VERIFY_ANSWERS_BATCH)
        count, requests = verify_batches(scans, offsets, scanner=scanner, place=place, time=time,
                                         record=record, answers=answers, batch_size=batch_size)
        out = Verdicts(count, answers)
        await self.reach()
        try:
            async for reply in watched(self._verification.VerifyStream(requests, metadata=self._md),
                                       self, "VerifyStream"):
                out.add(reply)
        except grpc.RpcError as exc:
            raise ServiceError.from_rpc_error(exc) from None
        return out

    # -- the counterfeit check (product registries) ---------------------------------------------
    async def check(self, scan, *, scanner=None, place=None, time=None, record=True):
        req = scan_request(vpb.CheckRequest, scan, scanner, place, time, record)
        return registry_answer(await self._call(self._verification.Check, req, retry=False))

    async def check_many(self, scans, offsets=None, *, scanner=None, place=None, time=None,
                         record=True, answers=False, batch_size=None) -> Checks:
        count, requests = check_batches(scans, offsets, scanner=scanner, place=place, time=time,
                                        record=record, answers=answers, batch_size=batch_size)
        out = Checks(count, answers)
        await self.reach()
        try:
            async for reply in watched(self._verification.CheckStream(requests, metadata=self._md),
                                       self, "CheckStream"):
                out.add(reply)
        except grpc.RpcError as exc:
            raise ServiceError.from_rpc_error(exc) from None
        return out

    async def lookup_approval(self, number: str, date=None):
        req = vpb.LookupApprovalRequest(number=number, date=str(date) if date else "")
        return approval_info(await self._call(self._verification.LookupApproval, req))

    # -- lifecycle -------------------------------------------------------------------------------
    async def send_events(self, events, *, atomic=False, batch_size=EVENT_BATCH) -> list:
        batches = event_batches(events, atomic, batch_size)
        results: list = []
        acked, resent_from = 0, len(batches)
        await self.reach()
        deadline = _time.monotonic() + self.retry_timeout
        attempt = 0
        while acked < len(batches):
            try:
                call = self._lifecycle.SendEvents(iter(batches[acked:]), metadata=self._md,
                                                  wait_for_ready=False)
                async for ack in watched(call, self, "SendEvents"):
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
                await asyncio.sleep(pause)
        return batches.results(results)

    apply_events = send_events   # the application's verb name (Service.apply_events)

    async def history(self, code: str, limit: int = 0) -> list:
        reply = await self._call(self._lifecycle.History, lpb.HistoryRequest(code=code, limit=limit))
        return [json.loads(i.record) for i in reply.items]

    # -- administration -----------------------------------------------------------------------
    async def schemes(self) -> list:
        return list((await self._call(self._admin.ListSchemes, apb.ListSchemesRequest())).schemes)

    async def batches(self, scheme: str | None = None) -> list:
        out, after = [], 0
        while True:
            page = await self._call(self._admin.ListBatches,
                                    apb.ListBatchesRequest(after_id=after, scheme=scheme or ""))
            out += [batch_record(b) for b in page.batches]
            if not page.more:
                return out
            after = page.batches[-1].id

    async def stats(self) -> apb.StatsReply:
        return await self._call(self._admin.Stats, apb.StatsRequest())

    async def whoami(self, *, retry: bool = True) -> apb.WhoAmIReply:
        return await self._call(self._admin.WhoAmI, apb.WhoAmIRequest(), retry=retry)
