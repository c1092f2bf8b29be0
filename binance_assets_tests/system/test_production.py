"""The production deployment end to end: deploy/dagster.yaml and deploy/workspace.yaml with
PostgreSQL storage, S3 compute logs (moto), a separate gRPC code server, dagster-webserver and
dagster-daemon as processes, and a 48-hour backfill of the whole graph launched through GraphQL
as the UI launches it.

Needs PostgreSQL (``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD``, default postgres@127.0.0.1:5432);
without it the test skips, unless ``CI`` is set, where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from dagster import AssetCheckKey

from binance_assets.assets.pair import pair_assets
from binance_assets.binance.client import BinanceResource
from binance_assets_tests.postgres import PG, fresh_database
from binance_assets_tests.runs import API_KEY, API_SECRET
from binance_assets_tests.servers import MotoS3Server, free_port
from binance_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
LOCATION = "binance_assets"
FIRST_HOUR = "2025-01-01-00:00"
HOURS = [f"2025-01-{1 + h // 24:02d}-{h % 24:02d}:00" for h in range(48)]
PAIRS = ("BTCUSDT", "BTCUSD")  # binance.com and binance.us spellings, both served by the emulator
ASSETS = [[pair, name] for pair in PAIRS for name in ("raw_candles", "candles", "raw_orders", "orders")]
COMPUTE_LOGS_BUCKET = "dagster-compute-logs"
BACKFILL_TIMEOUT_S = 150
BUDGET = 6000 * BinanceResource().weight_budget  # the limit the emulator advertises

@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database for this run's Dagster instance; its URL uses the +psycopg2 driver as
    deploy/dagster.yaml requires."""
    with fresh_database("dagster_test") as url:
        yield url


class Service:
    """A Dagster process with its output in a log file, shown when the test fails."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return f"--- {self.name} ---\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


class Deployment:
    """Code server, webserver and daemon started the way deploy/README.md says."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.services: list[Service] = []
        self.url = f"http://127.0.0.1:{free_port()}"

    def start(self, name: str, *args: str) -> None:
        self.services.append(Service(name, list(args), self.env, self.logs))

    def start_daemon(self) -> None:
        self.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", str(DEPLOY / "workspace.yaml"))

    def diagnostics(self) -> str:
        return "\n".join(service.tail() for service in self.services)

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = requests.post(
            self.url + "/graphql", json={"query": query, "variables": variables}, timeout=60
        )
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_for_port(self, port: int, timeout_s: float = 60) -> None:
        """Until the code server listens: the webserver loads the location once, at start."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        raise AssertionError(f"nothing listens on {port} after {timeout_s}s\n{self.diagnostics()}")

    def wait_for_location(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                entries = self.graphql(WORKSPACE)["workspaceOrError"]["locationEntries"]
            except (requests.ConnectionError, ValueError):
                entries = []
            loaded = [e for e in entries if e["name"] == LOCATION and e["loadStatus"] == "LOADED"]
            if loaded:
                error = loaded[0]["locationOrLoadError"]
                assert error["__typename"] == "RepositoryLocation", f"{error}\n{self.diagnostics()}"
                return
            for service in self.services:
                assert service.process.poll() is None, f"{service.name} exited\n{self.diagnostics()}"
            time.sleep(0.5)
        raise AssertionError(f"code location not loaded in {timeout_s}s\n{self.diagnostics()}")

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


WORKSPACE = """{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

SCHEDULES = """query { schedulesOrError(repositorySelector:
    {repositoryLocationName: "binance_assets", repositoryName: "__repository__"}) {
    ... on Schedules { results { name scheduleState { id status } } } } }"""

STOP_SCHEDULE = """mutation($id: String) { stopRunningSchedule(id: $id) {
    __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }"""

LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) {
    launchPartitionBackfill(backfillParams: $params) {
        __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message stack } } }"""

BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs(limit: 50) { runId status } } } }"""

ASSET_NODES = """query { assetNodes {
    assetKey { path } dependencyKeys { path }
    partitionStats { numMaterialized numFailed } } }"""

CHECK_EXECUTIONS = """query($asset: AssetKeyInput!, $check: String!) {
    assetCheckExecutions(assetKey: $asset, checkName: $check, limit: 200) {
        runId status partition evaluation { success severity } } }"""

