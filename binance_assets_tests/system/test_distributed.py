"""The Celery variant (deploy/celery/) end to end: a single-run range of three pairs × six hours,
its steps executed by two Celery worker processes, against the single-process path.

Real servers over real sockets: Redis as the broker and result backend (the machine's at
127.0.0.1:6379, else a private ``redis-server`` started here), a fresh PostgreSQL database for the
Dagster instance and one for the Iceberg catalog, moto's S3 server for the lake and the compute
logs, the Binance emulator, and two ``dagster-celery worker start`` processes.

The workers share only the broker, PostgreSQL and S3 with the process that launches the run. Each
has its own ``DAGSTER_HOME`` and the real settings; the launcher gets settings no step can use (a
Binance URL where nothing listens, a lake bucket that does not exist, an unreachable catalog), so
a step that read the launcher's environment would fail instead of passing.

Needs PostgreSQL (see postgres.py) and Redis or ``redis-server`` (``.ci/run`` installs and starts
it): skipped without them, failed instead when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg2
import pytest
import redis
from celery import Celery
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    EventLogEntry,
    serialize_value,
)

from binance_assets.binance.client import BinanceResource
from binance_assets_tests.cli import cli_env, materialize_cli
from binance_assets_tests.lake_files import s3_files
from binance_assets_tests.postgres import PG, fresh_database
from binance_assets_tests.runs import API_KEY, API_SECRET
from binance_assets_tests.servers import MotoS3Server, free_port
from binance_emulator.process import EmulatorProcess

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
CELERY = ROOT / "deploy" / "celery"
BIN = Path(sys.executable).parent
PAIRS = ("BTCUSDT", "BTCUSDC", "BTCFDUSD")
DATASET_ASSETS = ("raw_candles", "candles")
FIRST_HOUR = "2025-03-01-00:00"
HOURS = [f"2025-03-01-{hour:02d}:00" for hour in range(13, 19)]
SELECTION = ",".join(f"{pair}/{name}" for pair in PAIRS for name in DATASET_ASSETS)
PARTITION_RANGE = f"{HOURS[0]}...{HOURS[-1]}"
# raw JSON, its _SUCCESS and the cooked Parquet file of every pair and hour
LAKE_FILES = len(PAIRS) * len(HOURS) * 3
BUDGET = 6000 * BinanceResource().weight_budget  # the limit the emulator advertises
REDIS_URL = os.getenv("DAGSTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER_START_S = 60
RUN_TIMEOUT_S = 240
# Variables a step could read: none is inherited from the environment the tests run in.
OWN_VARIABLES = ("BINANCE_", "AWS_", "DAGSTER_", "ICEBERG_", "LAKE_URL")


def unavailable(reason: str) -> None:
    if os.getenv("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """The Redis URL the broker, the result backend and the workers use: the machine's server when
    it answers (``.ci/run`` starts one), else a private ``redis-server`` on a free port."""
    if redis_answers(REDIS_URL):
        yield REDIS_URL
        return
    server = shutil.which("redis-server")
    if server is None:
        unavailable(f"no Redis answers at {REDIS_URL} and redis-server is not installed")
    port = free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(url):
            assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def process_group(pgid: int) -> list[int]:
    """The processes of a process group still alive (zombies included), from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                members.append(int(entry.name))
    return members


def pgid_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
    except OSError:
        return None


class Worker:
    """``dagster-celery worker start`` as deploy/celery/README.md starts it, in a process group of
    its own: the CLI, the celery worker it starts and the worker's pool process."""

    def __init__(self, name: str, queue: str, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
             "-y", str(CELERY / "celery.yaml"), "-q", queue, "-n", name, "-l", "INFO",
             "--", "--concurrency=1", "--without-mingle", "--without-gossip"],
            env=env, cwd=env["DAGSTER_HOME"], stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ready(self) -> bool:
        assert self.process.poll() is None, f"worker {self.name} exited\n{self.log()[-3000:]}"
        return " ready." in self.log()

    def nodename(self) -> str:
        """Celery's name for the worker (``NAME@HOST``), the address of its remote control."""
        return re.search(r"(\S+@\S+) ready\.", self.log()).group(1)

    def received_a_step(self) -> bool:
        return "Task execute_plan[" in self.log()

    def stop(self) -> None:
        """SIGTERM to the whole group (Celery's warm shutdown), SIGKILL to what is left after 15 s."""
        group = self.process.pid
        for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                self.process.poll()
                if not [pid for pid in process_group(group) if pid != self.process.pid] and (
                    self.process.returncode is not None
                ):
                    break
                time.sleep(0.1)
        self.process.wait(5)
        self._log.close()
        left = process_group(group)
        assert not left, f"worker {self.name} left processes {left}"


