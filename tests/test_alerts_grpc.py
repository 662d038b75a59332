"""The gRPC Analytics service in a real `tracecode serve` process: ListAlerts (filters as
HTTP has them, paging) and CloseAlert through tracecode.v1.Client, rights (overseers only),
and `tracecode alerts --server` printing what `tracecode alerts DIR` prints (one code path,
two back ends)."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracecode.analytics.alerts import alert_id
from tracecode.v1 import Client, ServiceError
from tracecode.v1.testing import ServerProcess

from web_platform import Platform


def _alert(code: str, rule: str, day: int) -> dict:
    t = f"2026-01-{day:02d}T00:00:00.000000Z"
    return {"id": alert_id(rule, code, "all"), "rule": rule, "severity": "high", "subject": code,
            "code": code, "product": "p", "region": "110000", "first_time": t, "last_time": t,
            "window": "all", "evidence": {"regions": ["110000", "310000"], "n": day}, "status": "open"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("alerts-grpc")
    p = Platform(root, count=6)
    codes = [c[2:16] + c[18:] for c in p.gs1]   # bare, as the index keeps them
    alerts = [_alert(c, "diversion" if i % 2 else "clone_velocity", i + 1) for i, c in enumerate(codes)]
    p.svc.index.store.alerts_put(alerts)
    tokens = dict(p.tokens)
    p.close()
    with ServerProcess(root / "data", "--tokens", root / "clients.toml") as server:
        yield {"server": server, "tokens": tokens, "codes": codes, "alerts": alerts, "root": root}


def _client(world, who: str) -> Client:
    return Client(world["server"].address, token=world["tokens"][who])


def _cli(*args, token=None):
    env = None
    if token:
        import os
        env = {**os.environ, "TRACECODE_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "tracecode", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_list_alerts_filters_and_pages(world):
    with _client(world, "regulator") as c:
        page, token = c.alerts_page(limit=4)
        assert len(page) == 4 and token
        rest, end = c.alerts_page(limit=4, page_token=token)
        assert len(rest) == 2 and end is None
        got = page + rest
        assert [a["last_time"] for a in got] == sorted((a["last_time"] for a in world["alerts"]), reverse=True)
        assert {a["id"] for a in got} == {a["id"] for a in world["alerts"]}
        assert got[0]["evidence"] == {"regions": ["110000", "310000"], "n": 6}   # the JSON as stored
        div, _ = c.alerts_page(rule="diversion")
        assert {a["rule"] for a in div} == {"diversion"} and len(div) == 3
        one, _ = c.alerts_page(code=world["codes"][2])
        assert [a["code"] for a in one] == [world["codes"][2]]
        with pytest.raises(ServiceError) as e:
            c.alerts_page(limit=5000)
        assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and "limit" in str(e.value)
        with pytest.raises(ServiceError) as e:
            c.alerts_page(page_token="not-a-token!")
        assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and "page token" in str(e.value)


def test_close_alert_and_rights(world):
    target = world["alerts"][0]["id"]
    for who in ("scanner", "issuer"):
        with _client(world, who) as c:
            with pytest.raises(ServiceError) as e:
                c.alerts_page()
            assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(ServiceError) as e:
                c.close_alert(target, "no")
            assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
    with _client(world, "regulator") as c:
        assert c.close_alert(target, "a legitimate re-export") == {"id": target, "status": "closed",
                                                                   "closed_by": "inspector"}
        with pytest.raises(ServiceError) as e:
            c.close_alert(target)
        assert e.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(ServiceError) as e:
            c.close_alert("xyz")
        assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
        still_open, _ = c.alerts_page(open_only=True)
        assert target not in {a["id"] for a in still_open} and len(still_open) == 5
        (closed,) = [a for a in c.alerts_page()[0] if a["id"] == target]
        assert closed["status"] == "closed" and closed["note"] == "a legitimate re-export"


def test_cli_server_prints_what_the_local_cli_prints(world):
    token = world["tokens"]["admin"]
    remote = _cli("alerts", "--server", world["server"].address, "--rule", "diversion", "--limit", "2",
                  token=token)
    assert remote.returncode == 0, remote.stderr
    rows = [json.loads(line) for line in remote.stdout.splitlines()]
    assert len(rows) == 2 and all(r["rule"] == "diversion" for r in rows)
    everything = _cli("alerts", "--server", world["server"].address, token=token)
    assert everything.returncode == 0 and len(everything.stdout.splitlines()) == 6
    both = _cli("alerts", str(world["root"] / "data"), "--server", world["server"].address, token=token)
    assert both.returncode == 2 and "not both" in both.stderr
    # the local back end reads the same store (LMDB readers beside the server) and prints the same
    local = _cli("alerts", str(world["root"] / "data"), "--rule", "diversion", "--limit", "2")
    assert local.returncode == 0, local.stderr
    assert local.stdout == remote.stdout


def test_asyncio_client_pages_alike(world):
    from tracecode.v1 import AsyncClient

    async def run():
        async with AsyncClient(world["server"].address, token=world["tokens"]["admin"]) as c:
            first, token = await c.alerts_page(limit=3)
            rest, end = await c.alerts_page(limit=3, page_token=token)
            return first + rest, end
    got, end = asyncio.run(run())
    assert end is None and {a["id"] for a in got} == {a["id"] for a in world["alerts"]}


def test_http_pages_as_grpc_does(tmp_path):
    """GET /api/v1/alerts?page_token=: the same pages (application layer's page_alerts)."""
    import httpx

    from tracecode.web.app import create_app
    from web_platform import BASE_URL
    from web_server import serving
    p = Platform(tmp_path, count=5)
    try:
        p.svc.index.store.alerts_put([_alert(c[2:16] + c[18:], "diversion", i + 1) for i, c in enumerate(p.gs1)])
        with serving(create_app(p.svc, base_url=BASE_URL)) as url, httpx.Client(base_url=url, timeout=30) as client:
            seen, token = [], None
            for _ in range(3):
                r = client.get("/api/v1/alerts", params={"limit": "2", **({"page_token": token} if token else {})},
                               headers=p.auth("regulator"))
                assert r.status_code == 200, r.text
                seen += [a["last_time"] for a in r.json()["alerts"]]
                token = r.json()["next_page_token"]
            assert token is None and len(seen) == 5 and seen == sorted(seen, reverse=True)
            bad = client.get("/api/v1/alerts", params={"page_token": "%%%"}, headers=p.auth("regulator"))
            assert bad.status_code == 400 and "page_token" in bad.text
    finally:
        p.close()


@settings(max_examples=200, deadline=None)
@given(last=st.text(max_size=40), aid=st.text(min_size=1, max_size=40))
def test_a_page_token_reads_back_what_it_was_made_of(last, aid):
    from tracecode.app import alertsapp
    token = alertsapp._token({"last_time": last, "id": aid})
    if len(token) <= 200:
        assert alertsapp._after(token) == (last, aid)


@given(st.text(max_size=60))
def test_any_other_page_token_is_refused_as_invalid(text):
    from tracecode.app import alertsapp
    from tracecode.app.refusal import Refusal
    try:
        got = alertsapp._after(text)
    except Refusal as exc:
        assert exc.reason == "invalid_argument" and exc.field == "page_token"
    else:   # only a token's text reads as one: two strings, or none for ""
        assert got is None and text == "" or (isinstance(got, tuple) and len(got) == 2)
