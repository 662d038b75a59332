"""Alerts stored (idempotent by id, closing kept), `tracecode analyze` / `tracecode alerts`,
and open clone/diversion alerts fed back into verification (real data directory, LMDB)."""
from __future__ import annotations

import json

import pytest

import tracecode
from tracecode.analytics import synth
from tracecode.analytics.alerts import alert_id
from tracecode.app.local import LocalClient
from tracecode.cli import main
from tracecode.index.verdicts import Verdict

DRUG = {"drug_id": "8177322"}


def _alert(code, rule="clone_velocity", **kw):
    a = {"id": alert_id(rule, code, "2026-01-21"), "rule": rule, "severity": "high",
         "subject": code, "code": code, "product": "8177322", "region": "310000",
         "first_time": "2026-01-21T00:00:00.000000Z", "last_time": "2026-01-21T00:30:00.000000Z",
         "window": "2026-01-21", "evidence": {"max_km": 3268}, "status": "open"}
    a.update(kw)
    return a


@pytest.fixture
def commissioned(tmp_path):
    d = tmp_path / "data"
    tracecode.init(d).close()
    with LocalClient(tracecode.open(d)) as c:
        codes = [x.decode() for x in next(iter(c.request_codes("cn-drug-20", DRUG, 5)))]
        assert c.apply_events([{"id": "e", "action": "commission", "codes": codes}])[0]["ok"]
    return d, codes


def test_alerts_are_stored_once_and_closing_is_kept(commissioned):
    d, codes = commissioned
    with LocalClient(tracecode.open(d)) as c:
        store = c.svc.index.store
        assert store.alerts_version() == 0
        assert store.alerts_put([_alert(codes[0]), _alert(codes[1], rule="diversion")]) == [True, True]
        assert store.alerts_version() == 1
        assert store.alerts_put([_alert(codes[0], last_time="2026-01-22T00:00:00.000000Z")]) == [False]
        assert len(store.alerts_find()) == 2
        (a,) = store.alerts_find(code=codes[0])
        assert a["last_time"].startswith("2026-01-22")
        assert store.alert_close(a["id"], by="regulator-3", note="checked: two pharmacies, one label")
        assert not store.alert_close(a["id"], by="x")
        store.alerts_put([_alert(codes[0])])   # the next analysis finds it again: stays closed
        (a,) = store.alerts_find(code=codes[0])
        assert a["status"] == "closed" and a["closed_by"] == "regulator-3"
        assert [x["rule"] for x in store.alerts_find(open_only=True)] == ["diversion"]
        with pytest.raises(ValueError):
            store.alerts_put([{"rule": "x"}])


def test_an_open_clone_or_diversion_alert_answers_suspicious(commissioned):
    d, codes = commissioned
    with LocalClient(tracecode.open(d)) as c:
        assert c.verify(codes[0], record=False).verdict == Verdict.GENUINE
        store = c.svc.index.store
        store.alerts_put([_alert(codes[0]), _alert(codes[1], rule="diversion"),
                          _alert(codes[2], rule="probing")])   # probing: not fed back
        c.svc.alert_feed.ttl = 0
        ans = c.verify(codes[0], record=False)
        assert ans.verdict == Verdict.SUSPICIOUS
        assert any("open clone_velocity alert" in r for r in ans.reasons)
        batch = c.verify_many(codes, record=False)
        assert list(batch.verdicts) == [Verdict.SUSPICIOUS, Verdict.SUSPICIOUS, Verdict.GENUINE,
                                        Verdict.GENUINE, Verdict.GENUINE]
        assert batch[1].reasons[-1].startswith("open diversion alert ")
        store.alert_close(_alert(codes[0])["id"], by="regulator")
        assert c.verify(codes[0], record=False).verdict == Verdict.GENUINE