@dataclass
class Cluster:
    """What the test shares with the processes it starts."""

    emulator: EmulatorProcess
    s3: MotoS3Server
    bucket: str
    logs_bucket: str
    dagster_pg_url: str
    broker: str
    queue: str
    workers: list[Worker]
    tmp: Path

    def worker_log_text(self) -> str:
        return "\n".join(f"--- {w.name} ---\n{w.log()[-4000:]}" for w in self.workers)


def clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)} | {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"  # dagster-celery runs `celery`
    }


def dagster_home(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(CELERY / "dagster.yaml", folder / "dagster.yaml")
    return folder


def instance_env(cluster: Cluster, home: Path) -> dict[str, str]:
    """What every process of the deployment needs: the shared instance and the broker."""
    return {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": cluster.dagster_pg_url,
        "DAGSTER_COMPUTE_LOGS_BUCKET": cluster.logs_bucket,
        "DAGSTER_EVENT_BATCH_SIZE": "200",
        "DAGSTER_CELERY_BROKER_URL": cluster.broker,
        "DAGSTER_CELERY_BACKEND_URL": cluster.broker,
        "DAGSTER_CELERY_QUEUE": cluster.queue,
        "BINANCE_SYMBOLS": ",".join(PAIRS),
        "BINANCE_START_DATE": FIRST_HOUR,
        **cluster.s3.env(),
    }


@pytest.fixture
def cluster(broker: str, s3_server: MotoS3Server, tmp_path: Path) -> Iterator[Cluster]:
    tag = uuid.uuid4().hex[:10]
    bucket, logs_bucket = f"celery-lake-{tag}", f"celery-logs-{tag}"
    s3_server.create_bucket(bucket)
    s3_server.create_bucket(logs_bucket)
    logs = tmp_path / "logs"
    logs.mkdir()
    with (
        fresh_database("dagster_celery") as dagster_pg_url,
        fresh_database("iceberg_celery") as iceberg_pg_url,
        EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET) as emulator,
    ):
        cluster = Cluster(
            emulator, s3_server, bucket, logs_bucket, dagster_pg_url, broker,
            queue=f"binance-test-{tag}", workers=[], tmp=tmp_path,
        )  # fmt: skip
        try:
            for name in ("a", "b"):
                env = clean_environ() | instance_env(cluster, dagster_home(tmp_path / f"worker-{name}")) | {
                    "BINANCE_API_URL": emulator.url,
                    "BINANCE_ARCHIVE_URL": emulator.url,
                    "BINANCE_API_KEY": API_KEY,
                    "BINANCE_API_SECRET": API_SECRET,
                    "LAKE_URL": f"s3://{bucket}/distributed",
                    "ICEBERG_CATALOG_URI": iceberg_pg_url,
                    "PYTHONPATH": str(ROOT),  # deploy/ is code at the same path, not an installed package
                }
                cluster.workers.append(Worker(f"{cluster.queue}-{name}", cluster.queue, env, logs))
            yield cluster
        finally:
            for worker in cluster.workers:
                worker.stop()
            forget_queue(broker, cluster.queue)


def forget_queue(url: str, queue: str) -> None:
    """Remove what the run left on the broker: the queue's bindings (its messages are consumed,
    its results deleted by the test, or expired by Redis after a day)."""
    client = redis.Redis.from_url(url)
    client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.zrem("_kombu.binding_deadlines", queue + queue)


def wait_for_workers(cluster: Cluster) -> None:
    deadline = time.monotonic() + WORKER_START_S
    while not all(worker.ready() for worker in cluster.workers):
        late = time.monotonic() > deadline
        assert not late, f"workers not ready in {WORKER_START_S}s\n{cluster.worker_log_text()}"
        time.sleep(0.2)


