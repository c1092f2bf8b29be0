"""Shared by the benchmarks: run the real CLI over a range of hours against the emulator, in a
fresh lake and a fresh Dagster instance, and measure it.

    with EmulatorProcess() as emulator:
        env = fresh_setup(workdir / "year", "postgres", ["BTCUSDT"])
        measured = launch(emulator, env, ["BTCUSDT"], "2025-01-01-00:00...2025-12-31-23:00", config=REST_ONLY)
        print(measured.wall_s, measured.cpu_s, measured.peak_rss_mb, measured.kline_requests)

A run is ``dg launch --assets {PAIR}/raw_candles,{PAIR}/candles --partition-range A...B`` (or
``--partition`` for one hour), as the README runs it: a fresh process that loads the code
location, the multiprocess executor (one process per step) and the instance's storage are in the
figures. ``-m binance_assets.definitions`` names the code location ``pyproject.toml`` names, so
the floor (``-f benchmarks/noop_definitions.py``) goes through the very same command.

Figures: wall seconds; CPU seconds and peak RSS from ``os.wait4`` (user + system time of the CLI
process and of every step process it waited for; the largest resident set among them); the
emulator's requests during the run (its stats before and after).

Instances: ``sqlite`` is Dagster's embedded default (a ``dagster.yaml`` with telemetry off);
``postgres`` is the production one, ``deploy/dagster.yaml``'s storage and concurrency pools, on a
database created afresh on ``BENCH_PG_SERVER`` (default
``postgresql+psycopg2://postgres@127.0.0.1:5432``). Both get the project's instance environment
(docs/operations.md): ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1`` and, on PostgreSQL,
``DAGSTER_EVENT_BATCH_SIZE=200``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psycopg2
import yaml

from binance_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
DG = str(Path(sys.executable).with_name("dg"))
REAL = ["-m", "binance_assets.definitions"]
FLOOR = ["-f", str(ROOT / "benchmarks" / "noop_definitions.py")]
REST_ONLY = {"resources": {"binance_archive": {"config": {"enabled": False}}}}
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql+psycopg2://postgres@127.0.0.1:5432")
PLANNED_SUBSET = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
EVENT_BATCH = "DAGSTER_EVENT_BATCH_SIZE"
KEY_FORMAT = "%Y-%m-%d-%H:%M"


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    requests: dict[str, int] = field(default_factory=dict)  # emulator path → count during the run
    killed: bool = False

    @property
    def kline_requests(self) -> int:
        return self.requests.get("/api/v3/klines", 0)

    @property
    def archive_files(self) -> int:
        """Archive zip files downloaded (their ``.CHECKSUM`` files not counted)."""
        return sum(n for path, n in self.requests.items() if path.startswith("/data/") and path.endswith(".zip"))

    @property
    def archive_requests(self) -> int:
        return sum(n for path, n in self.requests.items() if path.startswith("/data/"))


def hour_range(first: datetime, last: datetime) -> str:
    """``A...B`` for the hours from ``first`` to ``last`` (both included), or one key."""
    return first.strftime(KEY_FORMAT) if first == last else f"{first:{KEY_FORMAT}}...{last:{KEY_FORMAT}}"


def hours_in(partitions: str) -> int:
    first, last = (datetime.strptime(key, KEY_FORMAT) for key in (partitions.split("...") * 2)[:2])
    return int((last - first) / timedelta(hours=1)) + 1


def fresh_setup(base: Path, instance: str, pairs: list[str], start_date: str = "2025-01-01-00:00") -> dict[str, str]:
    """An empty lake, catalog and Dagster instance under ``base`` (a PostgreSQL database named
    after it); returns the environment of its runs (``launch`` adds the emulator's URL)."""
    home = base / "dagster_home"
    home.mkdir(parents=True)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LAKE_URL": str(base / "lake"),
        "ICEBERG_CATALOG_URI": f"sqlite:///{base / 'catalog.db'}",
        "BINANCE_SYMBOLS": ",".join(pairs),
        "BINANCE_START_DATE": start_date,
        PLANNED_SUBSET: "1",
    }
    if instance == "sqlite":
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        return env
    database = "bench_" + "".join(c if c.isalnum() else "_" for c in base.name.lower())
    _recreate_database(database)
    production = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    (home / "dagster.yaml").write_text(yaml.safe_dump({k: production[k] for k in ("storage", "concurrency", "telemetry")}))
    return {**env, "DAGSTER_PG_URL": f"{PG_SERVER}/{database}", EVENT_BATCH: "200"}


def _recreate_database(database: str) -> None:
    connection = psycopg2.connect(PG_SERVER.replace("postgresql+psycopg2", "postgresql") + "/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{database}"')
    connection.close()


def launch(
    emulator: EmulatorProcess,
    env: dict[str, str],
    pairs: list[str],
    partitions: str,
    target: list[str] = REAL,
    config: dict | None = None,
    kill_when: Callable[[], bool] | None = None,
    assets: Sequence[str] = ("raw_candles", "candles"),
) -> Measured:
    """One ``dg launch`` of the pairs' ``assets`` (by default raw and cooked candles) over
    ``partitions`` (``A...B`` or one key). ``kill_when``, polled every half second, kills the run's
    whole process group (SIGKILL, as a crash would) once it answers true. A failed run raises."""
    selection = ",".join(f"{pair}/{name}" for pair in pairs for name in assets)
    command = [DG, "launch", *target, "--assets", selection]
    command += ["--partition-range", partitions] if "..." in partitions else ["--partition", partitions]
    if config:
        command += ["--config-json", json.dumps(config)]
    env = {**env, "BINANCE_API_URL": emulator.url, "BINANCE_ARCHIVE_URL": emulator.url}
    before = emulator.stats()["requests"]
    log = open(Path(env["DAGSTER_HOME"]) / f"launch-{time.time():.0f}.log", "w+")
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    killed = False
    while kill_when is not None:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if kill_when():
            os.killpg(process.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.5)
    else:
        pid = 0
    if not pid:
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if killed:
        _kill_leftovers(process.pid)
    log.seek(0)
    text = log.read()
    log.close()
    if process.returncode and not killed:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{text[-4000:]}")
    after = emulator.stats()["requests"]
    requests = {path: n - before.get(path, 0) for path, n in after.items()
                if not path.startswith("/_emulator") and n != before.get(path, 0)}
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, requests, killed)


def _kill_leftovers(group: int) -> None:
    """Step processes of a killed run exit on their own within a second; wait for that, then
    kill what is left of the group."""
    for _ in range(20):
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.25)
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def fail_killed_runs(env: dict[str, str]) -> int:
    """What ``dead_runs`` and the instance's ``free_slots_after_run_end_seconds`` do for a killed
    run (no daemon runs here): mark it failed and give its pool slots back. Returns how many."""
    script = (
        "from dagster import DagsterInstance, DagsterRunStatus, RunsFilter\n"
        "instance = DagsterInstance.get()\n"
        "runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED]))\n"
        "for run in runs:\n"
        "    instance.report_run_failed(run)\n"
        "    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)\n"
        "print(len(runs))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def complete_hours(lake: Path, pair: str, dataset: str = "candles") -> int:
    """Hours of the pair's raw zone that hold ``_SUCCESS``."""
    return sum("_SUCCESS" in files for _, _, files in os.walk(lake / "raw" / dataset / f"symbol={pair}"))


def success_marker(lake: Path, pair: str, hour: datetime, dataset: str = "candles") -> Path:
    return lake / f"raw/{dataset}/symbol={pair}/year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}/_SUCCESS"
