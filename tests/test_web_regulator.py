"""The regulator's page (web/regulator.py) on a real HTTP server: generated data with planted
patterns (analytics.synth) exported to DIR/analytics-export, the rules run on DuckDB and
their alerts stored as `tracecode analyze` does; the page shows the planted alerts, the
public and other clients are refused (never the data), the figures are the report's,
the overview is computed once per export generation, and closing an alert through the
page's form works, is audited and needs the page's form token."""
from __future__ import annotations

import json
import re
import shutil

import httpx
import pytest

from tracecode.analytics import report, synth
from tracecode.analytics.engines import open_engine
from tracecode.analytics.run import overview, run_rules
from tracecode.app.alertsapp import store_alerts
from tracecode.app.caller import OPERATOR
from tracecode.web import regulator_data
from tracecode.web.app import create_app

from web_platform import BASE_URL, Platform
from web_server import serving


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("regulator")
    p = Platform(root, count=3)
    export = p.dd.path / regulator_data.EXPORT_DIR
    truth = synth.generate(export, n_codes=3_000, seed=5)
    engine = open_engine("duckdb", export)
    try:
        alerts, ov = run_rules(engine), overview(engine)
    finally:
        engine.close()
    store_alerts(p.svc, OPERATOR, alerts, rules=["all"])
    try:
        with serving(create_app(p.svc, base_url=BASE_URL)) as url, \
                httpx.Client(base_url=url, timeout=60) as client:
            yield {"p": p, "client": client, "truth": truth, "alerts": alerts, "ov": ov,
                   "export": export, "root": root, "app": client}
    finally:
        p.close()


def _get(site, path="/regulator", who="regulator", **params):
    return site["client"].get(path, params=params, headers=site["p"].auth(who) if who else {})


def _rows(html: str) -> list[tuple[str, str]]:
    """(rule, subject) of the page's alert rows."""
    return re.findall(r'<tr id="alert-[0-9a-f]{20}" data-rule="([a-z_]+)" data-subject="([^"]*)"', html)


def test_the_public_and_other_clients_never_see_the_data(site):
    c = site["client"]
    some = site["truth"]["diversion"]
    r = c.get("/regulator")
    assert r.status_code == 401 and "www-authenticate" in r.headers
    assert 'action="/regulator/login"' in r.text and not any(s in r.text for s in some)
    for path in ("/regulator", "/regulator/figures/by_day.png"):
        r = _get(site, path, who="scanner")
        assert r.status_code == 403 and not any(s in r.text for s in some), path
    assert c.get("/regulator/figures/by_day.png").status_code == 401
    aid = site["alerts"][0]["id"]
    assert c.post(f"/regulator/alerts/{aid}/close", data={"note": "x"}).status_code == 401
    assert _get(site, "/regulator", who=None, since="x").status_code == 401   # no filter read first
    bad = c.post("/regulator/login", data={"token": "tc_not-a-token"})
    assert bad.status_code == 401 and "set-cookie" not in bad.headers
    scanner = site["p"].tokens["scanner"]
    assert c.post("/regulator/login", data={"token": scanner}).status_code == 403
    # a forged cookie is the public
    r = c.get("/regulator", headers={"cookie": "tc_overseer=tc_forged"})
    assert r.status_code == 401 and not any(s in r.text for s in some)


def test_the_page_shows_the_planted_alerts_with_their_evidence(site):
    truth = site["truth"]
    for rule in ("clone_velocity", "clone_spread", "diversion", "recall_reach"):
        r = _get(site, rule=rule)
        assert r.status_code == 200, r.text[:300]
        shown = {s for rr, s in _rows(r.text)}
        assert {rr for rr, _ in _rows(r.text)} == {rule}
        assert set(truth[rule]) <= shown, rule
    r = _get(site, rule="probing")
    assert {s for s, _t in truth["probing"]} <= {s for _r, s in _rows(r.text)}
    # the evidence as the report writes it (sorted JSON, HTML-escaped)
    a = next(a for a in site["alerts"] if a["subject"] == sorted(truth["diversion"])[0])
    assert json.dumps(a["evidence"], ensure_ascii=False, sort_keys=True).replace('"', "&#34;") \
        in _get(site, rule="diversion").text
    page = _get(site).text
    scans = sum(x["scans"] for x in site["ov"]["by_day"])
    assert f'id="n-scans">{scans:,}</strong>' in page and 'id="freshness"' in page
    assert "监管概览" in page and "Flows between regions" in _get(site, lang="en").text   # zh by default
    assert 'id="flows"' in page and "<img" in page and "g=" in page


def test_filters_narrow_and_bad_values_are_refused(site):
    everything = _get(site).text
    total = int(re.search(r'id="n-scans">([\d,]+)', everything).group(1).replace(",", ""))
    drugs = _get(site, category="drugs").text
    n_drugs = int(re.search(r'id="n-scans">([\d,]+)', drugs).group(1).replace(",", ""))
    assert 0 < n_drugs < total        # the unknown scans name no scheme
    none = _get(site, category="hazardous").text
    assert 'id="n-scans">0<' in none and not _rows(none)
    # a region: the alerts and scans of it and of the regions inside it
    region = next(a["region"] for a in site["alerts"] if a["rule"] == "diversion" and a["region"])
    shown = _get(site, region=region[:2] + "0000").text
    rows = _rows(shown)
    assert rows and all(a["region"].startswith(region[:2])
                        for a in site["alerts"] for rr, s in rows
                        if a["subject"] == s and a["rule"] == rr and a["status"] == "open")
    late = _get(site, since="2026-12-31").text
    assert 'id="n-scans">0<' in late and not _rows(late)
    for name, value in (("since", "31/12/2026"), ("rule", "telepathy"), ("region", "999999"),
                        ("category", "toys")):
        r = _get(site, **{name: value})
        assert r.status_code == 400 and name in r.text, name


