"""The public page in a real browser: Debian's headless Chromium, driven by Selenium through
the system chromedriver, loads the page of a genuine, recalled, expired, unknown,
suspicious, sold and a veterinary code (checked against the registry) in Chinese and in
English from a real HTTP server (tests/web_server.py), on a phone-sized window, and checks
what a person reads there; screenshots are saved under the test's temporary folder.

Skipped when /usr/bin/chromium is missing, except under CI=true, where that fails.
"""
import os
import shutil
import urllib.parse
from pathlib import Path

import pytest

from tracecode.app.clients import Clients, ClientsFile

from web_server import serving
from web_world import COMPANY, LINE, PEST, PEST_COMPANY, REQUESTER, VALID, build, close, qr, settled

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PHONE = (390, 844)
BASE_URL = "https://trace.example.gov.cn"

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true: the browser tests need Debian's chromium and chromedriver "
                           "(apt-get install chromium chromium-driver)")
    pytest.skip("no /usr/bin/chromium (apt-get install chromium chromium-driver)", allow_module_level=True)

from selenium import webdriver  # noqa: E402 - only with a browser to drive
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# code -> (verdict key, its words in zh, in en)
VERDICTS = {"genuine": ("genuine", "正品", "Genuine"),
            "recalled": ("recalled", "已召回", "Recalled"),
            "expired": ("expired", "已过期", "Expired"),
            "unknown": ("not_found", "未查到此码", "Not found"),
            "suspicious": ("suspicious", "可疑", "Suspicious"),
            "sold": ("sold", "已售出或已发药", "Already sold or dispensed"),
            "vet": ("genuine", "正品", "Genuine"),
            "pest": ("genuine", "正品", "Genuine")}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from tracecode.web.app import create_app
    root = tmp_path_factory.mktemp("web-browser")
    clients = ClientsFile.open_or_create(root / "clients.toml")
    token = clients.add("maker", ["issuer"], ["cn-drug-20:drug_id=8177322"])
    clients.save()
    w = build(root, clients=Clients(root / "clients.toml"))
    code = w["suspicious"]
    for n, place in enumerate(("Nanning", "Harbin", "Lhasa", "Urumqi"), 1):
        w["svc"].verify(w["svc"].clients.by_token(token), code, place=place)
        settled(w, code, n)
    w["token"] = token
    with serving(create_app(w["svc"], base_url=BASE_URL)) as url:
        w["url"] = url
        yield w
    close(w)


