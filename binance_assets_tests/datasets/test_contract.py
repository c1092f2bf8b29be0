"""The contract on hand-made rows: the raw gate refuses what Binance would never send, a page as
a whole; cooking is exact or refuses, naming the hour, row, field and value."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from binance_assets.datasets.candles import CANDLES
from binance_assets.datasets.contract import HourRows, MalformedData, Page, accept_page, cook, row_problem
from binance_assets.datasets.orders import ORDERS
from binance_assets.partitions import HOUR_MS, epoch_ms

HOUR = datetime(2025, 3, 1, 13, tzinfo=timezone.utc)
START = epoch_ms(HOUR)
SYMBOL = "BTCUSDT"


def kline(minute: int = 0, open_price: str = "43519.34", extra: tuple = (), close: str = "43550") -> list:
    at = START + minute * 60_000
    return [at, open_price, "43600.00000000", "43500.1", close, "1.5", at + 59_999, "65000.25", 12, "0.7",
            "30000.1", "0", *extra]


def cook_one(row: list) -> dict:
    return cook(CANDLES, [HourRows("2025-03-01-13:00", HOUR, [row], True)], SYMBOL).row(0, named=True)


def accept(rows: list, last=None):
    return accept_page(CANDLES, Page(rows, {}, START), SYMBOL, START, START + 2 * HOUR_MS, last)


def test_fewer_than_eight_decimals_are_exact_and_accepted() -> None:
    row = cook_one(kline())
    assert row["open_price"] == Decimal("43519.34")
    assert row["close_price"] == Decimal("43550") and row["low_price"] == Decimal("43500.1")


def test_a_value_that_would_lose_digits_is_refused_naming_it() -> None:
    with pytest.raises(MalformedData, match=r"partition 2025-03-01-13:00: row 0, field 'open', value '43519.123456789'"):
        cook_one(kline(open_price="43519.123456789"))


def test_negative_zero_is_zero() -> None:
    assert cook_one(kline(open_price="-0.00000000"))["open_price"] == Decimal("0")


def test_a_thirteenth_field_is_kept_out_of_the_table() -> None:
    assert cook_one(kline(extra=("new",))) == cook_one(kline())
    assert row_problem(CANDLES, kline(extra=("new",)), SYMBOL) is None


@pytest.mark.parametrize(
    ("row", "field", "why"),
    [
        (kline()[:11], "*", "not a candles row"),
        ([*kline()[:1], 43519.34, *kline()[2:]], "open", "not a decimal string"),
        ([*kline()[:1], "abc", *kline()[2:]], "open", "not a decimal string"),
        ([START, *kline()[1:6], str(START + 59_999), *kline()[7:]], "close_time", "not an integer"),
    ],
    ids=["11 fields", "number not string", "not a number", "time as text"],
)
def test_shape_check_names_the_field(row: list, field: str, why: str) -> None:
    assert row_problem(CANDLES, row, SYMBOL)[::2] == (field, why)


def test_an_order_of_another_pair_is_refused() -> None:
    order = {"symbol": "BTCUSDC", "orderId": 1, "price": "1.0", "origQty": "1", "executedQty": "0",
             "status": "NEW", "type": "LIMIT", "side": "BUY", "time": START, "updateTime": START}
    assert row_problem(ORDERS, order, SYMBOL) == ("symbol", "BTCUSDC", "not BTCUSDT")
    assert row_problem(ORDERS, {**order, "symbol": SYMBOL}, SYMBOL) is None


def test_a_valid_page_is_kept_in_order_and_identical_repeats_are_dropped() -> None:
    rows, dropped, last = accept([kline(0), kline(1), kline(1), kline(2)])
    assert rows == [kline(0), kline(1), kline(2)] and dropped == [START + 60_000]
    rows, dropped, _ = accept([kline(2), kline(3)], last)  # a page continues from the one before
    assert rows == [kline(3)] and dropped == [START + 120_000]


@pytest.mark.parametrize(
    ("rows", "hour", "field", "why"),
    [
        ([kline(0), kline(59), kline(1)], "13:00", "open_time", "out of order: follows"),
        ([kline(2), kline(1), kline(0)], "13:00", "open_time", "out of order: follows"),
        ([kline(5), kline(5, close="1.00000000")], "13:00", "open_time", "two different rows for the same key"),
        ([[START + 30_000, *kline()[1:6], START + 89_999, *kline()[7:]]], "13:00", "open_time", "not on the minute"),
        ([kline(120)], "15:00", "open_time", "time outside the range asked for"),
    ],
    ids=["a late row mid-page", "reversed page", "two rows for one minute", "off the minute", "outside the range"],
)
def test_a_page_that_breaks_the_order_is_refused_as_a_whole(rows: list, hour: str, field: str, why: str) -> None:
    with pytest.raises(MalformedData) as refused:
        accept(rows)
    assert f"partition 2025-03-01-{hour}" in str(refused.value)
    assert f"field {field!r}" in str(refused.value) and why in str(refused.value)
