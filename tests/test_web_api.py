"""The JSON API over real HTTP (uvicorn on a loopback port): codes, approvals, links (read by
anyone, set by an admin or the product's issuer), the OpenAPI document, CORS, the caller
from a bearer token, and the HTTP status of every refusal reason."""
from __future__ import annotations

import doctest
import importlib
import json
from urllib.parse import quote

import httpx
import pytest

from tracecode.app.caller import LOCAL, PUBLIC
from tracecode.app.refusal import REASONS, Refusal
from tracecode.web.app import create_app
from tracecode.web.settings import WebSettings
from tracecode.web.status import TABLE, http_status

from conftest import wait_until
from web_platform import BASE_URL, GTIN, OTHER_GTIN, Platform
from web_server import serving

PIP = {"link_type": "gs1:pip", "href": "https://brand.example.com/p", "lang": ["zh-CN"], "default": True}
LOOSE = WebSettings(per_address=100_000, per_address_burst=100_000, per_product=100_000,
                    per_product_burst=100_000)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("api"))
    app = create_app(p.svc, base_url=BASE_URL, settings=LOOSE)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield p, client
    p.close()


def committed(p, code, count):
    """Wait for the group commit of a code's scans (flush_scans returns at once while the
    scan log's writer thread is committing the same scans: wait for their count instead; an
    unrecorded verification counts itself too, hence the + 1)."""
    p.dd.index.store.flush_scans()
    wait_until(lambda: p.svc.verify(LOCAL, code, record=False).scan_count >= count + 1,
               what=f"{count} scans of {code} committed")


@pytest.mark.parametrize("name", ["settings", "status", "ratelimit", "headers", "openapi", "auth", "errors",
                                  "middleware", "resolver", "api", "app"])
