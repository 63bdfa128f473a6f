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
# The errors a page answers while it is being replaced by the next one (a form just submitted):
# its old elements are gone and the new document has none yet.
# https://www.w3.org/TR/webdriver2/#errors
BETWEEN_PAGES = {"no such element", "stale element reference"}


class BetweenPages(AssertionError):
    """The element asked for is not there (yet): the page may be in the middle of navigating."""


class Browser:
    """One WebDriver session: open a page, click an element, read the page."""

    def __init__(self, base):
        self.base = base

    def _call(self, method, path, body=None):
        answer = requests.request(method, f"{self.base}{path}", json=body, timeout=60)
        value = answer.json().get("value")
        if answer.status_code >= 400:
            error = value.get("error") if isinstance(value, dict) else None
            kind = BetweenPages if error in BETWEEN_PAGES else AssertionError
            raise kind(f"webdriver {method} {path}: {value}")
        return value

    def open(self, url):
        self._call("POST", "/url", {"url": url})

    def _element(self, css):
        found = self._call("POST", "/element", {"using": "css selector", "value": css})
        assert ELEMENT in (found or {}), f"no element {css!r}: {found}"
        return found[ELEMENT]

    def click(self, css):
        self._call("POST", f"/element/{self._element(css)}/click", {})

    def type(self, css, text):
        """Type `text` into the input (after clearing it)."""
        element = self._element(css)
        self._call("POST", f"/element/{element}/clear", {})
        self._call("POST", f"/element/{element}/value", {"text": text})

    def choose(self, css, value):
        """Pick the <option> with this value of a <select>, as a person would click it."""
        self.click(f"{css} option[value='{value}']")

    def count(self, css):
        found = self._call("POST", "/elements", {"using": "css selector", "value": css})
        return len(found or [])

    def text(self, css="body"):
        return self._call("GET", f"/element/{self._element(css)}/text")

    def run(self, script, *args):
        """The value of a JavaScript function body run in the page."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def prefer_dark(self, dark=True):
        """Emulate the system's dark (or light) theme, through Chromium's DevTools command."""
        value = "dark" if dark else "light"
        features = [{"name": "prefers-color-scheme", "value": value}]
        self._call(
            "POST",
            "/goog/cdp/execute",
            {"cmd": "Emulation.setEmulatedMedia", "params": {"features": features}},
        )

    def size(self, width, height):
        self._call("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path):
        """A PNG of the whole page (taller than the window when it scrolls) at `path`."""
        import base64

        height = self.run("return document.documentElement.scrollHeight")
        width = self.run("return window.outerWidth")
        self.size(width, min(max(height + 140, 600), 8000))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))

    def wait_until(self, condition, timeout=20, what="the condition"):
        """Poll `condition()` until it is true; AssertionError after `timeout` seconds. A
        condition that finds no element (the page between two documents) is not true yet."""
        import time

        deadline = time.monotonic() + timeout
        while not self._holds(condition):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not happen in {timeout} s")
            time.sleep(0.25)

    @staticmethod
    def _holds(condition):
        try:
            return condition()
        except BetweenPages:
            return False

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
                "--window-size=1280,900",
                "--hide-scrollbars",
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
