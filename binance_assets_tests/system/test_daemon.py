"""The daemon keeps the lake true on its own: an hour stored while Binance's clock lagged is
completed by ``heal_hours`` on the daemon's first ticks once the clocks agree, and its day is then
built by ``daily_tables`` from the complete hour, with no manual step."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from binance_assets.datasets.candles import CANDLES
from binance_assets.iceberg.catalog import open_catalog
from binance_assets.iceberg.tables import scan_table
from binance_assets.partitions import epoch_ms
from binance_assets_tests.cli import cli_env, materialize_cli
from binance_assets_tests.lake_files import folder, local_files
from binance_emulator import market
from binance_emulator.process import EmulatorProcess

DAY = "2025-03-01"
LAST = f"{DAY}-23:00"
TIMEOUT_S = 180


def utc_ms(text: str) -> int:
    return epoch_ms(datetime.fromisoformat(text).replace(tzinfo=timezone.utc))


def test_an_open_hour_heals_and_its_day_is_built_by_the_daemon(tmp_path: Path) -> None:
    behind, caught_up = utc_ms("2025-03-01T23:57"), utc_ms("2025-03-02T00:10")
    with EmulatorProcess(clock_offset_ms=behind - int(time.time() * 1000)) as emulator:
        env = cli_env(emulator.url, tmp_path, BINANCE_START_DATE=f"{DAY}-00:00", BINANCE_HEAL_LOOKBACK_HOURS="24")
        (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        stored = materialize_cli(env, "BTCUSDT/raw_candles,BTCUSDT/candles", partition_range=f"{DAY}-00:00...{LAST}")
        assert stored.returncode == 0, stored.stderr[-3000:]
        lake = str(tmp_path / "lake")
        marker = f"{folder('raw', 'candles', LAST)}/_SUCCESS"
        assert marker not in local_files(lake), "fetched at Binance's 23:57: the hour is open"

        emulator.set_faults([], clock_skew_ms=caught_up - behind)
        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", "binance_assets.definitions"],
            env={**os.environ, **env}, cwd=tmp_path, stdout=(tmp_path / "daemon.log").open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            day = wait_for_day(env, lake, marker)
        finally:
            daemon.terminate()
            daemon.wait(20)
    expected = 1440 - len([m for m in market.missing_minutes("BTCUSDT", utc_ms(f"{DAY}T00:00"), utc_ms(f"{DAY}T23:59"))])
    assert day.height == expected, (day.height, expected, (tmp_path / "daemon.log").read_text()[-3000:])
    assert day["candle_open_time"].max().strftime("%H:%M") in {"23:59", "23:58"}


def wait_for_day(env: dict[str, str], lake: str, marker: str) -> pl.DataFrame:
    deadline = time.monotonic() + TIMEOUT_S
    catalog = None
    while time.monotonic() < deadline:
        if marker in local_files(lake):
            catalog = catalog or open_catalog(env["ICEBERG_CATALOG_URI"], f"{lake}/tables")
            try:
                day = scan_table(catalog, CANDLES).filter(pl.col("candle_open_time").dt.strftime("%Y-%m-%d") == DAY).collect()
            except Exception:  # the table is created by the first day's build
                day = pl.DataFrame()
            if day.height:
                return day
        time.sleep(2)
    raise AssertionError(f"no day built within {TIMEOUT_S}s (healed: {marker in local_files(lake)})")
