"""Orders end to end: signed calls with clock sync, paging past 1000, and missing credentials."""

from __future__ import annotations

import json

import polars as pl
import pytest

from binance_assets.binance.client import BinanceCredentialsMissing, BinanceResource
from binance_assets.datasets.orders import ORDERS
from binance_assets_tests.lake_files import folder, hour_ms, local_files, parquet, utc
from binance_assets_tests.runs import (
    node,
    ALL_ASSETS,
    API_KEY,
    API_SECRET,
    ORDER_ASSETS,
    failure_messages,
    lake_resources,
    run_hours,
)
from binance_emulator import account
from binance_emulator.process import EmulatorProcess

SYMBOL = "BTCUSDT"
BUSY_HOUR = "2025-03-01-13:00"  # the emulator's daily burst hour: 1,500-2,500 orders
QUIET_HOUR = "2025-03-01-09:00"


def expected_orders(partition: str) -> list[dict]:
    start = hour_ms(partition)
    return account.orders_between(SYMBOL, start, start + 3_599_999)


def test_busy_hour_is_fetched_completely_and_cooked_exactly(emulator, lake):
    expected = expected_orders(BUSY_HOUR)
    assert len(expected) > 1000
    result = run_hours(lake_resources(lake, emulator.url), BUSY_HOUR, assets=ORDER_ASSETS)
    assert result.success

    files = local_files(lake)
    raw = json.loads(files[f"{folder('raw', 'orders', BUSY_HOUR)}/orders.json"])
    assert raw == expected  # every order once, none twice, exactly as Binance sent it
    assert f"{folder('raw', 'orders', BUSY_HOUR)}/_SUCCESS" in files

    table = parquet(files[f"{folder('cooked', 'orders', BUSY_HOUR)}/data.parquet"])
    assert table.schema == pl.Schema({c.name: c.dtype for c in ORDERS.columns})
    assert table["order_id"].to_list() == [order["orderId"] for order in expected]
    as_text = table.with_columns(pl.col(pl.Decimal).cast(pl.String))
    for row, order in zip(as_text.iter_rows(named=True), expected, strict=True):
        assert (row["symbol"], row["status"], row["type"], row["side"]) == (
            order["symbol"], order["status"], order["type"], order["side"]
        )
        assert (row["price"], row["orig_qty"], row["executed_qty"]) == (
            order["price"], order["origQty"], order["executedQty"]
        )
        assert row["order_time"] == utc(order["time"]) and row["update_time"] == utc(order["updateTime"])

    metadata = result.asset_materializations_for_node(node("raw_orders"))[0].metadata
    requests_made = metadata["binance_requests"].value
    # one exchangeInfo for the pair, one /time for the clock, then ceil(n/1000) pages (+1 when n
    # is a multiple of 1000)
    assert requests_made <= 2 + len(expected) // 1000 + 1
    assert all(check.passed for check in result.get_asset_check_evaluations())


def test_skewed_local_clock_is_corrected_by_clock_sync():
    """Server clock 5 s behind ours is the same as our clock 5 s ahead: clock sync absorbs it."""
    with EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET, clock_offset_ms=-5_000) as skewed:
        binance = BinanceResource(api_url=skewed.url, api_key=API_KEY, api_secret=API_SECRET)
        start = hour_ms(QUIET_HOUR)
        pages = list(binance.all_orders(SYMBOL, start, start + 3_600_000))
        assert [o for page in pages for o in page.rows] == expected_orders(QUIET_HOUR)
        assert -6_000 < binance.sync_clock() < -4_000


def test_clock_that_drifts_after_sync_is_resynced_once(emulator):
    binance = BinanceResource(api_url=emulator.url, api_key=API_KEY, api_secret=API_SECRET)
    binance.sync_clock()
    emulator.set_faults([{"kind": "clock_skew", "ms": -4_000}])
    try:
        start = hour_ms(QUIET_HOUR)
        rows = [o for page in binance.all_orders(SYMBOL, start, start + 3_600_000) for o in page.rows]
    finally:
        emulator.reset()
    assert rows == expected_orders(QUIET_HOUR)
    assert binance.stats.requests_by_endpoint["time"] == 2


def test_missing_credentials_fail_orders_by_name_and_leave_candles_working(emulator, lake):
    resources = lake_resources(lake, emulator.url, api_key=None, api_secret=None)
    result = run_hours(resources, QUIET_HOUR, assets=ALL_ASSETS)
    assert not result.success
    message = failure_messages(result)
    assert "BINANCE_API_KEY" in message and "BINANCE_API_SECRET" in message
    assert result.asset_materializations_for_node(node("candles"))
    assert not result.asset_materializations_for_node(node("raw_orders"))
    assert all("orders" not in key for key in local_files(lake))


@pytest.mark.parametrize("missing", ["api_key", "api_secret"])
def test_each_missing_variable_is_named(missing):
    options = {"api_key": "k", "api_secret": "s", missing: None}
    with pytest.raises(BinanceCredentialsMissing) as error:
        BinanceResource(api_url="http://127.0.0.1:9", **options).require_credentials()
    assert ("BINANCE_API_KEY" in str(error.value)) == (missing == "api_key")
    assert ("BINANCE_API_SECRET" in str(error.value)) == (missing == "api_secret")


def test_rejected_key_is_a_clear_error(emulator, lake):
    resources = lake_resources(lake, emulator.url, api_key="x" * 64, api_secret=API_SECRET)
    result = run_hours(resources, QUIET_HOUR, assets=ORDER_ASSETS)
    assert not result.success
    assert "-2015" in failure_messages(result)
