"""A real browser for tests: Debian's chromedriver driving headless Chromium over the W3C
WebDriver protocol (plain JSON over HTTP, with requests: no client library).
https://www.w3.org/TR/webdriver2/"""

import contextlib
import shutil
import subprocess

import requests

from .servers import free_port, wait_for

CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference


class Browser:
    """One WebDriver session: open a page, click an element, read the page."""

    def __init__(self, base):
        self.base = base

    def _call(self, method, path, body=None):
        answer = requests.request(method, f"{self.base}{path}", json=body, timeout=60)
        value = answer.json().get("value")
        if answer.status_code >= 400:
            raise AssertionError(f"webdriver {method} {path}: {value}")
        return value

    def open(self, url):
        self._call("POST", "/url", {"url": url})

    def click(self, css):
        found = self._call("POST", "/element", {"using": "css selector", "value": css})
        assert ELEMENT in (found or {}), f"no element {css!r}: {found}"
        self._call("POST", f"/element/{found[ELEMENT]}/click", {})

    @property
    def source(self):
        return self._call("GET", "/source")

    @property
    def url(self):
        return self._call("GET", "/url")


@contextlib.contextmanager
def browser(profile_dir):
    """A headless Chromium session (its profile in `profile_dir`), closed afterwards."""
    port = free_port()
    driver = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/status")
        options = {
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={profile_dir}",
            ],
        }
        capabilities = {"alwaysMatch": {"goog:chromeOptions": options}}
        answer = requests.post(f"{base}/session", json={"capabilities": capabilities}, timeout=60)
        session = answer.json()["value"]["sessionId"]
        try:
            yield Browser(f"{base}/session/{session}")
        finally:
            requests.delete(f"{base}/session/{session}", timeout=30)
    finally:
        driver.terminate()
        driver.wait(timeout=10)