def launcher_env(cluster: Cluster) -> dict[str, str]:
    """The launching host: the instance and the broker, and step settings no step can use: no
    Binance, no S3 and no catalog answer there."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    return clean_environ() | instance_env(cluster, dagster_home(cluster.tmp / "launcher")) | {
        "BINANCE_API_URL": nowhere,
        "BINANCE_ARCHIVE_URL": nowhere,
        "LAKE_URL": f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/lake",
        "ICEBERG_CATALOG_URI": "postgresql+psycopg2://nobody@127.0.0.1:1/nothing",
        "AWS_ENDPOINT_URL": nowhere,
        "AWS_ACCESS_KEY_ID": "launcher-has-no-key",
        "AWS_SECRET_ACCESS_KEY": "launcher-has-no-secret",
    }


def materialize_on_celery(env: dict[str, str], log: IO[bytes]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "deploy.celery.definitions",
         "--select", SELECTION, "--partition-range", PARTITION_RANGE],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def hand_the_rest_to_the_other_worker(cluster: Cluster, launcher: subprocess.Popen) -> Worker:
    """Once a worker has taken the run's first step, it stops consuming the queue (Celery's remote
    control), so every later step goes to the other worker. Left alone, Redis hands most steps to
    one worker, sometimes all of them, and a step reading what another host wrote is not shown."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not (taken := [w for w in cluster.workers if w.received_a_step()]):
        assert launcher.poll() is None, "the run ended before a worker took a step"
        assert time.monotonic() < deadline, f"no worker took a step\n{cluster.worker_log_text()}"
        time.sleep(0.05)
    first = taken[0]
    with Celery(broker=cluster.broker) as app:
        replies = app.control.cancel_consumer(
            cluster.queue, destination=[first.nodename()], reply=True, timeout=10
        )
    assert replies, f"{first.name} did not answer the cancel_consumer request"
    return first


def run_events(pg_url: str, folder: Path) -> tuple[list[DagsterRun], list[EventLogEntry]]:
    """The runs in the shared instance and the events of the first, read from its storage."""
    folder.mkdir()
    storage = {"postgres": {"postgres_url": pg_url}}
    (folder / "dagster.yaml").write_text(json.dumps({"storage": storage, "telemetry": {"enabled": False}}))
    with DagsterInstance.from_config(str(folder)) as instance:
        runs = list(instance.get_runs())
        return runs, list(instance.all_logs(runs[0].run_id)) if runs else []


