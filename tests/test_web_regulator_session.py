"""The regulator page's login cookie (web/regulator_session.py) on a real HTTP server: a
signed session value naming the client, never its bearer token; no credential of the API;
expiring; for /regulator only; revoked by logout (every session of the client); and a bad
cookie is charged to the address and audited as a wrong bearer header is."""
from __future__ import annotations

import httpx
import pytest

from tracecode.web import regulator_session as session
from tracecode.web.app import create_app

from web_platform import BASE_URL, Platform
from web_server import serving


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("regulator-session"), count=3)
    try:
        with serving(create_app(p.svc, base_url=BASE_URL)) as url, \
                httpx.Client(base_url=url, timeout=60) as client:
            yield {"p": p, "client": client, "url": url}
    finally:
        p.close()


def _login(site) -> str:
    r = site["client"].post("/regulator/login", data={"token": site["p"].tokens["regulator"]})
    assert r.status_code == 303
    return r.headers["set-cookie"].split(";")[0].partition("=")[2].strip('"')


def _page(site, value: str) -> httpx.Response:
    return site["client"].get("/regulator", headers={"cookie": f"tc_overseer={value}"})


def test_the_cookie_is_a_session_not_the_token(site):
    token = site["p"].tokens["regulator"]
    value = _login(site)
    assert token not in value and value.startswith("v1.")
    page = _page(site, value)
    assert page.status_code == 200 and "inspector" in page.text
    # no credential of the API, as a header or anywhere else
    api = site["client"].get("/api/v1/alerts", headers={"authorization": f"Bearer {value}"})
    assert api.status_code == 401


def test_forged_expired_other_path_and_other_client_sessions_are_refused(site):
    svc = site["p"].svc
    value = _login(site)
    version, payload, mac = value.split(".")
    flipped = "0" if mac[0] != "0" else "1"
    assert _page(site, f"{version}.{payload}.{flipped}{mac[1:]}").status_code == 401
    assert _page(site, session.issue(svc, "inspector", "/regulator", 3600, now=1e9)).status_code == 401
    assert _page(site, session.issue(svc, "inspector", "/api", 3600)).status_code == 401
    assert _page(site, session.issue(svc, "nobody", "/regulator", 3600)).status_code == 401
    assert _page(site, session.issue(svc, "inspector", "/regulator", 3600)).status_code == 200


def test_logout_revokes_every_session_of_the_client(site):
    c = site["client"]
    first, second = _login(site), _login(site)
    page = _page(site, first)
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    out = c.post("/regulator/logout", data={"csrf": csrf}, headers={"cookie": f"tc_overseer={first}"})
    assert out.status_code == 303
    assert _page(site, first).status_code == 401       # the stolen copy dies with it
    assert _page(site, second).status_code == 401      # and the client's other browsers
    again = _login(site)                               # a new login works
    assert _page(site, again).status_code == 200


def _audit_lines(p) -> int:
    path = p.dd.path / "audit.log"
    return path.read_text().count("\n") if path.exists() else 0


@pytest.mark.parametrize("how", ["header", "cookie"])
def test_300_wrong_cookies_reach_429_as_300_wrong_headers_do(site, how):
    p = site["p"]
    before = _audit_lines(p)
    with serving(create_app(p.svc, base_url=BASE_URL)) as url, httpx.Client(base_url=url, timeout=60) as c:
        statuses = []
        for k in range(300):
            sent = ({"authorization": f"Bearer tc_wrong{k}"} if how == "header"
                    else {"cookie": f"tc_overseer=v1.wrong{k}.00"})
            statuses.append(c.get("/regulator", headers=sent).status_code)
    assert statuses[0] == 401 and statuses[-1] == 429, statuses[:3]
    assert set(statuses) == {401, 429}
    assert _audit_lines(p) > before          # audited (bounded: a line a minute per address)
