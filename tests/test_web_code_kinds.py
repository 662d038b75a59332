"""The public form's hint of which codes can be looked up is the category registry's, with
the lengths of the schemes this server reads (a category added as a module, or a scheme in
DATA/schemes, shows up without a hand-kept list)."""
import pytest

import tracecode
from tracecode import categories
from tracecode.app.service import Service
from tracecode.web import i18n
from tracecode.web.answer import code_kinds


@pytest.fixture
def svc(tmp_path):
    d = tracecode.init(tmp_path / "data")
    s = Service(d, audit_path=d.path / "audit.log")
    yield s
    s.close()
    d.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_category_is_named(svc, lang):
    got = code_kinds(svc, lang)
    names = [i18n.CATALOGS[lang].get(f"category.{c}", categories.ALL[c].title) for c in categories.ALL]
    assert all(n in got for n in names), got
    assert got.endswith(i18n.CATALOGS[lang]["category.generic"])       # the catch-all last


def test_lengths_come_from_the_schemes(svc):
    got = code_kinds(svc, "en")
    assert "Drug or vaccine (20)" in got and "Special equipment (16/18/20)" in got
    assert "Livestock ear tag (15)" in got and "Hazardous goods (13/21/22)" in got
    assert "药品（20位）" in code_kinds(svc, "zh")
    assert "GS1 trade item," in got                                   # GS1's length is not one number


def test_the_form_shows_it(svc):
    httpx = pytest.importorskip("httpx")
    from tests.web_server import serving
    from tracecode.web.app import create_app
    with serving(create_app(svc, base_url="https://trace.example")) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        for lang in ("zh", "en"):
            page = client.get("/", headers={"Accept-Language": lang}).text
            assert 'id="code-kinds"' in page and code_kinds(svc, lang) in page
