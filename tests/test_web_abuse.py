"""The public window as an enumeration target, over real HTTP: rate limits per address and per
product (429 with an honest Retry-After), a person's pace passes while a script's stops,
bounded memory under many addresses, the trusted-proxy rule, size refusals (414, 413),
security headers on every kind of answer, no stack trace ever, and a guessed code answered
like any unknown one, revealing nothing about its neighbours."""
from __future__ import annotations

import statistics
import time
import tracemalloc
from urllib.parse import quote

import httpx
import pytest

from tracecode.errors import ValidationError
from tracecode.web.app import create_app
from tracecode.web.headers import CSP
from tracecode.web.ratelimit import Buckets, Limiter, RateLimited
from tracecode.web.settings import WebSettings

from web_platform import BASE_URL, GTIN, Platform
from web_server import serving

LOOSE = dict(per_address=100_000, per_address_burst=100_000, per_product=100_000, per_product_burst=100_000)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("abuse"), count=40)
    yield p
    p.close()


def client_from(url: str, address: str) -> httpx.Client:
    """A client whose connections come from `address` (any of 127.0.0.0/8 on Linux)."""
    return httpx.Client(base_url=url, timeout=30, transport=httpx.HTTPTransport(local_address=address))


# -- the buckets on a clock of their own -------------------------------------------------------
def test_a_persons_pace_passes_and_a_scripts_stops():
    b = Buckets(per_minute=60, burst=20, max_tracked=1000)
    # a person: a query every 3 s for an hour, with a bag of 15 packs checked at once twice
    t, refused = 0.0, 0
    for k in range(1200):
        refused += b.take("person", now=t) > 0
        t += 3.0
        if k in (100, 700):
            refused += sum(b.take("person", now=t) > 0 for _ in range(15))
    assert refused == 0
    # a script: 20 queries a second for a minute gets its burst, then one a second
    t, answered = 0.0, 0
    for _ in range(20 * 60):
        answered += b.take("script", now=t) == 0
        t += 0.05
    assert 20 + 55 <= answered <= 20 + 61


def test_retry_after_is_when_a_token_is_back():
    b = Buckets(per_minute=30, burst=1, max_tracked=10)     # one every 2 s
    assert b.take("a", now=0.0) == 0
    wait = b.take("a", now=0.5)
    assert wait == pytest.approx(1.5)
    assert b.take("a", now=0.5 + wait - 0.01) > 0
    assert b.take("a", now=0.5 + wait) == 0


