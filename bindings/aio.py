"""The asyncio client: AsyncClient has Client's verbs as coroutines (downloads are async
iterators), on grpc.aio. The verbs, requests, replies and retries are verbs.py's, the same
as Client's; this module only awaits their operations."""
from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import numpy as np

from . import verbs
from .calls import CodeWriter
from .client import CONNECT_TIMEOUT, STREAM_TIMEOUT, channel_setup, stubs
from .retry import Stalled


class AsyncDownload(verbs.Transfer):
    """Download for asyncio: ``async for codes in dl`` or ``await dl.write(path)``."""

    def __aiter__(self):
        return self.client._iterate(verbs.chunks(self))

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


def _awaiting(fn):
    async def method(self, *args, **kw):
        return await self._run(fn(self, *args, **kw))
    return method


@verbs.install_with(_awaiting)
class AsyncClient(verbs.Connection):
    """Client for asyncio; see tracecode.v1.Client for the verbs and the options."""

    def __init__(self, address: str, *, token: str | None = None, tls=None,
                 timeout: float | None = 60.0, retry_timeout: float = 30.0,
                 connect_timeout: float = CONNECT_TIMEOUT, on_retry=None,
                 stream_timeout: float | None = STREAM_TIMEOUT):
        options, md, creds = channel_setup(token, tls)
        channel = grpc.aio.secure_channel(address, creds, options) if creds \
            else grpc.aio.insecure_channel(address, options)
        super().__init__(channel, stubs(channel), md, address, timeout=timeout,
                         retry_timeout=retry_timeout, connect_timeout=connect_timeout,
                         on_retry=on_retry, stream_timeout=stream_timeout)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def download(self, batch_id, offset=0, count=None, *, render="bare", chunk_codes=0,
                 batch=None) -> AsyncDownload:
        return AsyncDownload(self, batch_id, offset, count, render, chunk_codes, batch)

    # -- the I/O: verbs.py's operations, awaited ------------------------------------------------
    async def reach(self) -> None:
        """As Client.reach: Unreachable at once if the server does not answer."""
        if not self._reached:
            await self._finish(verbs.reach(self))
            self._reached = True

    async def _run(self, gen):
        await self.reach()
        return await self._finish(gen)

    async def _finish(self, gen):
        steps = verbs.Steps(gen)
        async for _ in self._steps(steps):
            raise TypeError("a verb that emits is iterated, not run")
        return steps.value

    async def _iterate(self, gen):
        await self.reach()
        async for value in self._steps(verbs.Steps(gen)):
            yield value

    async def _steps(self, steps):
        while (op := steps.next()) is not None:
            if isinstance(op, verbs.Emit):
                yield op.value
                continue
            try:
                steps.reply(await self._do(op))
            except grpc.RpcError as exc:
                steps.fail(exc)

    async def _do(self, op):
        if isinstance(op, verbs.Next):
            return await self._next(op.call, op.method)
        if isinstance(op, verbs.Pause):
            return await asyncio.sleep(op.seconds)
        call = self._method(op)(op.request, **self._options(op))
        return await call if isinstance(op, verbs.Call) else call

    async def _next(self, call, method: str):
        """The next reply, Stalled when it takes over stream_timeout (None: wait for ever)."""
        seconds = self.stream_timeout
        try:
            reply = await asyncio.wait_for(call.read(), seconds) if seconds else await call.read()
        except asyncio.TimeoutError:
            call.cancel()
            raise Stalled(self.address, method, seconds) from None
        return verbs.END if reply is grpc.aio.EOF else reply