SENSORS = """query { sensorsOrError(repositorySelector:
    {repositoryLocationName: "binance_assets", repositoryName: "__repository__"}) {
    ... on Sensors { results { name sensorState { id status } } } } }"""

STOP_SENSOR = """mutation($id: String!) { stopSensor(id: $id) { __typename } }"""


@pytest.fixture
def deployment(
    database: str, s3_server: MotoS3Server, tmp_path: Path
) -> Iterator[tuple[Deployment, EmulatorProcess, Path]]:
    s3_server.create_bucket(COMPUTE_LOGS_BUCKET)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    lake = tmp_path / "lake"
    logs = tmp_path / "logs"
    logs.mkdir()
    code_port = free_port()
    with EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET) as emulator:
        env = {
            **os.environ,
            **s3_server.env(),
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_URL": database,
            "DAGSTER_COMPUTE_LOGS_BUCKET": COMPUTE_LOGS_BUCKET,
            "DAGSTER_EVENT_BATCH_SIZE": "200",
            "DAGSTER_CODE_SERVER_HOST": "127.0.0.1",
            "DAGSTER_CODE_SERVER_PORT": str(code_port),
            "BINANCE_API_URL": emulator.url,
            "BINANCE_ARCHIVE_URL": emulator.url,
            "BINANCE_API_KEY": API_KEY,
            "BINANCE_API_SECRET": API_SECRET,
            "BINANCE_START_DATE": FIRST_HOUR,
            "BINANCE_SYMBOLS": ",".join(PAIRS),
            "LAKE_URL": str(lake),
            # the daemon's automation builds each complete day into the Iceberg tables
            "ICEBERG_CATALOG_URI": f"sqlite:///{tmp_path}/catalog.db",
        }
        env.pop("CI", None)
        deploy = Deployment(env, logs)
        workspace = str(DEPLOY / "workspace.yaml")
        try:
            deploy.start(
                "code-server", str(BIN / "dagster"), "code-server", "start",
                "-m", "binance_assets.definitions", "-h", "127.0.0.1", "-p", str(code_port),
            )  # fmt: skip
            deploy.wait_for_port(code_port)
            port = deploy.url.rsplit(":", 1)[1]
            deploy.start(
                "webserver", str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", port
            )
            deploy.wait_for_location()
            # The schedules ship running; stop them before the daemon starts so that no scheduled
            # run shares the emulator's budget with the backfill under test.
            stop_default_running_schedules(deploy)
            yield deploy, emulator, lake
        finally:
            deploy.stop()


def stop_default_running_schedules(deploy: Deployment) -> None:
    schedules = deploy.graphql(SCHEDULES)["schedulesOrError"]["results"]
    states = {s["name"]: s["scheduleState"]["status"] for s in schedules}
    assert states == {
        "candles_hourly": "RUNNING",
        "candles_near_real_time": "RUNNING",
        "orders_hourly": "RUNNING",  # credentials are configured
        "orders_near_real_time": "RUNNING",
    }
    for schedule in schedules:
        result = deploy.graphql(STOP_SCHEDULE, id=schedule["scheduleState"]["id"])["stopRunningSchedule"]
        assert result["__typename"] == "ScheduleStateResult", result
    # so is the healing sensor: its first tick would fetch the emulator's last hours
    (heal,) = [s for s in deploy.graphql(SENSORS)["sensorsOrError"]["results"] if s["name"] == "heal_hours"]
    assert heal["sensorState"]["status"] == "RUNNING"
    assert deploy.graphql(STOP_SENSOR, id=heal["sensorState"]["id"])["stopSensor"]["__typename"] == "StopSensorMutationResult"


