"""A store that cannot be reached (engine/store/errors.py StoreUnavailable, whose text names
the PostgreSQL user, database, hosts and ports) is answered over HTTP (503) and gRPC
(UNAVAILABLE) with a generic sentence; the full text goes to the server's log only."""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from types import SimpleNamespace

import grpc
import httpx
import pytest

from tracecode.app.refusal import UNAVAILABLE_DETAIL
from tracecode.store.errors import StoreUnavailable
from tracecode.web.app import create_app

from web_platform import BASE_URL, Platform
from web_server import serving

SECRET = ("PostgreSQL at host=db-primary.internal,db-standby.internal port=5432,5433 "
          "user=tracecode_rw dbname=trace_prod unavailable after 20 s: connection refused")
LEAKS = ("db-primary", "tracecode_rw", "trace_prod", "5433")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("unavailable"), count=3)

    def away(*args, **kwargs):
        raise StoreUnavailable(SECRET)
    p.svc.verify = away
    try:
        yield p
    finally:
        p.close()


def test_http_503_names_no_server(platform, caplog):
    with caplog.at_level(logging.WARNING, logger="tracecode.serve"), \
            serving(create_app(platform.svc, base_url=BASE_URL)) as url, \
            httpx.Client(base_url=url, timeout=30) as c:
        r = c.get(f"/api/v1/codes/{platform.gs1[0]}", headers=platform.auth("scanner"))
    assert r.status_code == 503 and r.headers.get("retry-after")
    assert UNAVAILABLE_DETAIL in r.text
    assert not any(s in r.text or s in str(r.headers) for s in LEAKS), r.text
    assert any(SECRET in rec.getMessage() for rec in caplog.records)   # the operator's


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_grpc_unavailable_names_no_server(platform, caplog):
    from tracecode.v1 import verification_pb2, verification_pb2_grpc
    from tracecode.v1.server import start_grpc
    address = f"127.0.0.1:{_free_port()}"
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    handle = {}

    async def run():
        handle["h"] = await start_grpc(platform.svc, SimpleNamespace(tls_cert=None, keepalive=60.0),
                                       address)
        ready.set()
        handle["stop"] = asyncio.Event()
        await handle["stop"].wait()
        await handle["h"].stop(0)

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(30)
        with caplog.at_level(logging.WARNING, logger="tracecode.serve"), \
                grpc.insecure_channel(address) as channel:
            stub = verification_pb2_grpc.VerificationStub(channel)
            md = (("authorization", f"Bearer {platform.tokens['scanner']}"),)
            with pytest.raises(grpc.RpcError) as caught:
                stub.Verify(verification_pb2.VerifyRequest(scan=platform.gs1[0].encode()), metadata=md, timeout=30)
        err = caught.value
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        told = err.details() + repr(err.trailing_metadata())
        assert UNAVAILABLE_DETAIL in err.details()
        assert not any(s in told for s in LEAKS), told
        assert any(SECRET in rec.getMessage() for rec in caplog.records)
    finally:
        loop.call_soon_threadsafe(handle["stop"].set)
        thread.join(30)
        loop.close()
