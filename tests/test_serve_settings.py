"""A data directory's public base URL (DIR/settings.toml): validated, written atomically, set
at init and changed later; issued GS1 Digital Link URIs, and the QR codes printed from them,
point at it instead of id.gs1.org, and still verify."""
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tracecode
from tracecode import settings
from tracecode.settings import Settings, SettingsError

GTIN = "09521234543213"


def tc(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("url, canonical", [
    ("https://trace.example.gov.cn", "https://trace.example.gov.cn"),
    ("HTTPS://Trace.Example.GOV.cn/", "https://trace.example.gov.cn"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("https://example.gov.cn/trace/v1/", "https://example.gov.cn/trace/v1"),
    ("https://[::1]:8443/p", "https://[::1]:8443/p"),
    ("https://xn--fiqs8s.cn", "https://xn--fiqs8s.cn"),
])
def test_base_urls_are_normalised(url, canonical):
    assert Settings(base_url=url).base_url == canonical


@pytest.mark.parametrize("url, why", [
    ("", "empty"),
    ("trace.example.gov.cn", "must start with https://"),
    ("ftp://trace.example.gov.cn", "must start with https://"),
    ("https://trace.example.gov.cn/?a=1", "has a query"),
    ("https://trace.example.gov.cn?", "has a query"),
    ("https://trace.example.gov.cn/#top", "has a fragment"),
    ("https://user:pw@trace.example.gov.cn", "user or password"),
    ("https://trace.example.gov.cn:99999", "bad port"),
    ("https://", "no valid host"),
    ("https://-bad-.cn", "no valid host"),
    ("https://溯源.cn", "ASCII"),
    ("https://trace.example.gov.cn/a b", "ASCII without spaces"),
    ("https://trace.example.gov.cn/a\"b", "path prefix"),
    ("https://x.cn/" + "a" * 300, "longer than"),
])
def test_bad_base_urls_are_refused_with_the_reason(url, why):
    with pytest.raises(SettingsError, match=why):
        Settings(base_url=url)


@given(st.text(max_size=60))
def test_any_text_is_a_canonical_url_or_a_settings_error(text):
    try:
        url = Settings(base_url=text).base_url
    except SettingsError:
        return
    assert url.startswith(("http://", "https://")) and not url.endswith("/")
    assert Settings(base_url=url).base_url == url   # canonical: idempotent


def test_save_and_load_round_trip_and_bad_files(tmp_path):
    assert settings.load(tmp_path) == Settings()
    settings.save(tmp_path, Settings(base_url="https://trace.example.gov.cn"))
    assert settings.load(tmp_path).base_url == "https://trace.example.gov.cn"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.toml"]   # no temporary left
    (tmp_path / "settings.toml").write_text("base_url = 'https://a.example'\ncolour = 'red'\n")
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        settings.load(tmp_path)
    (tmp_path / "settings.toml").write_text("base_url = [1]\n")
    with pytest.raises(SettingsError, match="must be a string"):
        settings.load(tmp_path)
    (tmp_path / "settings.toml").write_text("base_url = 'ftp://a.example'\n")
    with pytest.raises(SettingsError, match="settings.toml: base URL 'ftp://a.example' must start"):
        settings.load(tmp_path)
    (tmp_path / "settings.toml").write_text("base_url = \n")
    with pytest.raises(SettingsError, match="not a TOML file"):
        settings.load(tmp_path)


def test_issued_digital_links_use_the_base_url(tmp_path):
    plain = tracecode.init(tmp_path / "plain")
    ours = tracecode.init(tmp_path / "ours", base_url="https://trace.example.gov.cn/dl/")
    try:
        assert plain.settings.base_url is None and ours.settings.base_url == "https://trace.example.gov.cn/dl"
        a = plain.issue("gs1-sgtin", {"gtin": GTIN}, 2, attributes={"lot": "A1"})
        b = ours.issue("gs1-sgtin", {"gtin": GTIN}, 2, attributes={"lot": "A1"})
        on_gs1 = [c.decode() for c in a.codes("dl", {"lot": "A1"}).tolist()]
        on_ours = [c.decode() for c in b.codes("dl", {"lot": "A1"}).tolist()]
        assert all(c.startswith(f"https://id.gs1.org/01/{GTIN}/10/A1/21/") for c in on_gs1)
        assert all(c.startswith(f"https://trace.example.gov.cn/dl/01/{GTIN}/10/A1/21/") for c in on_ours)
        # the same codes as the batch's other forms: only where they point is new
        hri = [c.decode() for c in b.codes("hri", {"lot": "A1"}).tolist()]
        assert [h.rsplit("(21)", 1)[1] for h in hri] == [c.rsplit("/", 1)[1] for c in on_ours]
        ours.apply([{"id": "c1", "action": "commission", "codes": on_ours}])
        assert [v.verdict.name for v in (ours.verify(c) for c in on_ours)] == ["GENUINE"] * 2
    finally:
        plain.close()
        ours.close()


def test_a_scheme_naming_its_own_resolver_keeps_it(tmp_path):
    d = tracecode.init(tmp_path / "data", base_url="https://trace.example.gov.cn")
    src = (tmp_path / "data" / "schemes")
    text = open(d.scheme("gs1-sgtin").source, encoding="utf-8").read()
    custom = text.replace('name = "gs1-sgtin"', 'name = "acme-sgtin"') \
                 .replace('dl_base = "https://id.gs1.org"', 'dl_base = "https://resolver.acme.example"')
    assert custom != text
    (src / "acme.toml").write_text(custom, encoding="utf-8")
    d.close()
    d = tracecode.open(tmp_path / "data")
    try:
        assert d.scheme("acme-sgtin").dl_base == "https://resolver.acme.example"
        assert d.scheme("gs1-sgtin").dl_base == "https://trace.example.gov.cn"
    finally:
        d.close()


def test_the_cli_sets_shows_and_unsets_the_base_url_and_labels_point_at_it(tmp_path):
    import zxingcpp
    from PIL import Image
    data = tmp_path / "data"
    r = tc("init", data, "--base-url", "ftp://x.example")
    assert r.returncode == 1 and "must start with https://" in r.stderr and not data.exists()
    r = tc("init", data, "--base-url", "https://trace.example.gov.cn")
    assert r.returncode == 0 and "public base URL https://trace.example.gov.cn" in r.stderr
    assert tc("settings", data).stdout == "base_url = https://trace.example.gov.cn\n"
    r = tc("issue", data, "--scheme", "gs1-sgtin", "-p", GTIN, "-n", "1", "-r", "dl", "-a", "lot=L7")
    assert r.returncode == 0 and r.stdout.startswith(f"https://trace.example.gov.cn/01/{GTIN}/10/L7/21/")
    uri = r.stdout.strip()
    png = tmp_path / "label.png"
    r = tc("label", uri, "--symbol", "qr", "--out", png)
    assert r.returncode == 0, r.stderr
    assert [x.text for x in zxingcpp.read_barcodes(Image.open(png))] == [uri]
    r = tc("settings", data, "--base-url", "https://x.example/?q")
    assert r.returncode == 1 and "has a query" in r.stderr
    assert tc("settings", data).stdout == "base_url = https://trace.example.gov.cn\n"   # unchanged
    r = tc("settings", data, "--base-url", "https://new.example/trace/")
    assert r.returncode == 0 and "https://new.example/trace" in r.stderr
    r = tc("issue", data, "--scheme", "gs1-sgtin", "-p", GTIN, "-n", "1", "-r", "dl")
    assert r.stdout.startswith(f"https://new.example/trace/01/{GTIN}/21/")
    assert tc("settings", data, "--base-url", "").returncode == 0
    assert "not set" in tc("settings", data).stdout
    r = tc("issue", data, "--scheme", "gs1-sgtin", "-p", GTIN, "-n", "1", "-r", "dl")
    assert r.stdout.startswith(f"https://id.gs1.org/01/{GTIN}/21/")
    # a broken settings file is one line for every verb, and `settings --base-url` mends it
    (data / "settings.toml").write_text("base_url = 3\n")
    r = tc("issue", data, "--scheme", "gs1-sgtin", "-p", GTIN, "-n", "1")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "base_url must be a string" in r.stderr
    assert tc("settings", data, "--base-url", "https://trace.example.gov.cn").returncode == 0
    assert tc("settings", data).returncode == 0
    r = tc("settings", tmp_path / "nowhere")
    assert r.returncode == 2 and "is not a data directory" in r.stderr


def test_the_web_table_is_kept_and_checked(tmp_path):
    (tmp_path / "settings.toml").write_text("base_url = 'https://a.example'\n[web]\nper_address = 120\n"
                                            "cors_origins = ['https://app.example']\n")
    got = settings.load(tmp_path)
    assert got.web == {"per_address": 120, "cors_origins": ["https://app.example"]}
    settings.save(tmp_path, got.changed(base_url="https://b.example"))   # [web] survives a change
    assert settings.load(tmp_path) == Settings(base_url="https://b.example", web=got.web)
    for bad in ("[web]\nx = {a = 1}\n", "web = 3\n", "[web]\nx = [[1]]\n"):
        (tmp_path / "settings.toml").write_text(bad)
        with pytest.raises(SettingsError, match=r"\[web\]"):
            settings.load(tmp_path)
    assert tc("init", tmp_path / "data").returncode == 0
    (tmp_path / "data" / "settings.toml").write_text("[web]\nper_address = 5\n")
    assert tc("settings", tmp_path / "data").stdout.splitlines()[1] == "web.per_address = 5"


def test_changing_the_base_url_keeps_the_operators_comments_and_web_table(tmp_path):
    data = tmp_path / "data"
    assert tc("init", data, "--base-url", "https://old.example").returncode == 0
    text = ("# settings of the Jiangsu platform: ask Wang before changing them\n"
            "base_url = \"https://old.example\"   # the old name\n\n"
            "[web]\n# raised for the spring campaign\nper_address = 120\n")
    (data / "settings.toml").write_text(text)
    assert tc("settings", data, "--base-url", "https://trace.example.gov.cn").returncode == 0
    after = (data / "settings.toml").read_text()
    assert after == text.replace('"https://old.example"   # the old name', '"https://trace.example.gov.cn"')
    assert settings.load(data).web == {"per_address": 120}
    assert tc("settings", data, "--base-url", "").returncode == 0        # unset: the line goes
    assert (data / "settings.toml").read_text() == text.replace(
        'base_url = "https://old.example"   # the old name\n', "")
    assert tc("settings", data, "--base-url", "https://b.example").returncode == 0   # and comes back
    assert settings.load(data).base_url == "https://b.example"
    assert "# raised for the spring campaign" in (data / "settings.toml").read_text()
