"""Several pairs in one code location: one run backfills them all, each pair's values are its own,
and a pair Binance does not know fails alone, by name."""

from __future__ import annotations

import pytest

import math

import polars as pl
import requests
from dagster import materialize

from binance_assets.assets.pair import pair_assets
from binance_assets_tests.cli import cli_env, materialize_cli
from binance_assets_tests.lake_files import folder, hour_ms, local_files, parquet
from binance_assets_tests.runs import HOURS as PARTITIONS, failure_messages, lake_resources, node
from binance_assets.settings import DEFAULTS
from binance_emulator.process import EmulatorProcess

PAIRS = ("BTCUSDT", "BTCUSD")
START, END = "2025-03-01-00:00", "2025-03-01-19:00"  # 20 hours: 1,200 candles, two pages a pair
HOURS = [f"2025-03-01-{hour:02d}:00" for hour in range(20)]


def emulator_rows(url: str, symbol: str, partition: str) -> list[list]:
    start = hour_ms(partition)
    params = {"symbol": symbol, "interval": "1m", "startTime": start, "endTime": start + 3_599_999, "limit": 1000}
    response = requests.get(url + "/api/v3/klines", params=params, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.mark.system
def test_two_pairs_in_one_cli_run(tmp_path) -> None:
    lake = tmp_path / "lake"
    with EmulatorProcess() as emulator:
        env = cli_env(emulator.url, tmp_path, BINANCE_SYMBOLS=",".join(PAIRS))
        selection = ",".join(f"{pair}/{name}" for pair in PAIRS for name in ("raw_candles", "candles"))
        run = materialize_cli(env, selection, partition_range=f"{START}...{END}")
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        requests_made = emulator.stats()["requests"]
        expected = {pair: {hour: emulator_rows(emulator.url, pair, hour) for hour in HOURS} for pair in PAIRS}

    assert requests_made.get("/api/v3/klines", 0) <= len(PAIRS) * (math.ceil(60 * len(HOURS) / 1000) + 2)
    for pair in PAIRS:  # old hours: each pair's day from the bulk archive
        assert f"/data/spot/daily/klines/{pair}/1m/{pair}-1m-2025-03-01.zip" in requests_made
    assert run.stdout.count("RUN_START") + run.stderr.count("RUN_START") == 1, "one run for both pairs"
    files = local_files(str(lake))
    opens = {}
    for pair in PAIRS:
        for hour in HOURS:
            raw, cooked = folder("raw", "candles", hour, pair), folder("cooked", "candles", hour, pair)
            assert {f"{raw}/klines.json", f"{raw}/_SUCCESS", f"{cooked}/data.parquet"} <= set(files)
            table = parquet(files[f"{cooked}/data.parquet"]).with_columns(pl.col(pl.Decimal).cast(pl.String))
            rows = expected[pair][hour]
            assert table["trading_pair"].unique().to_list() == [pair]
            assert [float(value) for value in table["open_price"]] == [float(row[1]) for row in rows]
            assert [float(value) for value in table["usd_volume"]] == [float(row[7]) for row in rows]
        opens[pair] = parquet(files[f"{folder('cooked', 'candles', HOURS[0], pair)}/data.parquet"])["open_price"][0]
    assert opens["BTCUSDT"] != opens["BTCUSD"], "each pair has its own prices"


def test_a_failing_pair_leaves_the_other_complete(emulator, lake) -> None:
    """``BTCFOO`` has Binance's format but no market: its steps fail naming it (-1121, from the
    pair check at its first call), while BTCUSDT's steps run to the end."""
    good, bad = (pair_assets(pair, DEFAULTS["BINANCE_START_DATE"])[0] for pair in ("BTCUSDT", "BTCFOO"))
    result = materialize(
        [good.raw, good.cooked, bad.raw, bad.cooked],
        resources=lake_resources(lake, emulator.url),
        partition_key="2025-03-01-12:00",
        raise_on_error=False,
    )
    assert not result.success
    message = failure_messages(result)
    assert "BTCFOO is not a symbol of" in message and "-1121" in message
    failed = {event.step_key for event in result.all_events if event.is_step_failure}
    assert failed == {node("raw_candles", "BTCFOO")}
    assert result.asset_materializations_for_node(node("candles", "BTCUSDT"))
    files = local_files(lake)
    assert any("symbol=BTCUSDT" in key for key in files)
    assert not any("BTCFOO" in key for key in files)


def test_a_pair_binance_does_not_trade_fails_recent_hours_and_keeps_its_history(lake, caplog) -> None:
    """A pair in BREAK: its recent hours fail naming the status (nothing to fetch), while its
    history is still fetched (Binance serves it), with a warning naming the status."""
    halted = pair_assets("BTCUSDC", DEFAULTS["BINANCE_START_DATE"])[0]
    with EmulatorProcess() as emulator:
        emulator.set_faults([{"kind": "symbol_status", "symbol": "BTCUSDC", "status": "BREAK"}])
        resources = lake_resources(lake, emulator.url)
        recent = materialize([halted.raw, halted.cooked], resources=resources,
                             partition_key=PARTITIONS.get_last_partition_key(), raise_on_error=False)
        history = materialize([halted.raw, halted.cooked], resources=resources,
                              partition_key="2025-03-01-12:00", raise_on_error=False)
    assert not recent.success
    assert "BTCUSDC is not trading on" in failure_messages(recent) and "status BREAK" in failure_messages(recent)
    assert history.success, failure_messages(history)
    assert any("BTCUSDC" in r.getMessage() and "BREAK" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert any("hour=12" in key for key in local_files(lake))
