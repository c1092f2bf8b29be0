"""Cooking and the raw shape check on hand-made rows: exact decimals, Binance's additions, and the
rows Binance would never send."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from binance_assets.partitions import epoch_ms
from binance_assets.tables.candles import CANDLES
from binance_assets.tables.orders import ORDERS
from binance_assets.tables.schema import HourRows, MalformedData, shape_problem

HOUR = datetime(2025, 3, 1, 13, tzinfo=timezone.utc)
START = epoch_ms(HOUR)


def kline(open_price: str = "43519.34", extra: tuple = ()) -> list:
    return [START, open_price, "43600.00000000", "43500.1", "43550", "1.5", START + 59_999,
            "65000.25", 12, "0.7", "30000.1", "0", *extra]


def cook_one(row: list) -> dict:
    (cooked,) = CANDLES.cook([HourRows("2025-03-01-13:00", HOUR, [row], True)], "BTCUSDT")
    return cooked.frame.row(0, named=True) | {"_extra": cooked.rows_with_extra_fields}


def test_fewer_than_eight_decimals_are_exact_and_accepted() -> None:
    row = cook_one(kline())
    assert row["open_price"] == Decimal("43519.34")
    assert row["close_price"] == Decimal("43550") and row["low_price"] == Decimal("43500.1")


def test_a_value_that_would_lose_digits_is_refused_naming_it() -> None:
    with pytest.raises(MalformedData) as refused:
        cook_one(kline("43519.123456789"))
    assert "row 0, field 'open', value '43519.123456789'" in str(refused.value)


def test_a_thirteenth_field_is_kept_out_of_the_table_and_counted() -> None:
    assert cook_one(kline(extra=("new",)))["_extra"] == 1
    assert cook_one(kline())["_extra"] == 0


@pytest.mark.parametrize(
    ("row", "field", "why"),
    [
        (kline()[:11], "*", "not a candles row"),
        ([*kline()[:1], 43519.34, *kline()[2:]], "open", "not a decimal string"),
        ([*kline()[:1], "abc", *kline()[2:]], "open", "not a decimal string"),
        ([START - 60_000, *kline()[1:]], "open_time", "time outside the hour"),
        ([START, *kline()[1:6], str(START + 59_999), *kline()[7:]], "close_time", "not an integer"),
    ],
    ids=["11 fields", "number not string", "not a number", "outside the hour", "time as text"],
)
def test_shape_check_names_the_field(row: list, field: str, why: str) -> None:
    assert shape_problem(CANDLES, row, "BTCUSDT", START)[::2] == (field, why)
    assert shape_problem(CANDLES, kline(extra=("new",)), "BTCUSDT", START) is None


def test_an_order_of_another_pair_is_refused() -> None:
    order = {"symbol": "BTCUSDC", "orderId": 1, "price": "1.0", "origQty": "1", "executedQty": "0",
             "status": "NEW", "type": "LIMIT", "side": "BUY", "time": START, "updateTime": START}
    assert shape_problem(ORDERS, order, "BTCUSDT", START) == ("symbol", "BTCUSDC", "not BTCUSDT")
    assert shape_problem(ORDERS, {**order, "symbol": "BTCUSDT"}, "BTCUSDT", START) is None
