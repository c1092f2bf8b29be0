"""Crash safety and concurrency with real ``dg launch`` processes, on a local and
an S3 lake: a run killed with SIGKILL mid-write leaves every partition complete or absent and is
repaired by the next run; a CLI killed alone leaves no step running and its run is marked failed
and healed; two overlapping runs at once leave one consistent copy of each hour."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from binance_assets.lake.zones import SUCCESS_MARKER
from binance_assets_tests.lake_backends import LakeUnderTest, clean_lake_files, local_lake
from binance_assets_tests.runs import API_KEY, API_SECRET, CANDLE_ASSETS, failure_messages, run_hours
from binance_emulator.process import EmulatorProcess

# 48 hours: three klines pages of up to 1000 minutes.
START, END = "2025-01-01-00:00", "2025-01-02-23:00"
PARTITION_FILES = {"klines.json", SUCCESS_MARKER, "data.parquet"}
RUN_TIMEOUT_S = 120
ROOT = Path(__file__).resolve().parents[2]  # dg runs from the project's folder


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[EmulatorProcess]:
    """Every klines page takes 0.3 s, so a run is still writing when it is killed."""
    with EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET, faults=["slow:/api/v3/klines:*:0.3"]) as process:
        yield process


@pytest.fixture(scope="module")
def clean(slow_emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("clean") / "lake"
    return clean_lake_files(root, slow_emulator.url, START, END, assets=CANDLE_ASSETS)


def start_materialize(
    lake: LakeUnderTest, api_url: str, dagster_home: Path, start: str, end: str, in_process: bool = True
) -> subprocess.Popen:
    """``dg launch`` of candles for ``start...end``, in a session of its own so
    that the run and every process it starts can be killed together, as a crashed host would.
    Steps run in the run's process unless ``in_process`` is false (one Python start instead of one
    per step keeps tests fast)."""
    dagster_home.mkdir(exist_ok=True)
    (dagster_home / "dagster.yaml").touch()
    env = {
        **os.environ,
        **lake.process_env(),
        "BINANCE_API_URL": api_url,
        "BINANCE_ARCHIVE_URL": api_url,
        "DAGSTER_HOME": str(dagster_home),
    }
    command = [
        str(Path(sys.executable).with_name("dg")), "launch",
        "--assets", "BTCUSDT/raw_candles,BTCUSDT/candles", "--partition-range", f"{start}...{end}",
    ]
    config = {"resources": {"binance_archive": {"config": {"enabled": False}}}}  # REST, as the clean lake
    if in_process:
        config["execution"] = {"config": {"in_process": {}}}
    command += ["--config-json", json.dumps(config)]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=RUN_TIMEOUT_S)
    assert process.returncode == 0, output.decode(errors="replace")[-3000:]


def kill_once_writing(process: subprocess.Popen, lake: LakeUnderTest) -> None:
    """SIGKILL the whole run as soon as its first partition is marked complete: the run is then
    storing its raw hours (eight at a time), or has just stored them all."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not any(key.endswith(SUCCESS_MARKER) for key in lake.files()):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run wrote nothing"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def kill_once_writing_alone(process: subprocess.Popen, lake: LakeUnderTest) -> None:
    """SIGKILL the ``dagster`` process alone once its first hour is stored, noting its step
    processes first (they are its children) on ``process.steps``."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not any(key.endswith(SUCCESS_MARKER) for key in lake.files()):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run wrote nothing"
        time.sleep(0.01)
    process.steps = children_of(process.pid)
    assert process.steps, "the steps run in processes of their own"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


def assert_complete_or_absent(files: dict[str, bytes], clean: dict[str, bytes]) -> None:
    """Every file in a partition folder is a contract file; a marked or cooked partition is whole."""
    partition_keys = [key for key in files if "/hour=" in key]
    assert {key.rsplit("/", 1)[1] for key in partition_keys} <= PARTITION_FILES, partition_keys
    for key in partition_keys:
        if key.endswith(SUCCESS_MARKER):
            data = key.replace(SUCCESS_MARKER, "klines.json")
            assert files.get(data) == clean[data], f"{key} marks a partition that is not whole"
        elif key.endswith("data.parquet"):
            assert files[key] == clean[key]


def test_killed_run_leaves_partitions_whole_or_absent_and_is_repaired(
    slow_emulator: EmulatorProcess, any_lake: LakeUnderTest, clean: dict[str, bytes], tmp_path: Path
) -> None:
    process = start_materialize(any_lake, slow_emulator.url, tmp_path / "home", START, END)
    kill_once_writing(process, any_lake)

    killed = any_lake.files()
    assert_complete_or_absent(killed, clean)
    assert killed != clean, "the run must have been killed before it finished"

    repaired = run_hours(any_lake.resources(slow_emulator.url), START, END, assets=CANDLE_ASSETS)
    assert repaired.success, failure_messages(repaired)
    assert any_lake.files() == clean


def test_closed_hour_without_success_marker_is_cooked_as_open(
    slow_emulator: EmulatorProcess, clean: dict[str, bytes], tmp_path: Path
) -> None:
    """A data file left unmarked by a killed run (or an open-hour snapshot never completed) is
    cooked as what it is, an open hour: its completeness check fails (WARN) and no day uses it."""
    lake = local_lake(tmp_path / "lake")
    for key, data in clean.items():
        if not key.endswith(SUCCESS_MARKER) or "day=01/hour=05" not in key:
            (tmp_path / "lake" / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "lake" / key).write_bytes(data)

    result = run_hours(lake.resources(slow_emulator.url), START, END, selection=["candles"])

    assert result.success, failure_messages(result)
    open_hours = [e.partition for e in result.get_asset_check_evaluations()
                  if e.check_name == "candles_complete" and not e.passed]
    assert open_hours == ["2025-01-01-05:00"]


def children_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_a_cli_killed_alone_leaves_no_step_running_and_its_run_is_failed_and_healed(
    slow_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """``kill -9`` of the ``dagster`` process only (not its group), with steps in processes of
    their own: they exit at once instead of storing on unrecorded, the ``dead_runs`` sensor marks
    the run failed, and ``heal_hours`` asks for every hour the run left unfinished."""
    from dagster import DagsterInstance, DagsterRunStatus, PartitionKeyRange, build_sensor_context

    from binance_assets import sensors
    from binance_assets_tests.runs import BTC_CANDLES, HOURS, lake_resources

    lake = local_lake(tmp_path / "lake")
    home = tmp_path / "home"
    process = start_materialize(lake, slow_emulator.url, home, START, END, in_process=False)
    kill_once_writing_alone(process, lake)
    steps = process.steps
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in steps) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in steps), "a step outlived its run"
    left = lake.files()
    time.sleep(1.5)
    assert lake.files() == left, "nothing is stored after the run died"

    with DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.STARTED
        with build_sensor_context(instance=instance) as context:
            sensors.dead_runs(context)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE

        keys = HOURS.get_partition_keys_in_range(PartitionKeyRange(START, END))
        with build_sensor_context(instance=instance) as context:
            unfinished = sensors.hours_to_heal(context, BTC_CANDLES, lake_resources(lake.url, slow_emulator.url)["lake"], keys, HOURS)
    assert unfinished == keys, "no hour of the killed run counts as materialized and checked"


def test_overlapping_runs_at_once_leave_one_consistent_copy(
    slow_emulator: EmulatorProcess, any_lake: LakeUnderTest, tmp_path: Path
) -> None:
    first_start, first_end = "2025-01-01-00:00", "2025-01-01-05:00"
    second_start, second_end = "2025-01-01-03:00", "2025-01-01-08:00"
    expected = clean_lake_files(tmp_path / "clean", slow_emulator.url, first_start, second_end, CANDLE_ASSETS)
    # Separate Dagster instances: two processes creating one SQLite instance at once race on its
    # schema (a Dagster matter, not the lake's; deployments share a PostgreSQL instance).
    runs = [
        start_materialize(any_lake, slow_emulator.url, tmp_path / "home1", first_start, first_end),
        start_materialize(any_lake, slow_emulator.url, tmp_path / "home2", second_start, second_end),
    ]
    for process in runs:
        finish(process)

    assert any_lake.files() == expected
