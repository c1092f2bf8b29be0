"""The Dagster UI as a user gets it: ``dagster dev`` (webserver, daemon, code server) against the
emulator, and headless Chromium driven through Selenium, with a screenshot of every screen a test
looks at.

Everything started here is stopped by its context manager, also when starting fails half-way:
``dagster dev`` runs in a process group of its own, which is terminated (and killed if it lingers)
with every process it started — code server, daemon, run workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from binance_assets_tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
START_TIMEOUT_S = 120
WAIT_S = 45  # the longest a screen may take to show what a test waits for
POLL_S = 0.25
RUN_TIMEOUT_S = 150
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
# The parts of the environment that configure the code location or Dagster: the UI under test
# gets only the test's own values, never the caller's (a developer's real key, lake or instance).
FOREIGN_PREFIXES = ("BINANCE_", "LAKE_URL", "ICEBERG_", "AWS_", "DAGSTER_")
# The instance of the UI: no telemetry, no "join the community" dialog over the first page, and
# queued runs launched within a second (Dagster's default looks every 5 s).
INSTANCE_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
"""
# Runs the tests launch themselves execute their steps in the run worker: one process to start
# instead of one per step (the backfill launched by clicks runs as the UI launches it).
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}

T = TypeVar("T")


def require_chromium() -> None:
    """Skip outside CI when Chromium or its driver is missing; in CI (``CI`` set) that fails."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if not missing:
        return
    reason = f"{' and '.join(missing)} missing: the UI tests need Debian's chromium and chromium-driver"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: install them, as .ci/run does)")
    pytest.skip(reason)


class UIError(AssertionError):
    """A failure whose message already names the screenshot and page source it saved."""


class DagsterDev:
    """``dg dev`` (from the project's folder) on a free port with the test's environment
    and a ``DAGSTER_HOME`` of its own; ``graphql`` talks to its webserver."""

    def __init__(self, env: dict[str, str], home: Path, logs: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(INSTANCE_YAML)
        base = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
        # the instance environment docs/operations.md asks for: one planned event per asset of a range
        self.env = {**base, "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1", **env, "DAGSTER_HOME": str(home)}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = logs / "dagster-dev.log"
        self.location = ""
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "DagsterDev":
        command = [str(Path(sys.executable).with_name("dg")), "dev",
                   "-h", "127.0.0.1", "-p", str(self.port)]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_until_loaded()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=30)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def diagnostics(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"dagster dev log {self.log_path} (last {lines} lines):\n" + "\n".join(text)

    def _wait_until_loaded(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"dagster dev exited\n{self.diagnostics()}"
            try:
                entries = self.graphql(WORKSPACE)["workspaceOrError"]["locationEntries"]
            except (requests.ConnectionError, requests.Timeout, requests.HTTPError, ValueError):
                entries = []
            if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                location = entries[0]["locationOrLoadError"]
                assert location["__typename"] == "RepositoryLocation", f"{location}\n{self.diagnostics()}"
                self.location = entries[0]["name"]
                return
            time.sleep(POLL_S)
        raise AssertionError(f"dagster dev did not load in {START_TIMEOUT_S}s\n{self.diagnostics()}")

    def stop_automation(self) -> list[str]:
        """Stop the schedules and sensors that ship running, so that the daemon launches only
        what the tests ask for (no near-real-time run sharing the two cores or the emulator's
        faults, no daily build racing the test's). Returns their names."""
        repository = {"repositoryLocationName": self.location, "repositoryName": "__repository__"}
        data = self.graphql(INSTIGATORS, repository=repository)
        stopped = []
        for schedule in data["schedulesOrError"]["results"]:
            if schedule["scheduleState"]["status"] == "RUNNING":
                result = self.graphql(STOP_SCHEDULE, id=schedule["scheduleState"]["id"])["stopRunningSchedule"]
                assert result["__typename"] == "ScheduleStateResult", result
                stopped.append(schedule["name"])
        for sensor in data["sensorsOrError"]["results"]:
            if sensor["sensorState"]["status"] == "RUNNING":
                result = self.graphql(STOP_SENSOR, id=sensor["sensorState"]["id"])["stopSensor"]
                assert result["__typename"] == "StopSensorMutationResult", result
                stopped.append(sensor["name"])
        return stopped

    def launch_run(
        self,
        assets: Sequence[str],
        partition: str | None = None,
        partition_range: tuple[str, str] | None = None,
        config: dict | None = None,
    ) -> str:
        """Launch a materialization of ``assets`` (``PAIR/name``) as the UI's Materialize button
        does (the run queue, then the daemon); a range is one run (single-run backfill policy).
        Its steps run in the run worker's process."""
        tags = []
        if partition is not None:
            tags.append({"key": "dagster/partition", "value": partition})
        if partition_range is not None:
            tags += [{"key": "dagster/asset_partition_range_start", "value": partition_range[0]},
                     {"key": "dagster/asset_partition_range_end", "value": partition_range[1]}]  # fmt: skip
        params = {
            "selector": {
                "repositoryLocationName": self.location, "repositoryName": "__repository__",
                "jobName": "__ASSET_JOB", "assetSelection": [{"path": key.split("/")} for key in assets],
            },  # fmt: skip
            "runConfigData": {**IN_PROCESS, **(config or {})},
            "executionMetadata": {"tags": tags},
            "mode": "default",
        }
        result = self.graphql(LAUNCH_RUN, params=params)["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def wait_for_run(self, run_id: str, timeout_s: float = RUN_TIMEOUT_S) -> str:
        """The run's final status."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.graphql(RUN_STATUS, id=run_id)["runOrError"]["status"]
            if status in FINISHED:
                return status
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} not finished in {timeout_s}s\n{self.diagnostics()}")

    def wait_until_idle(self, timeout_s: float = 2 * RUN_TIMEOUT_S) -> None:
        """Wait until no run is queued or in progress: the runs the sensors launched on their first
        tick, before ``stop_automation``, would otherwise share the two cores and pool ``binance``
        with a test's own run (a backfill of 12 hour-steps once waited past its 150 s behind four)."""
        deadline, idle_polls = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline:
            idle_polls = 0 if self.graphql(ACTIVE_RUNS)["runsOrError"]["results"] else idle_polls + 1
            if idle_polls == 3:  # idle for 2 s: a tick that was under way when stopped has launched
                return
            time.sleep(1)
        raise AssertionError(f"runs still active after {timeout_s}s\n{self.diagnostics()}")

    def stop(self) -> None:
        """Terminate the process group (dagster dev stops its children), then kill what is left."""
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(5)  # nothing of a test's instance needs a longer graceful stop
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # stragglers: a run worker, a code server
        except ProcessLookupError:
            pass
        process.wait(10)


WORKSPACE = """{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
INSTIGATORS = """query($repository: RepositorySelector!) {
    schedulesOrError(repositorySelector: $repository) {
        ... on Schedules { results { name scheduleState { id status } } } }
    sensorsOrError(repositorySelector: $repository) {
        ... on Sensors { results { name sensorState { id status } } } } }"""
STOP_SCHEDULE = """mutation($id: String) { stopRunningSchedule(id: $id) {
    __typename ... on PythonError { message } } }"""
STOP_SENSOR = """mutation($id: String) { stopSensor(id: $id) {
    __typename ... on PythonError { message } } }"""
LAUNCH_RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
    ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""
ACTIVE_RUNS = """query { runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) {
  ... on Runs { results { runId status } } } }"""


class Browser:
    """Headless Chromium; every wait fails with a screenshot and the page source, named in the
    message; ``look`` saves what the user sees."""

    def __init__(self, base_url: str, screenshots: Path) -> None:
        self.base_url = base_url
        self.screenshots = screenshots
        screenshots.mkdir(parents=True, exist_ok=True)
        self.driver: webdriver.Chrome | None = None

    def __enter__(self) -> "Browser":
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1400,900", "--force-device-scale-factor=1"):  # fmt: skip
            options.add_argument(argument)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.driver is not None:
            self.driver.quit()
            self.driver = None

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def look(self, name: str) -> Path:
        """Save a screenshot (``name.png``) and the page source (``name.html``)."""
        shot = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(shot))
        shot.with_suffix(".html").write_text(self.driver.page_source)
        return shot

    def failure(self, name: str, message: str) -> UIError:
        """An assertion error naming the screenshot and page source saved for it."""
        try:
            shot = self.look(f"{name}-failed")
            where = f"screenshot {shot}, page source {shot.with_suffix('.html')}"
        except WebDriverException as error:
            where = f"no screenshot ({error.msg})"
        return UIError(f"{message}\n{where}; page {self.driver.current_url}")

    @contextmanager
    def recording(self, name: str) -> Iterator[None]:
        """Any failure inside (an assertion, a Selenium or GraphQL error) is reported with a
        screenshot and the page source of the moment."""
        try:
            yield
        except UIError:
            raise
        except Exception as error:
            raise self.failure(name, f"{type(error).__name__}: {error}") from error

    def wait(self, condition: Callable[[webdriver.Chrome], T], what: str, name: str, timeout: float = WAIT_S) -> T:
        """``condition``'s first truthy value, polled every ``POLL_S``; on timeout a failure."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=POLL_S).until(condition)
        except TimeoutException as error:
            raise self.failure(name, f"{what} not seen in {timeout:.0f}s") from error
        except Exception as error:
            raise self.failure(name, f"waiting for {what}: {type(error).__name__}: {error}") from error

    def wait_for(self, by: str, selector: str, name: str, timeout: float = WAIT_S, displayed: bool = True) -> WebElement:
        """The first element ``selector`` finds (that is displayed, unless ``displayed`` is
        false: a checkbox input hidden behind its drawn box)."""
        def found(driver: webdriver.Chrome) -> WebElement | bool:
            return next((e for e in driver.find_elements(by, selector) if not displayed or e.is_displayed()), False)

        return self.wait(found, repr(selector), name, timeout)

    def filter_for(self, field: str, text: str, item: str, name: str, timeout: float = WAIT_S) -> WebElement:
        """Type ``text`` into the filter field ``field`` (an XPath) and return the first displayed
        ``item`` (an XPath) the filtered list shows. The field is typed into again whenever it does
        not hold ``text``: the page may draw a new, empty field meanwhile (the UI remounts a list
        when its data refreshes), and an unfiltered list of thousands of hours draws only its top."""
        def found(driver: webdriver.Chrome) -> WebElement | bool:
            try:
                box = next((e for e in driver.find_elements(By.XPATH, field) if e.is_displayed()), None)
                if box is None:
                    return False
                if box.get_attribute("value") != text:
                    box.send_keys(Keys.CONTROL, "a")  # typing replaces the selection
                    box.send_keys(text)
                    return False
                return next((e for e in driver.find_elements(By.XPATH, item) if e.is_displayed()), False)
            except StaleElementReferenceException:  # drawn anew between finding and reading it
                return False

        return self.wait(found, f"{item!r} after filtering for {text!r}", name, timeout)

    def wait_for_text(self, text: str, name: str, exact: bool = False, timeout: float = WAIT_S) -> WebElement:
        """The first displayed element whose own text is (or, unless ``exact``, contains) ``text``."""
        return self.wait_for(By.XPATH, text_xpath(text, exact), name, timeout)

    def show(self, element: WebElement) -> None:
        """Scroll ``element`` to the middle of the window."""
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)

    def click(self, element: WebElement) -> None:
        self.show(element)
        element.click()

    def click_text(self, text: str, name: str, exact: bool = True) -> None:
        element = self.wait_for_text(text, name, exact)
        self.wait(lambda _: element.is_enabled(), f"{text!r} enabled", name)
        self.click(element)

    def rect(self, element: WebElement) -> tuple[int, int, int, int]:
        """The element's box in the screenshot's pixels (left, top, right, bottom)."""
        box = self.driver.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];", element
        )
        return tuple(round(v) for v in box)


def text_xpath(text: str, exact: bool = False) -> str:
    literal = f'"{text}"' if '"' not in text else f"'{text}'"
    test = f"normalize-space(text())={literal}" if exact else f"contains(normalize-space(text()), {literal})"
    return f"//*[{test}]"


def keep_picture(shot: Path, name: str, box: tuple[int, int, int, int] | None = None, pad: int = 16) -> Path | None:
    """With ``UPDATE_SCREENSHOTS=1``, keep a screenshot as ``docs/{name}.png`` for the README:
    cropped to ``box`` (plus ``pad``), in 64 colours (tens of KB, not hundreds)."""
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return None
    image = Image.open(shot).convert("RGB")
    if box is not None:
        left, top, right, bottom = box
        image = image.crop((max(left - pad, 0), max(top - pad, 0),
                            min(right + pad, image.width), min(bottom + pad, image.height)))  # fmt: skip
    target = DOCS / f"{name}.png"
    DOCS.mkdir(exist_ok=True)
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return target
