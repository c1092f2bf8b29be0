"""The account's orders (allOrders): the ``Dataset``."""

from collections.abc import Iterable
from typing import Any

import polars as pl

from binance_assets import charts
from binance_assets.datasets.contract import DECIMAL, TIMESTAMP, Column, Dataset, Page, Rule, rows_where

COLUMNS = [
    Column("symbol", pl.String, "Symbol", "symbol"),
    Column("order_id", pl.Int64, "OrderID", "orderId"),
    Column("price", DECIMAL, "Price", "price"),
    Column("orig_qty", DECIMAL, "OrigQty", "origQty"),
    Column("executed_qty", DECIMAL, "ExecutedQty", "executedQty"),
    Column("status", pl.String, "status", "status"),
    Column("type", pl.String, "type", "type"),
    Column("side", pl.String, "side", "side"),
    Column("order_time", TIMESTAMP, "order time", "time"),
    Column("update_time", TIMESTAMP, "last update time", "updateTime"),
]

# Binance's enums (spot API "ENUM definitions"). An order in a final status never changes again.
FINAL_STATUSES = ("FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH")
STATUSES = ("NEW", "PENDING_NEW", "PARTIALLY_FILLED", "PENDING_CANCEL", *FINAL_STATUSES)
TYPES = ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER")
SIDES = ("BUY", "SELL")


def order_fields(order: Any, symbol: str) -> dict[str, Any] | None:
    """An allOrders object as it is (its own ``symbol`` included), or None when it is not one."""
    return order if type(order) is dict else None


def unsettled(frame: pl.DataFrame) -> dict[str, int]:
    """The hour's orders that can still change (not in a final status): order id → update time."""
    live = frame.filter(~pl.col("status").is_in(FINAL_STATUSES))
    return dict(zip(live["order_id"].cast(pl.String), live["update_time"].dt.epoch("ms")))


def order_time_of(order: Any) -> int | None:
    """Also of a malformed order, so an error names its hour."""
    time = order.get("time") if type(order) is dict else None
    return time if type(time) is int else None


def fetch(binance: Any, archive: Any, symbol: str, start_ms: int, end_ms: int, rest_only: bool = False) -> Iterable[Page]:
    """The account's orders placed in the range (signed: needs the API key and secret)."""
    return binance.all_orders(symbol, start_ms, end_ms)


RULES = [
    Rule("executed qty", "executed_qty ≤ orig_qty.", rows_where(pl.col("executed_qty") > pl.col("orig_qty"))),
    Rule("non-negative", "price, orig_qty and executed_qty are not negative.", rows_where(
        (pl.col("price") < 0) | (pl.col("orig_qty") < 0) | (pl.col("executed_qty") < 0))),
    Rule("update time", "An order is never updated before it was placed: update_time ≥ order_time.",
         rows_where(pl.col("update_time") < pl.col("order_time"))),
    Rule("enums", "status, type and side are values Binance defines.", rows_where(
        ~pl.col("status").is_in(STATUSES) | ~pl.col("type").is_in(TYPES) | ~pl.col("side").is_in(SIDES))),
]

ORDERS = Dataset(
    name="orders", columns=COLUMNS, raw_file="orders.json", fields_of=order_fields, time_of=order_time_of,
    key_field="orderId", time_field="time", on_the_minute=False, symbol_column="symbol", time_column="order_time",
    rules=RULES, warnings=[], fetch=fetch, picture=charts.orders_day_png, needs_credentials=True, unsettled=unsettled,
)