def test_memory_is_bounded_under_many_addresses():
    limiter = Limiter(WebSettings(max_tracked=5000, per_network=0))
    tracemalloc.start()
    for i in range(5000):
        limiter.address(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    base = tracemalloc.get_traced_memory()[0]
    for i in range(5000, 205_000):         # an enumeration from 200,000 addresses
        limiter.address(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(limiter.addresses) <= 5000
    assert grown < 256 * 1024, grown        # a table of the same size, not 40x more


def test_idle_buckets_are_forgotten():
    b = Buckets(per_minute=60, burst=5, max_tracked=100)
    for i in range(50):
        b.take(i, now=0.0)
    b.take("late", now=10.0)                # 5 s refill them all: the 50 are gone
    assert len(b) == 1


def test_ipv6_addresses_count_per_prefix():
    limiter = Limiter(WebSettings(per_address=60, per_address_burst=2))
    limiter.address("2001:db8:1:2::1")
    limiter.address("2001:db8:1:2:ffff::9")
    with pytest.raises(Exception) as exc:
        limiter.address("2001:db8:1:2::abcd")          # the same /64
    assert exc.value.retry_after >= 1
    limiter.address("2001:db8:1:3::1")                 # another subscriber
    assert limiter.address_key("::ffff:192.0.2.7") == "192.0.2.7"


def test_a_network_cannot_lift_the_limit_by_cycling_addresses():
    limiter = Limiter(WebSettings(per_address=60, per_address_burst=2, per_network=600, per_network_burst=50))
    # a /48 holder: a fresh /64 for every query; its /48 stops it after the network's burst
    statuses = []
    for i in range(80):
        try:
            limiter.address(f"2001:db8:7:{i:x}::1")
            statuses.append(200)
        except RateLimited as exc:
            statuses.append(429)
            assert "network" in str(exc)
    assert statuses.count(200) == 50 and statuses[50:] == [429] * 30
    limiter.address("2001:db8:8::1")                   # the next /48 is another site
    # IPv4 the same over a /24
    for i in range(50):
        limiter.address(f"198.51.100.{i}")
    with pytest.raises(RateLimited, match="network"):
        limiter.address("198.51.100.200")
    limiter.address("198.51.101.1")


# -- over HTTP ---------------------------------------------------------------------------------------
def test_429_with_retry_after_past_the_limit(platform):
    # one query in 5 s past a burst of 5: a loaded machine's slow requests get no refill mid-test
    settings = WebSettings(per_address=12, per_address_burst=5, **{k: v for k, v in LOOSE.items()
                                                                  if k.startswith("per_product")})
    with serving(create_app(platform.svc, base_url=BASE_URL, settings=settings), host="127.0.0.1") as url:
        with client_from(url, "127.0.0.1") as script, client_from(url, "127.0.0.2") as person:
            codes = [f"/api/v1/codes/{c}" for c in platform.gs1]
            statuses = [script.get(codes[i % 5]).status_code for i in range(12)]
            assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
            r = script.get(codes[0])
            assert r.status_code == 429
            assert 1 <= int(r.headers["retry-after"]) <= 5
            err = r.json()["error"]
            assert err["reason"] == "rate_limited" and err["retry_after"] == int(r.headers["retry-after"])
            page = script.get(f"/c/{platform.gs1[0]}", headers={"accept": "text/html"})
            assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
            assert "retry-after" in page.headers and page.headers["content-security-policy"] == CSP
            dl = script.get(f"/01/{GTIN}?linkType=linkset")
            assert dl.status_code == 429                    # the resolver counts too
            assert script.get("/healthz").status_code == 200        # not a query
            assert person.get(codes[0]).status_code == 200         # another address is not affected
            time.sleep(int(r.headers["retry-after"]) + 0.05)
            assert script.get(codes[0]).status_code == 200         # Retry-After was honest
            # a signed-in client is a known one: not rate-limited here
            assert all(script.get(codes[1], headers=platform.auth("scanner")).status_code == 200
                       for _ in range(10))


def test_per_product_limit_across_addresses(platform):
    settings = WebSettings(per_address=100_000, per_address_burst=100_000, per_product=6, per_product_burst=4,
                           per_network=0, forwarded_header="x-forwarded-for")
    with serving(create_app(platform.svc, base_url=BASE_URL, settings=settings)) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        def ask(code, k, page=False):
            path = f"/c/{code}" if page else f"/api/v1/codes/{code}"
            return client.get(path, headers={"x-forwarded-for": f"198.51.100.{k}"}).status_code
        # genuine answers take no token: a real code repeated from many addresses drains nothing
        assert [ask(platform.gs1[0], k) for k in range(12)] == [200] * 12
        # guesses at one product's serials, from many addresses: four, then the product is refused
        guesses = [platform.gs1[0][:-6] + f"{k:06d}" for k in range(7)]
        assert [ask(g, 20 + k) for k, g in enumerate(guesses)] == [200] * 4 + [429] * 3
        assert ask(platform.gs1[5], 30) == 429                     # genuine too: 429 is no oracle
        assert ask(platform.gs1[6], 31, page=True) == 429          # the page counts the same product
        # another product, guessed at or not, is not affected: the product is the one the code names
        assert ask(platform.other_gs1[0], 32) == 200
        assert ask(platform.other_gs1[0][:-6] + "000001", 33) == 200
        drug = platform.national["cn-drug-20"]
        assert ask(drug[0], 34) == 200


def test_forwarded_addresses_only_from_trusted_proxies(platform):
    settings = WebSettings(per_address=6, per_address_burst=2, per_product=100_000, per_product_burst=100_000,
                           per_network=0, forwarded_header="x-forwarded-for", trusted_proxies=("127.0.0.1",),
                           max_tracked=50)
    app = create_app(platform.svc, base_url=BASE_URL, settings=settings)
    with serving(app) as url:
        with client_from(url, "127.0.0.1") as proxy, client_from(url, "127.0.0.3") as direct:
            code = f"/api/v1/codes/{platform.gs1[7]}"
            # through the proxy: each forwarded client has its own bucket (the last hop counts)
            for k in range(300):
                r = proxy.get(code, headers={"x-forwarded-for": f"203.0.113.9, 192.0.2.{k % 250}"})
                assert r.status_code == 200 or k >= 250, k
            assert len(app.state.limiter.addresses) <= 50              # bounded, many addresses later
            # a client that is not the proxy cannot pick its address with the header
            statuses = [direct.get(code, headers={"x-forwarded-for": f"192.0.2.{k}"}).status_code
                        for k in range(4)]
            assert statuses == [200, 200, 429, 429]


@pytest.fixture(scope="module")
def site(platform):
    with serving(create_app(platform.svc, base_url=BASE_URL, settings=WebSettings(**LOOSE))) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        yield platform, client


def test_too_long_urls_and_too_large_bodies(site):
    p, client = site
    r = client.get("/c/" + "1" * 5000)
    assert r.status_code == 414 and r.headers["content-security-policy"] == CSP
    r = client.get("/api/v1/codes/" + "1" * 5000)
    assert r.status_code == 414 and r.json()["error"]["reason"] == "uri_too_long"
    big = b'{"links": [' + b'{"link_type": "gs1:pip", "href": "https://x.example/"},' * 2000 + b"{}]}"
    r = client.put(f"/api/v1/links/01/{GTIN}", content=big,
                   headers={**p.auth("admin"), "content-type": "application/json"})
    assert r.status_code == 413
    # without a Content-Length (chunked): refused while it is read

    def chunks():
        for _ in range(200):
            yield b" " * 1024
    r = client.put(f"/api/v1/links/01/{GTIN}", content=chunks(),
                   headers={**p.auth("admin"), "content-type": "application/json"})
    assert r.status_code == 413
    # a scan within the URL bound but over the scan bound is the engine's refusal, readable
    r = client.get("/api/v1/codes/" + quote("码" * 1400, safe=""))
    assert r.status_code in (400, 414)
    assert r.json()["error"]["reason"] in ("unreadable_scan", "uri_too_long")


def test_security_headers_on_every_kind_of_answer(site):
    p, client = site
    answers = [client.get("/"), client.get(f"/c/{p.gs1[8]}"), client.get(f"/api/v1/codes/{p.gs1[8]}"),
               client.get("/nothing"), client.get("/c/123"), client.get("/api/v1/codes/123"),
               client.get("/01/123"), client.get(f"/01/{GTIN}?linkType=linkset"),
               client.get(f"/01/{GTIN}", headers={"accept": "*/*"}), client.get("/healthz"),
               client.get("/api/v1/openapi.json"), client.get("/.well-known/gs1resolver"),
               client.delete("/api/v1/codes/1"), client.get("/c/" + "1" * 5000),
               client.get("/api/v1/codes/1", headers={"authorization": "Bearer nope"}),
               client.get("/static/site.css")]
    for r in answers:
        h = r.headers
        assert h["content-security-policy"] == CSP, r.url
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY", r.url
        assert h["referrer-policy"] == "no-referrer", r.url
        assert h["strict-transport-security"].startswith("max-age="), r.url   # the base URL is https
        assert "server" not in h or "uvicorn" not in h["server"].lower(), r.url
        assert "Traceback" not in r.text


def test_no_stack_trace_on_an_internal_error(platform, monkeypatch):
    app = create_app(platform.svc, base_url=BASE_URL, settings=WebSettings(**LOOSE))

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals at /srv/tracecode/index.lmdb")
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        monkeypatch.setattr(platform.svc, "verify", broken)
        monkeypatch.setattr(platform.svc, "links", broken)
        for path, kind in ((f"/api/v1/codes/{platform.gs1[9]}", "application/json"),
                           (f"/c/{platform.gs1[9]}", "text/html"),
                           (f"/01/{GTIN}?linkType=linkset", "application/json")):
            r = client.get(path)
            assert r.status_code == 500, path
            assert r.headers["content-type"].startswith(kind) or kind == "application/json", path
            assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
            assert r.headers["content-security-policy"] == CSP
        # even the error page failing gives a page, not a trace
        import tracecode.web.pages as pages
        monkeypatch.setattr(pages, "error_page", broken)
        r = client.get(f"/c/{platform.gs1[9]}")
        assert r.status_code == 500 and "<h1>500" in r.text and "secret" not in r.text


# -- guessed codes ---------------------------------------------------------------------------
def _guess(code: str, k: int) -> str:
    return code[:-6] + f"{(int(code[-6:]) + 1 + k) % 10**6:06d}"


def test_a_guessed_code_reveals_nothing_about_its_neighbours(site):
    p, client = site
    real = client.get(f"/api/v1/codes/{p.gs1[10]}").json()
    assert real["verdict"] == "genuine"
    guesses = [client.get(f"/api/v1/codes/{_guess(p.gs1[10], k)}") for k in range(3)]
    drug = p.national["cn-drug-20"][0]
    guesses.append(client.get(f"/api/v1/codes/{drug[:-4]}{(int(drug[-4:]) + 7) % 10000:04d}"))
    shapes = set()
    for r in guesses:
        if r.status_code == 400:           # a guess whose check character is wrong: unreadable, no more
            assert r.json()["error"]["reason"] == "unreadable_scan"
            continue
        a = r.json()
        assert a["verdict"] == "not_found" and a["found"] is False
        for name in ("product", "company", "lot", "expiry", "production_date", "scan_count",
                     "first_scan_time", "first_scan_place", "path", "approval"):
            assert a.get(name) is None, name
        assert "batch" not in a and "history" not in a
        text = r.text
        for neighbour in p.gs1[:20]:       # no real code, nor a real serial, shows in the answer
            assert neighbour[-12:] not in text
        shapes.add(tuple(sorted(a)))
    assert len(shapes) == 1                # every guess is answered in one shape


def test_a_guess_costs_about_what_a_real_code_costs(site):
    p, client = site

    def median_ms(paths):
        times = []
        for path in paths:
            t = time.perf_counter()
            client.get(path)
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1e3
    for _ in range(2):                     # warm both paths
        median_ms([f"/api/v1/codes/{p.gs1[11]}", f"/api/v1/codes/{_guess(p.gs1[11], 0)}"])
    real = median_ms([f"/api/v1/codes/{p.gs1[11 + k % 20]}" for k in range(60)])
    guess = median_ms([f"/api/v1/codes/{_guess(p.gs1[11], k)}" for k in range(60)])
    # answered the same way: neither much cheaper (a timing oracle) nor much dearer
    assert guess > real / 3 and guess < real * 3, (real, guess)


# -- settings a proxy pool and CORS rely on ------------------------------------------------------
def test_trusted_proxies_may_be_networks(platform):
    settings = WebSettings(per_address=6, per_address_burst=2, per_product=100_000, per_product_burst=100_000,
                           per_network=0, forwarded_header="x-forwarded-for", trusted_proxies=("127.0.0.0/29",))
    with serving(create_app(platform.svc, base_url=BASE_URL, settings=settings)) as url:
        code = f"/api/v1/codes/{platform.gs1[8]}"
        with client_from(url, "127.0.0.5") as proxy, client_from(url, "127.0.0.9") as outside:
            # behind a proxy of the pool, each forwarded client has its own bucket
            assert [proxy.get(code, headers={"x-forwarded-for": f"192.0.2.{k}"}).status_code
                    for k in range(8)] == [200] * 8
            # 127.0.0.9 is outside the /29: its header is not believed, it is one address
            assert [outside.get(code, headers={"x-forwarded-for": f"192.0.2.{k}"}).status_code
                    for k in range(4)] == [200, 200, 429, 429]
    with pytest.raises(ValidationError, match="not an IP address or network"):
        WebSettings(trusted_proxies=("10.0.0.0/33",))


def test_the_null_origin_is_refused():
    with pytest.raises(ValidationError, match="'null' is not an origin"):
        WebSettings.from_mapping({"cors_origins": ["https://app.example", "null"]})


# -- refused credentials: counted against the address, audited bounded -----------------------------
def audit_lines(platform) -> int:
    path = platform.dd.path / "audit.log"
    return path.read_text().count("\n") if path.exists() else 0


def test_bad_tokens_are_rate_limited_and_audited_once_a_minute(platform):
    settings = WebSettings(per_address=6, per_address_burst=5, per_network=0, per_product=0)
    with serving(create_app(platform.svc, base_url=BASE_URL, settings=settings)) as url:
        before = audit_lines(platform)
        with client_from(url, "127.0.0.21") as guesser:
            statuses = [guesser.get(f"/api/v1/codes/{platform.gs1[1]}",
                                    headers={"authorization": f"Bearer x{k}"}).status_code for k in range(40)]
            # anonymous writes are refused credentials too
            put = [guesser.put(f"/api/v1/links/01/{GTIN}", json={"links": []}).status_code for _ in range(5)]
            r = guesser.get(f"/api/v1/codes/{platform.gs1[1]}", headers={"authorization": "Bearer y"})
        assert statuses[:5] == [401] * 5 and set(statuses[6:]) == {429}, statuses
        assert put == [429] * 5
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        grown = audit_lines(platform) - before
        assert 1 <= grown <= 2, grown      # one line for this address this minute (not 40)
        with client_from(url, "127.0.0.22") as other:     # another address is not affected
            assert other.get(f"/api/v1/codes/{platform.gs1[1]}").status_code == 200
            assert other.put(f"/api/v1/links/01/{GTIN}", json={"links": []}).status_code == 401
        assert audit_lines(platform) - before == grown + 1
        # a real client's token is not charged
        with client_from(url, "127.0.0.21") as same:
            assert same.get(f"/api/v1/codes/{platform.gs1[1]}", headers=platform.auth("admin")).status_code == 200


def test_head_is_charged_like_get_and_options_looks_nothing_up(platform):
    settings = WebSettings(per_address=60, per_address_burst=3, per_network=0, per_product=0)
    with serving(create_app(platform.svc, base_url=BASE_URL, settings=settings)) as url, \
            client_from(url, "127.0.0.23") as client:
        code = platform.gs1[2]
        heads = [client.head(f"/c/{code}").status_code for _ in range(3)]
        assert heads == [200] * 3
        assert client.head(f"/api/v1/codes/{code}").status_code == 429
        assert client.head(f"/01/{GTIN}/21/{code[-12:]}").status_code == 429
        assert client.get(f"/c/{code}").status_code == 429
        # OPTIONS looks nothing up (Allow only): answering it costs what a 429 would, so it is free
        r = client.options(f"/01/{GTIN}")
        assert r.status_code == 204 and not r.content and "GET" in r.headers["allow"]