def _driver(profile: Path, accept_language: str | None = None, javascript: bool = True):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 f"--window-size={PHONE[0]},{PHONE[1]}"):
        options.add_argument(flag)
    prefs = {"intl.accept_languages": accept_language} if accept_language else {}
    if not javascript:   # a phone with scripts off: pages must not need them
        prefs["profile.managed_default_content_settings.javascript"] = 2
    if prefs:
        options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=DriverService(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    # a phone's screen (headless windows are at least 500 px wide): its width, touch and scale
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
    return driver


@pytest.fixture
def browser(tmp_path):
    driver = _driver(tmp_path / "profile")
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def _open(driver, url: str, shot: Path):
    driver.get(url)
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 1000
    return driver.find_element(By.ID, "verdict")


def _fits_the_phone(driver):
    """Nothing wider than the window (no sideways scrolling), no script on the page."""
    width = driver.execute_script("return document.documentElement.scrollWidth")
    inner = driver.execute_script("return window.innerWidth")
    assert width <= inner, f"{width}px wide in a {inner}px window"
    assert driver.find_elements(By.TAG_NAME, "script") == []


def _warnings(driver) -> dict:
    return {li.get_attribute("data-key"): li.text for li in driver.find_elements(By.CSS_SELECTOR, "li.warning")}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_verdict_in_each_language(site, browser, tmp_path, lang):
    for name, (key, zh, en) in VERDICTS.items():
        code = site[name]
        banner = _open(browser, f"{site['url']}/c/{urllib.parse.quote(code)}?lang={lang}",
                       tmp_path / f"{name}-{lang}.png")
        assert banner.get_attribute("data-verdict") == key, name
        assert banner.find_element(By.TAG_NAME, "h1").text == (zh if lang == "zh" else en), name
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == (
            "zh-CN" if lang == "zh" else "en")
        # colour and words: the banner's colour is the verdict's tone
        colour = banner.value_of_css_property("background-color")
        assert colour == ("rgba(27, 127, 59, 1)" if key == "genuine" else
                          "rgba(161, 92, 0, 1)" if key == "sold" else "rgba(179, 38, 30, 1)"), name
        _fits_the_phone(browser)
        warnings = _warnings(browser)
        page = browser.find_element(By.TAG_NAME, "main").text
        if name == "recalled":
            assert ("contamination" in warnings["recalled"]
                    and ("召回" in warnings["recalled"] if lang == "zh" else "recalled on" in warnings["recalled"]))
        if name == "expired":
            assert "2020-01-31" in warnings["expired"]
        if name == "unknown":
            assert list(warnings) == ["not_found"] and "L7" not in page
        if name == "suspicious":   # the maker's scans at four places: not public queries, places unshown
            assert "suspicious" in warnings and "repeat_query" not in warnings
            told = browser.find_element(By.ID, "facts").text + "".join(warnings.values())
            assert "Harbin" not in told and "Nanning" not in told
        if name == "vet":
            assert COMPANY in page and VALID in page and "阿莫西林可溶性粉" in page
            assert browser.find_element(By.ID, "f-validity").text.endswith(
                "2099-12-31"), "the approval's validity"
        if name == "pest":
            assert PEST in page and PEST_COMPANY in page and "吡虫啉" in page
        if name in ("genuine", "recalled"):
            assert browser.find_element(By.ID, "f-lot").text.endswith("L7")
            link = browser.find_element(By.CSS_SELECTOR, "#links a")
            assert link.get_attribute("href") == f"https://maker.example/{lang}/8177322"
            assert len(browser.find_elements(By.CSS_SELECTOR, "#path li")) >= 2
        assert LINE not in page and REQUESTER not in page


def test_repeat_query_warning_on_the_page(site, browser, tmp_path):
    code = site["repeat"]
    for n in (1, 2, 3):   # three people (a browser that queried the code is not counted again)
        browser.delete_all_cookies()
        _open(browser, f"{site['url']}/c/{code}?lang=en&place=Nanning", tmp_path / f"repeat-{n}.png")
        settled(site, code, n)
    browser.delete_all_cookies()
    _open(browser, f"{site['url']}/c/{code}?lang=en", tmp_path / "repeat-4.png")
    text = _warnings(browser)["repeat_query"]
    assert text.startswith("This code has been queried 4 times; the first query was on ")
    assert text.endswith(" in Nanning, Guangxi. If this is your first query, the product may be a copy.")
    browser.find_element(By.ID, "lang-switch").click()     # the same person's reload: not a 5th
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN")
    assert _warnings(browser)["repeat_query"].startswith("此码已被查询4次；")


def test_language_by_accept_language_switch_and_cookie(site, tmp_path):
    driver = _driver(tmp_path / "profile-en", accept_language="en-US,en")
    try:
        banner = _open(driver, f"{site['url']}/c/{site['genuine']}", tmp_path / "accept-en.png")
        assert banner.find_element(By.TAG_NAME, "h1").text == "Genuine"
        driver.find_element(By.ID, "lang-switch").click()        # to Chinese, remembered
        assert driver.find_element(By.CSS_SELECTOR, "#verdict h1").text == "正品"
        driver.get(f"{site['url']}/c/{site['recalled']}")
        assert driver.find_element(By.CSS_SELECTOR, "#verdict h1").text == "已召回"
        driver.save_screenshot(str(tmp_path / "cookie-zh.png"))
    finally:
        driver.quit()
    zh = _driver(tmp_path / "profile-zh", accept_language="zh-CN,zh,en")
    try:
        zh.get(f"{site['url']}/")
        assert zh.find_element(By.TAG_NAME, "h1").text == "查询追溯码或批准文号"
        zh.save_screenshot(str(tmp_path / "home-zh.png"))
    finally:
        zh.quit()


def test_home_box_code_and_approval_number(site, browser, tmp_path):
    browser.get(f"{site['url']}/?lang=en")
    _fits_the_phone(browser)
    browser.save_screenshot(str(tmp_path / "home-en.png"))
    box = browser.find_element(By.ID, "code")
    box.send_keys(qr(site["vet"], VALID))   # a veterinary QR payload typed or pasted
    box.submit()
    banner = browser.find_element(By.ID, "verdict")
    assert banner.get_attribute("data-verdict") == "genuine" and COMPANY in browser.page_source
    browser.save_screenshot(str(tmp_path / "home-vet-qr.png"))
    browser.get(f"{site['url']}/?lang=zh")
    browser.find_element(By.ID, "approval").send_keys("兽药字(2017)010012347")
    browser.find_element(By.ID, "approval").submit()
    banner = browser.find_element(By.ID, "verdict")
    assert banner.get_attribute("data-verdict") == "approval_invalid"
    assert banner.find_element(By.TAG_NAME, "h1").text == "文号无效"
    assert "已撤销（自2024-01-01）" in browser.find_element(By.ID, "f-validity").text
    _fits_the_phone(browser)
    browser.save_screenshot(str(tmp_path / "approval-zh.png"))
    browser.get(f"{site['url']}/c/123?lang=en")            # unreadable: a page, not a trace
    assert browser.find_element(By.ID, "verdict").get_attribute("data-status") == "400"
    assert browser.find_element(By.ID, "message").text.startswith("The number of digits is wrong")
    assert browser.find_element(By.ID, "detail").text   # the engine's sentence, folded
    assert "Traceback" not in browser.page_source
    browser.save_screenshot(str(tmp_path / "error-en.png"))


def test_signed_in_issuer_sees_the_whole_record(site, browser, tmp_path):
    """A token (as an enterprise's app sends it) shows the batch record and the history."""
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                            {"headers": {"Authorization": f"Bearer {site['token']}"}})
    _open(browser, f"{site['url']}/c/{site['private']}?lang=en", tmp_path / "signed-in-en.png")
    whole = browser.find_element(By.ID, "whole")
    assert "Signed in as maker" in whole.text and LINE in whole.text and REQUESTER in whole.text
    assert browser.find_elements(By.CSS_SELECTOR, "#history li")
    _fits_the_phone(browser)


def test_without_javascript(site, tmp_path):
    """Scripts off: the query box still sends, the page still says everything."""
    driver = _driver(tmp_path / "profile-nojs", accept_language="zh-CN,zh", javascript=False)
    try:
        driver.get("data:text/html,<noscript><p id=off>scripts are off</p></noscript>")
        assert driver.find_element(By.ID, "off").text == "scripts are off"   # they are
        driver.get(f"{site['url']}/")
        box = driver.find_element(By.ID, "code")
        box.send_keys(site["recalled"])
        driver.find_element(By.CSS_SELECTOR, "form.query button").click()   # a plain GET form
        # the click returns before the next page has loaded: wait for its banner
        banner = WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "verdict"))
        assert banner.get_attribute("data-verdict") == "recalled"
        assert banner.find_element(By.TAG_NAME, "h1").text == "已召回"
        assert "召回" in _warnings(driver)["recalled"]
        assert driver.find_element(By.ID, "f-lot").text.endswith("L7")
        driver.save_screenshot(str(tmp_path / "no-javascript-zh.png"))
    finally:
        driver.quit()