def test_range_on_two_celery_workers_matches_the_single_process_lake(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    # The single-process path (the project's module, in-process executor) writes the reference
    # lake while the workers start.
    single = cli_env(
        cluster.emulator.url, cluster.tmp / "single", **cluster.s3.env(),
        LAKE_URL=f"s3://{cluster.bucket}/single", BINANCE_SYMBOLS=",".join(PAIRS),
        BINANCE_START_DATE=FIRST_HOUR,
    )  # fmt: skip
    in_process = {"execution": {"config": {"in_process": {}}}}
    reference = materialize_cli(single, SELECTION, partition_range=PARTITION_RANGE, config=in_process)
    assert reference.returncode == 0, reference.stdout[-3000:] + reference.stderr[-5000:]
    reference_s = time.monotonic() - started
    wait_for_workers(cluster)
    ready_s = time.monotonic() - started
    cluster.emulator.reset()  # the budget below is the distributed run's alone

    launched = time.monotonic()
    launching = launcher_env(cluster)
    launcher_log = cluster.tmp / "logs" / "launcher.log"
    with launcher_log.open("wb") as log:
        launcher = materialize_on_celery(launching, log)
        first = hand_the_rest_to_the_other_worker(cluster, launcher)
        try:
            launcher.wait(timeout=RUN_TIMEOUT_S - (time.monotonic() - launched))
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
    output = launcher_log.read_text(errors="replace")
    run_s = time.monotonic() - launched
    assert run_s < RUN_TIMEOUT_S, f"run not finished in {RUN_TIMEOUT_S}s\n{output[-3000:]}\n{cluster.worker_log_text()}"
    assert launcher.returncode == 0, f"{output[-5000:]}\n{cluster.worker_log_text()}"
    stats = cluster.emulator.stats()

    runs, events = run_events(cluster.dagster_pg_url, cluster.tmp / "reader")
    assert len(runs) == 1 and runs[0].status == DagsterRunStatus.SUCCESS, runs
    steps = step_processes(events)
    print(
        f"\nreference (in-process) {reference_s:.1f}s, workers ready at {ready_s:.1f}s, "
        f"celery run {run_s:.1f}s; steps by pid: {steps}; emulator: max weight/min "
        f"{stats['max_weight_per_minute']} (budget {BUDGET:.0f}), requests {stats['requests']}"
    )

    # Every step ran once, on a worker, never in the launcher: the first step on the worker that
    # took it, every other step on the other worker, so the first pair's cooked step read the raw
    # hours another host wrote.
    assert len(steps) == len(PAIRS) * 2, steps  # raw, and cooked with its checks
    worker_of = {step: worker_name(cluster, pid) for step, pid in steps.items()}
    assert all(worker_of.values()), (worker_of, steps)
    assert launcher.pid not in steps.values()
    on_first = [step for step, name in worker_of.items() if name == first.name]
    assert len(on_first) == 1 and on_first[0].endswith("__raw_candles"), worker_of
    assert len(set(steps.values())) == 2, steps

    # Every hour of every asset materialized in this one run.
    for pair in PAIRS:
        for name in DATASET_ASSETS:
            hours = {
                e.dagster_event.partition
                for e in events
                if e.dagster_event is not None
                and e.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION
                and e.dagster_event.asset_key == AssetKey([pair, name])
            }
            assert hours == set(HOURS), (pair, name, sorted(hours))

    # The same lake as the single-process path, file for file, byte for byte.
    client = cluster.s3.client()
    distributed = s3_files(client, cluster.bucket, "distributed")
    reference_lake = s3_files(client, cluster.bucket, "single")
    assert len(reference_lake) == LAKE_FILES, sorted(reference_lake)
    assert sorted(distributed) == sorted(reference_lake)
    differing = [key for key in reference_lake if distributed[key] != reference_lake[key]]
    assert not differing, differing

    # The Binance budget across workers: Binance's steps (pool "binance") one at a time across
    # both workers, and the IP's weight per minute under the resource's budget.
    assert_binance_steps_never_overlap(events)
    assert stats["max_weight_per_minute"] <= BUDGET, stats
    assert stats["status_429"] == 0 and stats["status_418"] == 0, stats

    step_logs = client.list_objects_v2(Bucket=cluster.logs_bucket).get("KeyCount", 0)
    assert step_logs > 0, "the workers uploaded no step logs"
    assert_secret_nowhere(cluster, output, runs[0].run_id)
    assert_no_launcher_path_sent(launching, monkeypatch)


def assert_no_launcher_path_sent(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """What the launcher sends with every step to rebuild its instance (``get_ref``) names no
    folder of the launching host: deploy/celery/dagster.yaml keeps them ``env:`` references."""
    for name, value in env.items():
        if name.startswith(("DAGSTER_", "AWS_")):
            monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        sent = serialize_value(instance.get_ref())
    assert env["DAGSTER_HOME"] not in sent, sent
    assert "DAGSTER_HOME" in sent and "DAGSTER_PG_URL" in sent, sent


def step_processes(events: list[EventLogEntry]) -> dict[str, int]:
    """Step key → the process id its STEP_START event came from (each step started once)."""
    starts = [
        (e.step_key, e.dagster_event.pid)
        for e in events
        if e.dagster_event is not None and e.dagster_event.event_type == DagsterEventType.STEP_START
    ]
    assert len(starts) == len(dict(starts)), starts
    return dict(starts)


def worker_name(cluster: Cluster, pid: int) -> str | None:
    """The worker whose process group ``pid`` belongs to (its pool process is alive until stop)."""
    group = pgid_of(pid)
    return next((w.name for w in cluster.workers if w.process.pid == group), None)


def assert_binance_steps_never_overlap(events: list[EventLogEntry]) -> None:
    """Raw steps (the only ones in pool ``binance``) ran one after another, whichever worker."""
    spans: dict[str, list[float]] = {}
    for e in events:
        if e.dagster_event is None or not (e.step_key or "").endswith("__raw_candles"):
            continue
        if e.dagster_event.event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):
            spans.setdefault(e.step_key, []).append(e.timestamp)
    assert len(spans) == len(PAIRS) and all(len(s) == 2 for s in spans.values()), spans
    ordered = sorted(spans.values())
    for (_, end), (start, _) in zip(ordered, ordered[1:]):
        assert end <= start, f"raw steps overlapped: {ordered}"


def assert_secret_nowhere(cluster: Cluster, launcher_output: str, run_id: str) -> None:
    """The workers hold the Binance secret: it is in no stored event, run or tag, no worker or
    launcher log, and no step result the workers left in the result backend."""
    database = cluster.dagster_pg_url.rsplit("/", 1)[1]
    with psycopg2.connect(dbname=database, **PG) as connection, connection.cursor() as cursor:
        for table, column in (("event_logs", "event"), ("runs", "run_body"), ("run_tags", "value")):
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} LIKE %s", (f"%{API_SECRET}%",))
            assert cursor.fetchone()[0] == 0, table
    assert API_SECRET not in launcher_output
    for worker in cluster.workers:
        assert API_SECRET not in worker.log(), worker.name
    backend = redis.Redis.from_url(cluster.broker)
    results = {key: backend.get(key) or b"" for key in backend.scan_iter("celery-task-meta-*")}
    ours = {key: value for key, value in results.items() if run_id.encode() in value}
    assert len(ours) == len(PAIRS) * 2, "not every step's result is in the result backend"
    assert not [key for key, value in ours.items() if API_SECRET.encode() in value]
    backend.delete(*ours)  # else Redis expires them after a day
