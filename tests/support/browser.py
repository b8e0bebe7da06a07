"""Real headless Chromium through Selenium, using the system's browser and driver."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from tenacity import retry, retry_if_exception_type, stop_after_attempt

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@retry(retry=retry_if_exception_type(WebDriverException), stop=stop_after_attempt(3), reraise=True)
def _start(options: webdriver.ChromeOptions) -> webdriver.Chrome:
    """Start the driver and browser; a start that fails on a busy machine is tried again (3 times at most)."""
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """A headless Chromium with its own profile, closed (with its driver) after the block."""
    if not shutil.which(CHROMIUM) or not shutil.which(CHROMEDRIVER):
        pytest.fail("Chromium and chromedriver are required (make test installs them: make browser)")
    profile = tempfile.mkdtemp(prefix="musicstore-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = _start(options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