def test_web_doctests(name):
    """tests/test_doctests.py walks the tracecode package (engine/); tracecode.web is mapped
    from web/, so its modules' examples are run here."""
    module = importlib.import_module(f"tracecode.web.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


# -- the status table --------------------------------------------------------------------------
def test_every_reason_has_an_http_status():
    assert TABLE.keys() == REASONS.keys()
    for reason in REASONS:
        status = http_status(Refusal(reason))
        assert 400 <= status < 600, reason
    assert http_status(Refusal("unreadable_scan")) == 400
    assert http_status(Refusal("unknown_approval")) == 404
    assert http_status(Refusal("permission_denied")) == 403
    assert http_status(Refusal("internal")) == 500


# -- the public caller in the application layer ------------------------------------------------
def test_public_caller_verifies_recorded_and_sees_labels_only(tmp_path):
    p = Platform(tmp_path, count=3)
    try:
        code = p.gs1[0]
        assert not PUBLIC.authenticated and not PUBLIC.operator and not PUBLIC.admin
        first = p.svc.verify(PUBLIC, code)
        committed(p, code, first.scan_count)
        second = p.svc.verify(PUBLIC, code)
        assert second.scan_count == first.scan_count + 1          # recorded: it counts
        with pytest.raises(Refusal) as exc:
            p.svc.verify(PUBLIC, code, record=False)              # the public cannot hide a query
        assert exc.value.reason == "permission_denied"
        seen = p.svc.batch_seen_by(PUBLIC, first.batch)
        assert seen.count == 0 and seen.start == 0                # no volumes, no counters
        assert seen.product == {"gtin": GTIN}
        assert p.svc.links(PUBLIC, f"01/{GTIN}") == []           # links are public
        with pytest.raises(Refusal) as exc:                       # no registry here, but admitted
            p.svc.lookup_approval(PUBLIC, "PD20180001")
        assert exc.value.reason in ("no_registry", "unknown_approval")
        for denied in (lambda: p.svc.set_links(PUBLIC, f"01/{GTIN}", [PIP]),
                       lambda: p.svc.issue(PUBLIC, "gs1-sgtin", {"gtin": GTIN}, 1, idempotency_key="k"),
                       lambda: p.svc.history(PUBLIC, code)):
            with pytest.raises(Refusal) as exc:
                denied()
            assert exc.value.reason == "permission_denied"
    finally:
        p.close()


# -- codes -------------------------------------------------------------------------------------
def test_code_answer_is_recorded_and_counted(site):
    p, client = site
    code = p.gs1[1]
    r1 = client.get(f"/api/v1/codes/{code}", params={"place": "广西南宁"})
    assert r1.status_code == 200, r1.text
    assert r1.headers["content-type"].startswith("application/json")
    assert r1.headers["cache-control"] == "no-store"
    a1 = r1.json()
    assert a1["verdict"] == "genuine" and a1["genuine"] is True and a1["found"] is True
    committed(p, code, a1["scan_count"])
    a2 = client.get(f"/api/v1/codes/{code}").json()
    assert a2["scan_count"] == a1["scan_count"] + 1
    assert a2["audience"] == "public"
    assert "batch" not in a2 and "history" not in a2


def test_code_answer_language(site):
    p, client = site
    zh = client.get(f"/api/v1/codes/{p.gs1[2]}").json()
    en = client.get(f"/api/v1/codes/{p.gs1[2]}", headers={"accept-language": "en-GB,en;q=0.9"}).json()
    forced = client.get(f"/api/v1/codes/{p.gs1[2]}?lang=en").json()
    assert zh["lang"] == "zh" and en["lang"] == "en" and forced["lang"] == "en"
    assert zh["verdict_text"] != en["verdict_text"]


def test_national_codes_and_payloads(site):
    p, client = site
    drug, vet, pesticide = (p.national[n][0] for n in ("cn-drug-20", "cn-vet-24", "cn-pesticide-32"))
    five = f"{vet},兽用阿莫西林可溶性粉,兽药字(2015)010012345,某某动物药业有限公司,0571-88888888"
    trace_url = f"http://www.icama.cn/trace?code={pesticide}"
    for scan, want in ((drug, drug), (vet, vet), (pesticide, pesticide), (five, vet), (trace_url, pesticide)):
        r = client.get("/api/v1/codes/" + quote(scan, safe=""))
        assert r.status_code == 200, (scan, r.text)
        assert r.json()["code"] == want and r.json()["verdict"] == "genuine", scan


def test_unreadable_and_unknown_codes(site):
    p, client = site
    r = client.get("/api/v1/codes/12345")
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["reason"] == "unreadable_scan" and err["field"] == "scan" and err["message"]
    guess = p.gs1[0][:-4] + ("0000" if not p.gs1[0].endswith("0000") else "1111")
    r = client.get(f"/api/v1/codes/{guess}")
    assert r.status_code == 200 and r.json()["verdict"] == "not_found"


def test_signed_in_callers_see_more(site):
    p, client = site
    public = client.get(f"/api/v1/codes/{p.gs1[3]}").json()
    owner = client.get(f"/api/v1/codes/{p.gs1[3]}", headers=p.auth("issuer")).json()
    assert public["audience"] == "public" and owner["audience"] == "whole"
    assert owner["caller"] == "brand" and public["caller"] is None


def test_bad_tokens_are_401_with_a_challenge(site):
    p, client = site
    for header in ("Bearer tc_not-a-token", "Basic dXNlcjpwYXNz", "Bearer"):
        r = client.get(f"/api/v1/codes/{p.gs1[0]}", headers={"authorization": header})
        assert r.status_code == 401, header
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["reason"] == "unauthenticated"
    r = client.get(f"/c/{p.gs1[0]}", headers={"authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")


def test_approvals_without_a_registry(site):
    _, client = site
    r = client.get("/api/v1/approvals/PD20180001")
    assert r.status_code == 501 and r.json()["error"]["reason"] == "no_registry"
    r = client.get("/api/v1/approvals/not-a-number")
    assert r.status_code == 400 and r.json()["error"]["field"] == "number"


# -- links ---------------------------------------------------------------------------------------
def test_links_read_by_anyone_set_by_owner_or_admin(site):
    p, client = site
    key = f"01/{GTIN[1:]}"            # a GTIN-13 spelling: canonical in the answer
    r = client.get(f"/api/v1/links/{key}")
    assert r.status_code == 200 and r.json()["key"] == f"01/{GTIN}"
    body = {"links": [PIP]}
    for who, status in ((None, 401), ("scanner", 403), ("regulator", 403), ("other_issuer", 403)):
        headers = p.auth(who) if who else {}
        r = client.put(f"/api/v1/links/{key}", json=body, headers=headers)
        assert r.status_code == status, (who, r.text)
        assert r.json()["error"]["reason"] == ("unauthenticated" if who is None else "permission_denied")
    assert "www-authenticate" in client.put(f"/api/v1/links/{key}", json=body).headers
    r = client.put(f"/api/v1/links/{key}", json=body, headers=p.auth("issuer"))
    assert r.status_code == 200, r.text
    assert r.json()["links"][0]["href"] == PIP["href"]
    assert client.get(f"/api/v1/links/01/{GTIN}").json()["links"][0]["href"] == PIP["href"]
    # the admin may set any product's; a bare list is accepted too; [] removes them
    r = client.put(f"/api/v1/links/01/{OTHER_GTIN}", json=[PIP], headers=p.auth("admin"))
    assert r.status_code == 200
    assert client.put(f"/api/v1/links/01/{OTHER_GTIN}", json=[], headers=p.auth("admin")).json()["links"] == []
    assert client.get(f"/api/v1/links/01/{OTHER_GTIN}").json()["links"] == []


def test_links_refusals(site):
    p, client = site
    admin = p.auth("admin")
    bad = {"links": [{"link_type": "gs1:pip", "href": "javascript:alert(1)"}]}
    r = client.put(f"/api/v1/links/01/{GTIN}", json=bad, headers=admin)
    assert r.status_code == 400 and r.json()["error"]["field"] == "links[0]"
    r = client.put(f"/api/v1/links/01/{GTIN}", json={"links": [{"link_type": "gs1:nothing",
                                                               "href": "https://x.example"}]}, headers=admin)
    assert r.status_code == 400
    r = client.put(f"/api/v1/links/01/{GTIN}", content=b"links", headers={**admin, "content-type": "text/plain"})
    assert r.status_code == 415
    r = client.put(f"/api/v1/links/01/{GTIN}", content=b"{not json",
                   headers={**admin, "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "body"
    r = client.put(f"/api/v1/links/01/{GTIN}", json={"nothing": 1}, headers=admin)
    assert r.status_code == 400 and r.json()["error"]["field"] == "links"
    r = client.get("/api/v1/links/01/09506000134353")                     # wrong check digit
    assert r.status_code == 400 and r.json()["error"]["field"] == "key"
    r = client.get("/api/v1/links/no-such-scheme/123")
    assert r.status_code == 404 and r.json()["error"]["reason"] == "unknown_scheme"
    r = client.delete(f"/api/v1/links/01/{GTIN}", headers=admin)
    assert r.status_code == 405 and r.json()["error"]["status"] == 405


def test_set_links_is_audited(site):
    p, client = site
    r = client.put(f"/api/v1/links/01/{GTIN}", json={"links": [PIP]}, headers=p.auth("issuer"))
    assert r.status_code == 200
    client.put(f"/api/v1/links/01/{GTIN}", json={"links": [PIP]}, headers=p.auth("scanner"))
    p.svc.audit.flush() if hasattr(p.svc.audit, "flush") else None
    lines = [json.loads(line) for line in (p.dd.path / "audit.log").read_text().splitlines() if line.strip()]
    events = [(e.get("event"), e.get("client")) for e in lines]
    assert ("set_links", "brand") in events
    assert any(ev == "denied" and who == "shop" for ev, who in events)


# -- the OpenAPI document, CORS, health --------------------------------------------------------
def test_openapi_document_is_valid_and_true(site):
    from openapi_spec_validator import validate

    from tracecode.web.answer import TONE
    p, client = site
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    validate(doc)
    assert doc["servers"][0]["url"] == BASE_URL
    verdicts = doc["components"]["schemas"]["Answer"]["properties"]["verdict"]["enum"]
    assert set(verdicts) == set(TONE)         # the answer's verdicts, as the page helper names them
    samples = {"{code}": p.gs1[4], "{number}": "PD20180001", "{key}": f"01/{GTIN}"}
    for path, ops in doc["paths"].items():
        url = path
        for name, value in samples.items():
            url = url.replace(name, value)
        for method in ops:
            r = client.request(method.upper(), url, json={"links": []} if method == "put" else None,
                               headers=p.auth("admin") if method == "put" else {})
            assert r.status_code not in (404, 405) or "{number}" in path, (method, path, r.status_code)
            assert str(r.status_code) in ops[method]["responses"] or r.status_code == 200, (method, path)


def test_cors_on_the_api_not_on_pages(site):
    p, client = site
    origin = {"origin": "https://app.example.org"}
    r = client.get(f"/api/v1/codes/{p.gs1[5]}", headers=origin)
    assert r.headers["access-control-allow-origin"] == "*"
    pre = client.options(f"/api/v1/links/01/{GTIN}", headers={**origin, "access-control-request-method": "PUT",
                                                             "access-control-request-headers": "authorization"})
    assert pre.status_code == 200
    assert "PUT" in pre.headers["access-control-allow-methods"]
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in client.get(f"/c/{p.gs1[5]}", headers=origin).headers


def test_healthz(site):
    _, client = site
    r = client.get("/healthz")
    assert r.status_code == 200 and r.text == "ok\n"
    assert client.head("/healthz").status_code == 200
