"""The Dagster UI as a user gets it: ``dagster dev`` against the emulator, and headless Chromium
driven through Selenium, with a screenshot of every screen a test looks at."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from binance_assets_tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
START_TIMEOUT_S = 120
WAIT_S = 60


def require_chromium() -> None:
    """Skip outside CI when Chromium is missing; in CI a missing browser is a failure."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    reason = f"{CHROMIUM} and {CHROMEDRIVER} are needed (Debian packages chromium, chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


class DagsterDev:
    """``dagster dev`` (webserver, daemon, code server) on a free port, stopped with its children."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (logs / "dagster-dev.log").open("wb")
        command = [str(Path(sys.executable).with_name("dagster")), "dev", "-m", "binance_assets.definitions",
                   "-h", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.wait_until_loaded()

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=30)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def wait_until_loaded(self) -> None:
        query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"dagster dev exited; see {self.log.name}"
            try:
                entries = self.graphql(query)["workspaceOrError"]["locationEntries"]
                if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.5)
        raise AssertionError(f"dagster dev did not load in {START_TIMEOUT_S}s; see {self.log.name}")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


class Browser:
    """Headless Chromium with a screenshot folder; ``look`` saves what the user would see."""

    def __init__(self, base_url: str, screenshots: Path) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.base_url = base_url
        self.welcomed = False
        self.screenshots = screenshots
        screenshots.mkdir(parents=True, exist_ok=True)

    def open(self, path: str) -> None:
        """Load a page; the first one shows Dagster's community dialog, which is skipped."""
        self.driver.get(self.base_url + path)
        if not self.welcomed:
            self.click_text("Skip", "welcome")
            self.welcomed = True

    def look(self, name: str) -> Path:
        """A screenshot and the page source, for the test's record or its failure message."""
        shot = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(shot))
        (self.screenshots / f"{name}.html").write_text(self.driver.page_source)
        return shot

    def wait_for_text(self, text: str, name: str, timeout: float = WAIT_S) -> WebElement:
        """The first element showing ``text``; on timeout, fails naming the screenshot."""
        return self.wait_for(By.XPATH, f"//*[contains(normalize-space(text()), {_literal(text)})]", name, timeout)

    def wait_for(self, by: str, selector: str, name: str, timeout: float = WAIT_S) -> WebElement:
        """The first element ``selector`` finds; on timeout, fails naming the screenshot."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(
                lambda driver: next(iter(driver.find_elements(by, selector)), False)
            )
        except Exception as error:
            shot = self.look(f"{name}-failed")
            raise AssertionError(f"{selector!r} never showed; see {shot} and {shot.with_suffix('.html')}") from error

    def click_text(self, text: str, name: str) -> None:
        element = self.wait_for_text(text, name)
        WebDriverWait(self.driver, WAIT_S).until(lambda _: element.is_displayed() and element.is_enabled())
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    def quit(self) -> None:
        self.driver.quit()


def keep_picture(shot: Path, name: str) -> None:
    """With ``UPDATE_SCREENSHOTS=1``, keep a screenshot in ``docs/`` for the README, in 64
    colours (a few tens of KB instead of a hundred)."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        image = Image.open(shot).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        image.save(ROOT / "docs" / f"{name}.png", optimize=True)


def _literal(text: str) -> str:
    return f'"{text}"' if '"' not in text else f"'{text}'"
