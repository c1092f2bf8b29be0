"""The README's main command: ``dg launch`` from the CLI, on a real instance."""

from __future__ import annotations

from binance_assets_tests.cli import cli_env, materialize_cli
from binance_assets_tests.lake_files import folder, local_files


def test_cli_materializes_one_hour_of_candles(emulator, tmp_path):
    lake = tmp_path / "lake"
    env = cli_env(emulator.url, tmp_path)
    run = materialize_cli(env, "BTCUSDT/raw_candles,BTCUSDT/candles", partition="2025-03-01-12:00")
    assert run.returncode == 0, run.stderr[-3000:]
    files = local_files(str(lake))
    raw, cooked = folder("raw", "candles", "2025-03-01-12:00"), folder("cooked", "candles", "2025-03-01-12:00")
    assert set(files) == {f"{raw}/klines.json", f"{raw}/_SUCCESS", f"{cooked}/data.parquet"}
    assert "RUN_SUCCESS" in run.stderr + run.stdout
    assert "ASSET_CHECK_EVALUATION" in run.stderr + run.stdout


def test_bad_start_date_fails_at_load_naming_the_variable(tmp_path):
    env = {"BINANCE_START_DATE": "2025-13-01", "DAGSTER_HOME": str(tmp_path)}
    run = materialize_cli(env, "BTCUSDT/raw_candles", partition="2025-03-01-12:00")
    assert run.returncode != 0
    assert "BINANCE_START_DATE" in run.stderr and "2025-13-01" in run.stderr
