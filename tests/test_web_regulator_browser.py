"""The regulator's page in a real browser (Debian's headless Chromium through Selenium and
the system chromedriver): signing in with the token form, the planted alerts and the
report's figures shown (the images load: the login cookie reaches them), closing one with
the page's own form, on a desktop window and on a phone's (nothing wider than the phone's
screen but the tables, which scroll inside their box). Screenshots under the test's folder.

Skipped when /usr/bin/chromium is missing, except under CI=true, where that fails.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tracecode.analytics import synth
from tracecode.analytics.engines import open_engine
from tracecode.analytics.run import run_rules
from tracecode.app.alertsapp import store_alerts
from tracecode.app.caller import OPERATOR
from tracecode.web import regulator_data
from tracecode.web.app import create_app

from web_platform import Platform
from web_server import serving

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true: the browser tests need Debian's chromium and chromedriver "
                           "(apt-get install chromium chromium-driver)")
    pytest.skip("no /usr/bin/chromium (apt-get install chromium chromium-driver)", allow_module_level=True)

from selenium import webdriver  # noqa: E402 - only with a browser to drive
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as shown  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

DESKTOP, PHONE = (1280, 1000), (390, 844)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("regulator-browser")
    p = Platform(root, count=3)
    export = p.dd.path / regulator_data.EXPORT_DIR
    truth = synth.generate(export, n_codes=2_000, seed=3)
    engine = open_engine("duckdb", export)
    try:
        store_alerts(p.svc, OPERATOR, run_rules(engine), rules=["all"])
    finally:
        engine.close()
    try:
        # plain http on loopback: the login cookie is not marked Secure (an https base would)
        with serving(create_app(p.svc, base_url="http://127.0.0.1")) as url:
            yield {"p": p, "url": url, "truth": truth}
    finally:
        p.close()


def _driver(profile: Path, size):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size == PHONE})
    return driver


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_sign_in_see_the_alerts_and_close_one(site, tmp_path, size):
    driver = _driver(tmp_path / "profile", size)
    try:
        driver.get(site["url"] + "/regulator")
        assert driver.find_elements(By.ID, "regulator-login") and not driver.find_elements(By.ID, "alerts")
        driver.find_element(By.ID, "token").send_keys(site["p"].tokens["regulator"])
        driver.find_element(By.ID, "login").click()
        WebDriverWait(driver, 30).until(shown.presence_of_element_located((By.ID, "freshness")))
        driver.save_screenshot(str(tmp_path / "overview.png"))
        # the report's figures load (the cookie reaches them), as wide as the page allows
        for name in ("by_region", "by_day", "flows"):
            img = driver.find_element(By.ID, f"fig-{name}")
            assert driver.execute_script("return arguments[0].naturalWidth", img) > 300, name
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= driver.execute_script("return window.innerWidth") + 1, width
        assert driver.find_elements(By.TAG_NAME, "script") == []
        # the planted diversions, filtered by the form
        driver.get(site["url"] + "/regulator?rule=diversion")
        rows = driver.find_elements(By.CSS_SELECTOR, "#alerts tr[data-subject]")
        store = site["p"].svc.index.store   # the planted ones still open (the other size closed one)
        planted = set(site["truth"]["diversion"]) & {a["subject"] for a in
                                                     store.alerts_find(rule="diversion", open_only=True)}
        assert len(planted) >= len(site["truth"]["diversion"]) - 1
        assert planted <= {r.get_attribute("data-subject") for r in rows}
        first = rows[0]
        subject = first.get_attribute("data-subject")
        first.find_element(By.NAME, "note").send_keys("seen in the browser")
        first.find_element(By.CSS_SELECTOR, "form.close button").click()
        # a form's click returns before the next page has loaded: wait for it
        banner = WebDriverWait(driver, 30).until(shown.presence_of_element_located((By.ID, "closed")))
        assert banner.get_attribute("data-id") and banner.text.strip()
        assert subject not in {r.get_attribute("data-subject")
                               for r in driver.find_elements(By.CSS_SELECTOR, "#alerts tr[data-subject]")}
        driver.save_screenshot(str(tmp_path / "closed.png"))
        assert (tmp_path / "closed.png").stat().st_size > 5000
        keep = os.environ.get("TRACECODE_SHOTS")   # e.g. /tmp: keep the screenshots to look at
        if keep:
            for shot in ("overview.png", "closed.png"):
                shutil.copy(tmp_path / shot, Path(keep) / f"regulator-{size[0]}-{shot}")
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
