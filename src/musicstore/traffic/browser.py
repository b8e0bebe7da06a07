"""Headless Chromium for the browser shoppers: the system's browser and driver, capped, each in its own profile.

A browser contacts nothing but the shop: Chromium's background networking, updates, sync and first-run
work are off, and every host name but the targets' resolves to nothing. Every request it makes carries
the `synthetic_request=true` baggage entry (through the DevTools protocol) and a User-Agent naming
`musicstore-traffic`; from a journey's start on, also the journey's `traceparent`. Only browsers this
process started are ever stopped by it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from urllib.parse import urlsplit

import gevent.lock
import psutil
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from musicstore.common import tracing
from musicstore.traffic.identity import BAGGAGE, BROWSER_USER_AGENT

log = logging.getLogger(__name__)

QUIET_FLAGS = (
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
    "--metrics-recording-only",
    "--password-store=basic",
    "--window-size=1280,1000",
)


class BrowserCapReached(Exception):
    """Every browser slot of this process is taken."""


def resolver_rules(urls: Iterable[str], host_map: Iterable[tuple[str, str]] = ()) -> str:
    """Chromium's host resolver rules: mapped public names first, then nothing but the targets' names resolves."""
    host_map = list(host_map)
    # An EXCLUDE wins over every MAP in Chromium: a mapped name must not be excluded too.
    hosts = sorted({urlsplit(url).hostname or "" for url in urls} - {""} - {public for public, _ in host_map})
    mapped = [f"MAP {public} {reachable}" for public, reachable in host_map]
    return ",".join([*mapped, "MAP * ~NOTFOUND", *(f"EXCLUDE {host}" for host in hosts)])


class Browser:
    """One Chromium with its driver and its own temporary profile."""

    def __init__(self, driver: webdriver.Chrome, profile: str, pid: int | None) -> None:
        self.driver, self.profile, self.pid = driver, profile, pid
        self.journeys = 0

    def follow_journey(self) -> None:
        """Send the current journey's traceparent, beside the synthetic baggage, with every request from now on."""
        headers = {**tracing.outgoing_headers(), "baggage": BAGGAGE}
        self.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})

    def quit(self) -> None:
        """Stop the browser and its driver and remove the profile; kill what is left of this browser only."""
        try:
            self.driver.quit()
        except Exception as exc:  # a browser that already died cannot be quit cleanly; it is killed below
            log.warning("quitting a browser failed (%s); killing its processes", type(exc).__name__)
        finally:
            _kill_tree(self.pid)
            shutil.rmtree(self.profile, ignore_errors=True)


def _kill_tree(pid: int | None) -> None:
    """Kill a chromedriver this process started, and the browsers under it."""
    if not pid:
        return
    try:
        root = psutil.Process(pid)
        processes = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(processes, timeout=5)


class BrowserPool:
    """The browsers of this process, at most `cap` at a time."""

    def __init__(self, cap: int = 4) -> None:
        self.live: set[Browser] = set()
        self.started = 0
        self.resize(cap)

    def resize(self, cap: int) -> None:
        """Set the cap (at the start of a run)."""
        self.cap = cap
        self._slots = gevent.lock.BoundedSemaphore(max(cap, 1)) if cap > 0 else None

    def start(
        self,
        *,
        chromium: str,
        chromedriver: str,
        targets: Iterable[str],
        wait: float | None,
        host_map: Iterable[tuple[str, str]] = (),
        sandbox: bool = True,
    ) -> Browser:
        """A new browser, once a slot is free (waiting at most `wait` seconds; None waits until one is)."""
        if self._slots is None or not self._slots.acquire(timeout=wait):
            raise BrowserCapReached(f"all {self.cap} browser slots of this process are in use")
        try:
            browser = _launch(chromium, chromedriver, resolver_rules(targets, host_map), sandbox=sandbox)
        except BaseException:
            self._slots.release()
            raise
        self.live.add(browser)
        self.started += 1
        log.info("started browser #%d (%d of at most %d live; chromedriver pid %s)",
                 self.started, len(self.live), self.cap, browser.pid)  # fmt: skip
        return browser

    def stop(self, browser: Browser) -> None:
        """Quit a browser and free its slot."""
        if browser in self.live:
            self.live.discard(browser)
            try:
                browser.quit()
            finally:  # a user killed while its browser quits still frees the slot
                if self._slots is not None:
                    self._slots.release()

    def stop_all(self) -> None:
        """Quit every browser still running (when the run or the process ends)."""
        for browser in list(self.live):
            self.stop(browser)


def _launch(chromium: str, chromedriver: str, rules: str, *, sandbox: bool) -> Browser:
    profile = tempfile.mkdtemp(prefix="musicstore-traffic-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*QUIET_FLAGS, f"--user-agent={BROWSER_USER_AGENT}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.add_argument(f"--host-resolver-rules={rules}")
    if not sandbox or _is_root():
        options.add_argument("--no-sandbox")  # as root it cannot run; in a container the container is the sandbox
    service = Service(executable_path=chromedriver)
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except BaseException:
        process = getattr(service, "process", None)
        _kill_tree(process.pid if process else None)
        shutil.rmtree(profile, ignore_errors=True)
        raise
    process = getattr(service, "process", None)
    browser = Browser(driver, profile, process.pid if process else None)
    try:
        driver.set_page_load_timeout(30)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"baggage": BAGGAGE}})
    except BaseException:
        browser.quit()
        raise
    return browser


def _is_root() -> bool:
    return os.geteuid() == 0
