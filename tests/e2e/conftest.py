"""Browser tests: Debian's Chromium (headless, via chromedriver) against a live gunicorn.

Nothing downloads a browser: the tests use /usr/bin/chromium and /usr/bin/chromedriver
(`make e2e-deps` installs them with apt-get) and skip with the reason when they are missing.
The server runs in its own process on 127.0.0.1 and a free port, on a scratch SQLite database
migrated and loaded with the demo data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.live import CLI, REPO, free_port, gunicorn

CHROMIUM = Path(os.environ.get("DCC_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("DCC_E2E_CHROMEDRIVER", "/usr/bin/chromedriver"))
HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE / "screenshots"
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
    "--lang=fr-FR",
)


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (run `make e2e-deps`)"
    if not CHROMEDRIVER.exists():
        return f"chromedriver is not installed at {CHROMEDRIVER} (run `make e2e-deps`)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not AXE.exists():
        return f"axe-core is not installed at {AXE} (run `make e2e-deps`)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("DCC_REQUIRE_E2E") == "1":
        # CI installs the browser: a missing one there is a failure, not a skip
        raise pytest.UsageError(f"browser tests required (DCC_REQUIRE_E2E=1): {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed browser test shows the end of the live server's log beside its traceback."""
    report = yield
    server = getattr(item, "funcargs", {}).get("live_server")
    if report.failed and isinstance(server, LiveServer) and server.log.exists():
        tail = server.log.read_text(encoding="utf-8", errors="replace")[-4000:]
        report.sections.append(("live server log (end)", tail))
    return report


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        url = path if path.startswith("http") else self.url + path
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local server
            return response.status, response.read(), dict(response.headers)


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """gunicorn (2 workers) on a free port with a migrated scratch database and the demo data."""
    if _missing():
        pytest.skip(_missing() or "")
    workdir = Path(tempfile.mkdtemp(prefix="dcc-e2e-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DCC_ENV": "development",
        "DCC_DATABASE_URL": f"sqlite:///{workdir / 'e2e.sqlite3'}",
        "DCC_INSTANCE_DIR": str(workdir),
        "DCC_PUBLIC_URL": url,
        "DCC_LOG_LEVEL": "WARNING",
        "DCC_LOG_FORMAT": "text",
        "DCC_RATE_LIMIT_FEEDS": "1000/minute",
        # a worker that dies of a signal leaves the Python stack of every thread in the log
        "PYTHONFAULTHANDLER": "1",
    }
    for args in (["db", "upgrade"], ["demo"]):
        subprocess.run([*CLI, *args], env=env, cwd=REPO, check=True, capture_output=True)
    log = workdir / "server.log"
    options = (
        *("--workers", "2", "--timeout", "60"),
        # threaded workers, as in production: a browser's idle pre-connected socket would
        # otherwise hold a sync worker until its timeout kills it, and the POST Chromium then
        # sends on that socket gets an empty response
        *("--worker-class", "gthread", "--threads", "4"),
    )
    try:
        with gunicorn(port, env, log, options) as process:
            yield LiveServer(url, process, log)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[Any]:
    """A fresh headless Chromium (own profile: no cookie survives between tests)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="dcc-e2e-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(2)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Pages:
    """What the scenarios do with the browser: sign in, fill forms, check, take screenshots."""

    def __init__(self, driver: Any, server: LiveServer) -> None:
        self.driver = driver
        self.server = server

    def open(self, path: str) -> None:
        self.driver.get(self.server.url + path)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    @property
    def text(self) -> str:
        return str(self.find("body").text)

    def go(self, css_or_element: Any) -> None:
        """Click a link or submit button and wait for the next page to replace this one."""
        from selenium.webdriver.support.ui import WebDriverWait

        # mark the current document; the next one will not carry the mark (no element handle
        # is kept: Chromium reports a detached node as an "inspector error", not as stale)
        self.driver.execute_script("window.__dccLeaving = true")
        element = self.find(css_or_element) if isinstance(css_or_element, str) else css_or_element
        element.click()
        from selenium.common.exceptions import WebDriverException

        # scripts can fail while the old document unloads: that is "not yet", not an error
        WebDriverWait(self.driver, 15, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return !window.__dccLeaving && document.readyState === 'complete'"
            )
        )

    def sign_in(self, user: str) -> None:
        self.open("/web/connexion")
        self.find(f"label[for='user-{user}']").click()
        self.go("#demo-login")
        assert "Connecté" in self.text

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, max(800, min(int(height) + 40, 6000)))
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
        self.driver.set_window_size(1280, 1600)

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations (WCAG 2.1 A and AA rules) on this page."""
        self.driver.execute_script(AXE.read_text(encoding="utf-8"))
        self.driver.set_script_timeout(30)
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
            ".then(r => done(JSON.stringify(r.violations)))"
            ".catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', "
            "help: String(e), nodes: []}])));"
        )
        violations = json.loads(result)
        return [v for v in violations if v.get("impact") in ("serious", "critical")]


@pytest.fixture
def pages(browser: Any, live_server: LiveServer) -> Pages:
    return Pages(browser, live_server)