def test_analyze_stores_alerts_and_writes_the_report(tmp_path, capsys):
    d = tmp_path / "data"
    tracecode.init(d).close()
    synth.generate(tmp_path / "export", n_codes=3_000, seed=5)
    args = ["analyze", str(d), "--parquet", str(tmp_path / "export"), "--out", str(tmp_path / "rep")]
    assert main(args) == 0
    first = capsys.readouterr()
    assert main(args) == 0   # the same findings again: nothing new
    assert "(0 new)" in capsys.readouterr().err
    assert main(["alerts", str(d), "--rule", "diversion", "--open"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {r["subject"] for r in rows} >= {f"DIVERT{i:05d}" for i in range(10)}
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Top alerts" in md and "DIVERT" in md and "by_region.png" in md
    assert (tmp_path / "rep" / "by_day.png").stat().st_size > 1000
    assert "<table>" in (tmp_path / "rep" / "report.html").read_text()
    assert "new" in first.err
    assert main(["alerts", str(d), "--close", rows[0]["id"], "--note", "seen"]) == 0
    assert main(["alerts", str(d), "--close", rows[0]["id"]]) != 0


def test_analyze_refuses_an_unknown_rule_or_parameter(tmp_path, capsys):
    d = tmp_path / "data"
    tracecode.init(d).close()
    assert main(["analyze", str(d), "--parquet", str(tmp_path), "--out", str(tmp_path / "r"),
                 "--rules", "telepathy"]) != 0
    assert "unknown rule 'telepathy'" in capsys.readouterr().err
    assert main(["analyze", str(d), "--parquet", str(tmp_path), "--out", str(tmp_path / "r"),
                 "--param", "max_kmh=3"]) != 0
    assert "RULE.NAME=VALUE" in capsys.readouterr().err
    assert main(["analyze", str(d), "--parquet", str(tmp_path), "--out", str(tmp_path / "r"),
                 "--memory-limit", "2GB; DROP"]) != 0
    assert "write e.g. 2GB" in capsys.readouterr().err


def test_alerts_over_http_for_regulators_only(tmp_path):
    import httpx

    from tracecode.web.app import create_app
    from web_platform import BASE_URL, Platform
    from web_server import serving
    p = Platform(tmp_path, count=3)
    code = p.national["cn-drug-20"][0]
    p.svc.index.store.alerts_put([_alert(code, rule="diversion")])
    p.svc.alert_feed.ttl = 0
    try:
        with serving(create_app(p.svc, base_url=BASE_URL)) as url, \
                httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/api/v1/alerts").status_code in (401, 403)
            assert client.get("/api/v1/alerts", headers=p.auth("scanner")).status_code == 403
            r = client.get("/api/v1/alerts", params={"open": "1", "code": code},
                           headers=p.auth("regulator"))
            assert r.status_code == 200 and [a["code"] for a in r.json()["alerts"]] == [code]
            assert client.get("/api/v1/alerts", params={"limit": "x"},
                              headers=p.auth("regulator")).status_code == 400
            # the public answer of that code now says SUSPICIOUS
            assert client.get(f"/api/v1/codes/{code}").json()["verdict"].lower() == "suspicious"
            aid = r.json()["alerts"][0]["id"]
            done = client.post(f"/api/v1/alerts/{aid}/close", json={"note": "legit re-export"},
                               headers=p.auth("regulator"))
            assert done.status_code == 200 and done.json()["closed_by"] == "inspector"
            again = client.post(f"/api/v1/alerts/{aid}/close", headers=p.auth("regulator"))
            assert again.status_code == 404
            assert client.get(f"/api/v1/codes/{code}").json()["verdict"].lower() == "genuine"
    finally:
        p.close()


def test_the_feed_reads_only_the_open_codes_once_for_all_rules(commissioned, monkeypatch):
    from tracecode.app.alertfeed import AlertFeed
    d, codes = commissioned
    with LocalClient(tracecode.open(d)) as c:
        store = c.svc.index.store
        store.alerts_put([_alert(codes[0]), _alert(codes[1], rule="diversion"),
                          _alert(codes[2], rule="probing")])
        reads = []
        monkeypatch.setattr(store, "alerts_find", lambda *a, **k: reads.append(k) or [])
        real = store.alerts_open_codes
        monkeypatch.setattr(store, "alerts_open_codes", lambda rules: reads.append(rules) or real(rules))
        feed = AlertFeed(store, ttl=0)
        feed._refresh()
        assert len(reads) == 1 and set(reads[0]) >= {"clone_velocity", "diversion"}   # one read, no find
        assert sorted(feed._codes) == sorted(x.encode() for x in codes[:2])


def test_analyze_refuses_bad_parameters_before_any_work(tmp_path, capsys):
    d = tmp_path / "data"
    tracecode.init(d).close()
    base = ["analyze", str(d), "--parquet", str(tmp_path), "--out", str(tmp_path / "r")]
    for param, says in (("nosuch.x=1", "unknown rule 'nosuch'"),
                        ("probing.window_minutes=0", "rule probing: window_minutes is 1 to 10080"),
                        ("diversion.digits=7", "rule diversion: digits is one of 2, 4, 6"),
                        ("probing.nosuch=1", "rule probing has no parameter 'nosuch'")):
        assert main([*base, "--param", param]) != 0
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err


def test_a_failing_rule_is_reported_while_the_others_store_their_alerts(tmp_path, capsys,
                                                                        monkeypatch):
    from tracecode.analytics.engines.duckdb_engine import DuckDBEngine
    from tracecode.analytics.errors import AnalyticsError
    d = tmp_path / "data"
    tracecode.init(d).close()
    synth.generate(tmp_path / "export", n_codes=3_000, seed=5)
    rows = DuckDBEngine.rows

    def failing(self, sql):
        if "slaughter" in sql:
            raise AnalyticsError("DuckDB: broken on purpose")
        return rows(self, sql)
    monkeypatch.setattr(DuckDBEngine, "rows", failing)
    assert main(["analyze", str(d), "--parquet", str(tmp_path / "export"),
                 "--out", str(tmp_path / "rep")]) == 1
    assert "rule impossible failed: DuckDB: broken on purpose" in capsys.readouterr().err
    assert main(["alerts", str(d), "--rule", "diversion"]) == 0
    assert capsys.readouterr().out.count("DIVERT") >= 10
    assert "failed: impossible" in (tmp_path / "rep" / "report.md").read_text()


def test_storing_and_closing_from_the_cli_go_through_the_service_and_are_audited(tmp_path, capsys):
    import getpass
    d = tmp_path / "data"
    tracecode.init(d).close()
    synth.generate(tmp_path / "export", n_codes=3_000, seed=5)
    assert main(["analyze", str(d), "--parquet", str(tmp_path / "export"), "--out",
                 str(tmp_path / "rep"), "--rules", "diversion"]) == 0
    assert main(["alerts", str(d), "--rule", "diversion", "--open", "--limit", "1"]) == 0
    (a,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert main(["alerts", str(d), "--close", a["id"], "--note", "checked the shop"]) == 0
    assert main(["alerts", str(d), "--close", a["id"]]) != 0   # closed already: refused
    log = (d / "audit.log").read_text()
    stored = [json.loads(x) for x in log.splitlines() if "alerts_stored" in x]
    closed = [json.loads(x) for x in log.splitlines() if "alert_closed" in x]
    assert len(stored) == 1 and len(closed) == 1
    assert a["id"] in log and "checked the shop" in log and getpass.getuser() in log
