"""Candles end to end: emulator over HTTP → real Dagster runs → the lake's raw and cooked files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import requests
from dagster import AssetCheckSeverity, Definitions

from binance_assets.datasets.candles import CANDLES
from binance_assets.partitions import partition_key
from binance_assets_tests.lake_files import folder, hour_ms, local_files, parquet, utc
from binance_assets_tests.runs import HOURS, failure_messages, key, lake_resources, node, run_hours
from binance_emulator import market
from binance_emulator.process import EmulatorProcess

SYMBOL = "BTCUSDT"


def hour_with_gap(day: str = "2025-03-01") -> str:
    """The first hour of ``day`` in which the emulator deliberately has a missing minute."""
    for hour in range(24):
        key = f"{day}-{hour:02d}:00"
        start = hour_ms(key)
        if any(market.is_missing(SYMBOL, start + m * 60_000) for m in range(60)):
            return key
    raise AssertionError(f"no gap on {day}")


def emulator_rows(url: str, partition: str) -> list[list]:
    start = hour_ms(partition)
    response = requests.get(
        url + "/api/v3/klines",
        params={"symbol": SYMBOL, "interval": "1m", "startTime": start, "endTime": start + 3_599_999, "limit": 1000},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def test_one_hour_writes_contract_files_with_exact_values(emulator, lake):
    partition = hour_with_gap()
    result = run_hours(lake_resources(lake, emulator.url), partition)
    assert result.success

    files = local_files(lake)
    raw, cooked = folder("raw", "candles", partition), folder("cooked", "candles", partition)
    assert set(files) == {f"{raw}/klines.json", f"{raw}/_SUCCESS", f"{cooked}/data.parquet"}

    expected = emulator_rows(emulator.url, partition)
    assert json.loads(files[f"{raw}/klines.json"]) == expected
    assert json.loads(files[f"{raw}/_SUCCESS"]) == {"source": "rest"}, "_SUCCESS says where the hour came from"

    table = parquet(files[f"{cooked}/data.parquet"])
    assert table.columns == [column.name for column in CANDLES.columns]
    assert table.schema == pl.Schema({column.name: column.dtype for column in CANDLES.columns})
    assert table.height == len(expected) < 60  # the gap minute is absent, not invented
    as_text = table.with_columns(pl.col(pl.Decimal).cast(pl.String))
    for row, source in zip(as_text.iter_rows(named=True), expected, strict=True):
        assert row["trading_pair"] == SYMBOL
        assert [row["open_price"], row["high_price"], row["low_price"], row["close_price"]] == source[1:5]
        assert row["btc_volume"] == source[5] and row["usd_volume"] == source[7]
        assert row["number_of_trades"] == source[8]
        assert row["candle_open_time"] == utc(source[0]) and row["candle_close_time"] == utc(source[6])

    metadata = result.asset_materializations_for_node(node("candles"))[0].metadata
    assert metadata["dagster/row_count"].value == len(expected)
    assert metadata["complete"].value is True
    assert metadata["path"].value.endswith(f"{cooked}/data.parquet")
    checks = {check.check_name: check for check in result.get_asset_check_evaluations()}
    assert set(checks) == {"candles_valid", "candles_complete", "candles_jumps"}
    assert all(check.passed and check.partition == partition for check in checks.values())
    completeness = checks["candles_complete"].metadata  # a real gap: listed, the hour still complete
    assert completeness["missing_minutes"].value == 60 - len(expected)


def test_rematerializing_leaves_identical_files(emulator, lake):
    resources = lake_resources(lake, emulator.url)
    assert run_hours(resources, "2025-03-02-05:00", "2025-03-02-07:00").success
    first = local_files(lake)
    assert run_hours(resources, "2025-03-02-06:00").success
    assert run_hours(resources, "2025-03-02-05:00", "2025-03-02-07:00").success
    assert local_files(lake) == first
    assert len(first) == 3 * 3


def test_open_hour_is_written_without_success_marker(emulator, lake):
    """The current hour holds only closed candles so far, and is not marked complete."""
    current = HOURS.get_last_partition_key()
    result = run_hours(lake_resources(lake, emulator.url), current)
    assert result.success
    files = local_files(lake)
    raw = folder("raw", "candles", current)
    assert f"{raw}/klines.json" in files and f"{raw}/_SUCCESS" not in files
    rows = json.loads(files[f"{raw}/klines.json"])
    server_now = requests.get(emulator.url + "/api/v3/time", timeout=5).json()["serverTime"]
    assert all(row[6] < server_now for row in rows)


def test_definitions_object_runs_the_same_assets(emulator, lake, monkeypatch):
    """The exported ``defs`` resolve their resources from the environment variables."""
    monkeypatch.setenv("BINANCE_API_URL", emulator.url)
    monkeypatch.setenv("BINANCE_ARCHIVE_URL", emulator.url)
    monkeypatch.setenv("LAKE_URL", lake)
    import importlib

    import binance_assets.definitions as definitions

    defs: Definitions = importlib.reload(definitions).defs
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        partition_key="2025-03-03-00:00",
        asset_selection=[key("raw_candles"), key("candles")],
        raise_on_error=False,
    )
    assert result.success
    assert f"{folder('cooked', 'candles', '2025-03-03-00:00')}/data.parquet" in local_files(lake)


def test_partition_key_off_the_hour_is_refused_before_anything_is_written(emulator, lake):
    result = run_hours(lake_resources(lake, emulator.url), "2025-03-01-13:30")
    assert not result.success
    assert "'2025-03-01-13:30' is not on the hour" in failure_messages(result)
    assert local_files(lake) == {}


def test_one_clock_decides_when_an_hour_has_closed(lake):
    """With Binance's clock behind ours, the hour that just ended locally is still open on
    Binance: the raw zone keeps it without _SUCCESS, the cooked hour says so, and its completeness
    check fails with WARN (no day uses it) while the run succeeds."""
    now = datetime.now(timezone.utc)
    current = now.replace(minute=0, second=0, microsecond=0)
    behind_ms = int((now - current).total_seconds() * 1000) + 120_000  # Binance: 2 min before it
    previous = partition_key(current - timedelta(hours=1))
    with EmulatorProcess(clock_offset_ms=-behind_ms) as skewed:
        result = run_hours(lake_resources(lake, skewed.url), previous)
    assert result.success, failure_messages(result)
    files = local_files(lake)
    raw = folder("raw", "candles", previous)
    assert f"{raw}/klines.json" in files and f"{raw}/_SUCCESS" not in files
    assert f"{folder('cooked', 'candles', previous)}/data.parquet" in files
    (complete,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "candles_complete"]
    assert not complete.passed and complete.severity == AssetCheckSeverity.WARN and complete.partition == previous
    assert result.asset_materializations_for_node(node("candles"))[0].metadata["complete"].value is False
