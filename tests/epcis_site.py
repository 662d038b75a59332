"""A served platform with EPCIS documents captured over HTTP, for tests that query them there:
`captured(tmp_path, (body, content type), ...)` yields (platform, client, found), where
found(params) is the sorted eventIDs /epcis/events answers (events without one as "-")."""
from __future__ import annotations

import time
from contextlib import contextmanager


@contextmanager
def captured(tmp_path, *docs):
    import httpx

    from tracecode.web.app import create_app
    from tracecode.web.settings import WebSettings

    from epcis_reference import SCHEMA, need
    from web_platform import BASE_URL, Platform
    from web_server import serving
    need(SCHEMA)
    settings = WebSettings(per_address=100_000, per_address_burst=100_000, per_product=100_000,
                           per_product_burst=100_000)
    p = Platform(tmp_path, count=2)
    try:
        with serving(create_app(p.svc, base_url=BASE_URL, settings=settings)) as url, \
                httpx.Client(base_url=url, timeout=60) as client:
            for body, kind in docs:
                r = client.post("/epcis/capture", content=body, headers={"content-type": kind, **p.auth("admin")})
                assert r.status_code == 202, r.text
                deadline = time.monotonic() + 120
                while (job := client.get(r.headers["location"], headers=p.auth("admin")).json())["running"]:
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
                assert job["success"], job["errors"]

            def found(params):
                r = client.get("/epcis/events", params=params, headers=p.auth("admin"))
                assert r.status_code == 200, r.text
                return sorted(e.get("eventID", "-")
                              for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])

            yield p, client, found
    finally:
        p.close()