def wait_for_backfill(deploy: Deployment, backfill_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    while time.monotonic() < deadline:
        backfill = deploy.graphql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
        if backfill["status"] not in ("REQUESTED", "CANCELING"):
            return backfill
        time.sleep(2)
    raise AssertionError(f"backfill not finished in {BACKFILL_TIMEOUT_S}s\n{deploy.diagnostics()}")


def test_backfill_of_48_hours_through_the_webserver(
    deployment: tuple[Deployment, EmulatorProcess, Path], s3_server: MotoS3Server
) -> None:
    deploy, emulator, lake = deployment
    launched = time.monotonic()
    result = deploy.graphql(
        LAUNCH_BACKFILL,
        params={"partitionNames": HOURS, "assetSelection": [{"path": key} for key in ASSETS]},
    )["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    # The backfill daemon looks for work every 30 s; started now, its first pass finds the
    # backfill at once (the queue, pools and retries are the daemon's as in production).
    deploy.start_daemon()

    backfill = wait_for_backfill(deploy, result["backfillId"])
    elapsed = time.monotonic() - launched
    print(f"backfill of {len(HOURS)} hours × {len(ASSETS)} assets: {elapsed:.1f}s, runs {backfill['runs']}")
    assert backfill["status"] == "COMPLETED_SUCCESS", f"{backfill}\n{deploy.diagnostics()}"
    assert backfill["runs"] and all(run["status"] == "SUCCESS" for run in backfill["runs"])

    nodes = {tuple(n["assetKey"]["path"]): n for n in deploy.graphql(ASSET_NODES)["assetNodes"]}
    for key in ASSETS:
        assert nodes[tuple(key)]["partitionStats"] == {"numMaterialized": len(HOURS), "numFailed": 0}
    lineage = {"/".join(key): [d["path"] for d in node["dependencyKeys"]] for key, node in nodes.items()}
    for pair in PAIRS:
        assert lineage[f"{pair}/candles"] == [[pair, "raw_candles"]]
        assert lineage[f"{pair}/orders"] == [[pair, "raw_orders"]]

    run_ids = {run["runId"] for run in backfill["runs"]}
    for pair in PAIRS:
        for check_key in (key for dataset in pair_assets(pair, FIRST_HOUR) for key in dataset.cooked.check_keys):
            assert_check_passed_on_every_hour(deploy, check_key, run_ids)

    for dataset in ("candles", "orders"):
        for pair in PAIRS:
            markers = list((lake / "raw" / dataset / f"symbol={pair}").rglob("_SUCCESS"))
            assert len(markers) == len(HOURS), (dataset, pair)

    stats = emulator.stats()
    print(f"emulator: max weight/min {stats['max_weight_per_minute']}, requests {stats['requests']}")
    assert stats["max_weight_per_minute"] <= BUDGET
    assert stats["status_429"] == 0 and stats["status_418"] == 0

    compute_logs = s3_server.client().list_objects_v2(Bucket=COMPUTE_LOGS_BUCKET).get("Contents", [])
    assert compute_logs, "step logs were not uploaded to the S3 compute log bucket"
    assert_secret_nowhere(deploy.env["DAGSTER_PG_URL"], s3_server, compute_logs)


def assert_check_passed_on_every_hour(deploy: Deployment, check_key: AssetCheckKey, run_ids: set[str]) -> None:
    """The backfill's range run records one result per hour and check, as one-hour runs do."""
    executions = deploy.graphql(
        CHECK_EXECUTIONS, asset={"path": check_key.asset_key.path}, check=check_key.name
    )["assetCheckExecutions"]
    evaluated = {e["partition"]: e["evaluation"] for e in executions if e["runId"] in run_ids and e["evaluation"]}
    assert sorted(evaluated) == HOURS, (check_key, sorted(evaluated)[:5])
    assert all(e["success"] for e in evaluated.values()), (check_key, evaluated)


def assert_secret_nowhere(pg_url: str, s3_server: MotoS3Server, compute_logs: list[dict]) -> None:
    """The API secret is in no stored event, run, tag or step log."""
    database = pg_url.rsplit("/", 1)[1]
    with psycopg2.connect(dbname=database, **PG) as connection, connection.cursor() as cursor:
        for table, column in (("event_logs", "event"), ("runs", "run_body"), ("run_tags", "value")):
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} LIKE %s", (f"%{API_SECRET}%",))
            assert cursor.fetchone()[0] == 0, table
    client = s3_server.client()
    for item in compute_logs:
        body = client.get_object(Bucket=COMPUTE_LOGS_BUCKET, Key=item["Key"])["Body"].read()
        assert API_SECRET.encode() not in body, item["Key"]