def test_the_figures_are_the_reports_and_cached_per_generation(site, monkeypatch, tmp_path):
    r = _get(site, "/regulator/figures/by_day.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    written = report.write(tmp_path / "rep", site["alerts"], site["ov"],
                           {"source": "x", "engine": "duckdb", "rules": ["all"]})
    assert r.content == (written / "by_day.png").read_bytes()   # the same function, the same bytes
    assert _get(site, "/regulator/figures/nosuch.png").status_code == 404
    calls = []
    real = report.filtered_overview
    monkeypatch.setattr(report, "filtered_overview", lambda *a, **k: calls.append(k) or real(*a, **k))
    for _ in range(3):
        assert _get(site, since="2026-01-15").status_code == 200
        assert _get(site, "/regulator/figures/flows.png", since="2026-01-15").status_code == 200
    assert len(calls) == 1            # one overview for the page and its figures, until the export changes
    day = sorted((site["export"] / "scans").iterdir())[-1]
    extra = next(day.glob("*.parquet"))
    copy = day / ("part-999999998-999999999.parquet")
    shutil.copy(extra, copy)          # a later export run: a new generation
    try:
        assert _get(site, since="2026-01-15").status_code == 200
        assert len(calls) == 2
    finally:
        copy.unlink()


def _login(site) -> str:
    r = site["client"].post("/regulator/login", data={"token": site["p"].tokens["regulator"]})
    assert r.status_code == 303 and r.headers["location"] == "/regulator"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/regulator" in cookie
    assert "Secure" in cookie          # an https platform
    return cookie.split(";")[0]


def test_closing_an_alert_through_the_page_is_audited(site):
    c, store = site["client"], site["p"].svc.index.store
    cookie = {"cookie": _login(site)}
    page = c.get("/regulator", params={"rule": "clone_velocity"}, headers=cookie)
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([0-9a-f]{32})"', page.text).group(1)
    subject = sorted(site["truth"]["clone_velocity"])[0]
    (alert,) = [a for a in store.alerts_find(rule="clone_velocity", open_only=True) if a["subject"] == subject]
    path = f"/regulator/alerts/{alert['id']}/close"
    form = {"csrf": csrf, "note": "two shops, one label: checked", "back": "rule=clone_velocity&evil=1"}
    # without the page's token, or from another site: refused, the alert stays open
    assert c.post(path, data={**form, "csrf": "0" * 32}, headers=cookie).status_code == 403
    assert c.post(path, data=form, headers={**cookie, "origin": "https://evil.example"}).status_code == 403
    assert c.post(path, data=form, headers={**cookie, "sec-fetch-site": "cross-site"}).status_code == 403
    assert store.alerts_find(rule="clone_velocity", open_only=True).count(alert) == 1
    done = c.post(path, data=form, headers={**cookie, "origin": BASE_URL})
    assert done.status_code == 303
    assert done.headers["location"] == f"/regulator?rule=clone_velocity&done={alert['id']}"
    after = c.get(done.headers["location"], headers=cookie).text
    assert f'id="closed" data-id="{alert["id"]}"' in after and subject not in {s for _r, s in _rows(after)}
    (closed,) = [a for a in store.alerts_find(rule="clone_velocity") if a["id"] == alert["id"]]
    assert closed["status"] == "closed" and closed["closed_by"] == "inspector"
    log = [json.loads(x) for x in (site["p"].dd.path / "audit.log").read_text().splitlines() if x.strip()]
    mine = [x for x in log if "alert_closed" in json.dumps(x) and alert["id"] in json.dumps(x)]
    assert len(mine) == 1 and "HTTP RegulatorClose" in json.dumps(mine[0])
    assert "inspector" in json.dumps(mine[0])
    assert c.post(path, data=form, headers=cookie).status_code == 404     # closed already
    # signing out clears the cookie
    out = c.post("/regulator/logout", data={"csrf": csrf}, headers=cookie)
    assert out.status_code == 303 and 'tc_overseer=""' in out.headers["set-cookie"]


def test_without_an_export_the_page_says_which_command_to_run(tmp_path):
    p = Platform(tmp_path, count=3)
    try:
        with serving(create_app(p.svc, base_url=BASE_URL)) as url:
            r = httpx.get(url + "/regulator", headers=p.auth("admin"), timeout=60)
            assert r.status_code == 200 and 'id="no-export"' in r.text
            assert "tracecode analyze DIR --out REPORT" in r.text and 'id="no-alerts"' in r.text
            assert httpx.get(url + "/regulator/figures/by_day.png", headers=p.auth("admin"),
                             timeout=60).status_code == 404
    finally:
        p.close()


def test_any_filter_text_is_answered_or_refused_never_a_fault(site):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.dictionaries(st.sampled_from(["since", "rule", "region", "category", "closed"]), text))
    def check(params):
        r = _get(site, **params)
        assert r.status_code in (200, 400), (params, r.status_code)
        assert "Traceback" not in r.text

    check()
