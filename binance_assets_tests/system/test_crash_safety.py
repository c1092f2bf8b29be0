"""Crash safety and concurrency with real ``dagster asset materialize`` processes, on a local and
an S3 lake: a run killed with SIGKILL mid-write leaves every partition complete or absent and is
repaired by the next run; two overlapping runs at once leave one consistent copy of each hour."""

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
    lake: LakeUnderTest, api_url: str, dagster_home: Path, start: str, end: str
) -> subprocess.Popen:
    """``dagster asset materialize`` of candles for ``start...end``, in a session of its own so
    that the run and every process it starts can be killed together, as a crashed host would.
    Steps run in the run's process (one Python start instead of one per step keeps tests fast)."""
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
        sys.executable, "-m", "dagster", "asset", "materialize", "-m", "binance_assets.definitions",
        "--select", "BTCUSDT/raw_candles,BTCUSDT/candles", "--partition-range", f"{start}...{end}",
        "--config-json", json.dumps({"execution": {"config": {"in_process": {}}}}),
    ]
    return subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
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

    stale = run_hours(any_lake.resources(slow_emulator.url), START, END, selection=["candles"])
    unmarked = [key for key in clean if key.endswith(SUCCESS_MARKER) and key not in killed]
    if unmarked:  # killed part-way through the raw hours
        assert not stale.success, f"an unfinished raw zone must never be cooked as complete: {unmarked[:3]}"
    else:  # killed after the raw hours were all stored (eight at a time, they take a moment)
        assert stale.success, failure_messages(stale)

    repaired = run_hours(any_lake.resources(slow_emulator.url), START, END, assets=CANDLE_ASSETS)
    assert repaired.success, failure_messages(repaired)
    assert any_lake.files() == clean


def test_closed_hour_without_success_marker_is_refused(
    slow_emulator: EmulatorProcess, clean: dict[str, bytes], tmp_path: Path
) -> None:
    """A data file left unmarked by a killed run (or an open-hour snapshot never completed) is not
    read as the closed hour it claims to be."""
    lake = local_lake(tmp_path / "lake")
    for key, data in clean.items():
        if not key.endswith(SUCCESS_MARKER) or "day=01/hour=05" not in key:
            (tmp_path / "lake" / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "lake" / key).write_bytes(data)

    result = run_hours(lake.resources(slow_emulator.url), START, END, selection=["candles"])

    assert not result.success
    assert f"raw partition 2025-01-01-05:00 has no {SUCCESS_MARKER} although its hour has closed" in (
        failure_messages(result)
    )


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
