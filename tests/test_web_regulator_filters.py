"""The regulator page's filters reach every alert (web/regulator_data.read_alerts): region,
since and the category's products are applied by the store's alert query (alerts_find on
LMDB and PostgreSQL alike), before its newest-first bound, so an older alert of a region is
not hidden behind 1,000 newer ones elsewhere; the category filter needs no export."""
from __future__ import annotations

import re

import httpx
import pytest

from tracecode import schemes
from tracecode.analytics.alerts import alert_id
from tracecode.web.app import create_app

from web_platform import BASE_URL, GTIN, OTHER_GTIN, Platform
from web_server import serving


def _alert(n: int, region: str, day: int, product: str = GTIN, rule: str = "diversion") -> dict:
    code = f"c{n:06d}"
    t = f"2026-01-{day:02d}T00:00:{n % 60:02d}.000000Z"
    return {"id": alert_id(rule, code, "all"), "rule": rule, "severity": "high", "subject": code,
            "code": code, "product": product, "region": region, "first_time": t, "last_time": t,
            "window": "all", "evidence": {"n": n}, "status": "open"}


@pytest.fixture(params=["lmdb", "postgres"])
def store(request, tmp_path):
    if request.param == "postgres":
        from tracecode.store.postgres import PgStore
        s = PgStore(request.getfixturevalue("pg_dsn"), schemes.builtin())
        yield s
        s.close()
    else:
        from tracecode.store.lmdb.env import open_env
        from tracecode.store.lmdb.store import LmdbStore
        s = LmdbStore(open_env(tmp_path / "store"), schemes.builtin())
        yield s
        s.env.close()


def test_alerts_find_filters_by_region_since_and_products(store):
    alerts = [_alert(1, "110101", 3), _alert(2, "110000", 5), _alert(3, "310104", 7, OTHER_GTIN),
              _alert(4, "440300", 9), {**_alert(5, "", 11), "region": None}]
    store.alerts_put(alerts)
    codes = lambda **kw: [a["code"] for a in store.alerts_find(**kw)]   # noqa: E731
    assert codes(region="11") == ["c000002", "c000001"]
    assert codes(region="1101") == ["c000001"]
    assert codes(since="2026-01-07") == ["c000005", "c000004", "c000003"]
    assert codes(products=[OTHER_GTIN]) == ["c000003"]
    assert codes(products=[]) == []
    assert codes(region="11", since="2026-01-04", products=[GTIN]) == ["c000002"]
    # paged with the filters: the keyset goes on where the last page stopped
    first = store.alerts_find(since="2026-01-04", limit=2)
    after = (first[-1]["last_time"], first[-1]["id"])
    assert [a["code"] for a in store.alerts_find(since="2026-01-04", limit=2, after=after)] == ["c000003", "c000002"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("regulator-filters"), count=3)
    drug = schemes.get("cn-drug-20").example_product()
    drug_text = "/".join(str(v) for v in drug.values())
    newer = [_alert(n, "110101", 20) for n in range(1_100)]                 # Beijing, newest
    older = [_alert(5_000 + n, "310104", 2) for n in range(3)]              # Shanghai, older
    drugs = [_alert(6_000 + n, "110101", 1, drug_text) for n in range(2)]   # a drug's, oldest
    p.svc.index.store.alerts_put(newer + older + drugs)
    try:
        with serving(create_app(p.svc, base_url=BASE_URL)) as url, \
                httpx.Client(base_url=url, timeout=60, headers=p.auth("regulator")) as client:
            yield {"client": client, "older": older, "drugs": drugs}
    finally:
        p.close()


def _subjects(html: str) -> set:
    return set(re.findall(r'<tr id="alert-[0-9a-f]{20}" data-rule="[a-z_]+" data-subject="([^"]*)"', html))


def _shown(html: str) -> int:
    return int(re.search(r'id="n-alerts">([0-9,]+)<', html).group(1).replace(",", ""))


def test_an_older_alert_of_a_region_is_not_hidden_behind_newer_ones(site):
    r = site["client"].get("/regulator", params={"region": "310000"})
    assert r.status_code == 200
    assert _subjects(r.text) == {a["subject"] for a in site["older"]} and _shown(r.text) == 3
    r = site["client"].get("/regulator", params={"region": "110000", "since": "2026-01-15"})
    assert _shown(r.text) == 1_100 and 'id="capped"' not in r.text   # past one store page: paged


def test_the_category_filter_applies_without_an_export(site):
    r = site["client"].get("/regulator", params={"category": "drugs"})
    assert r.status_code == 200 and 'id="no-export"' in r.text
    assert _subjects(r.text) == {a["subject"] for a in site["drugs"]} and _shown(r.text) == 2
