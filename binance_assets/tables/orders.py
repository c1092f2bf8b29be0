"""The cooked orders table: contract columns and the transform from raw allOrders objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from binance_assets.partitions import HOUR_MS
from binance_assets.tables.schema import (
    DECIMAL,
    TIMESTAMP,
    Column,
    CookedHour,
    Dataset,
    HourRows,
    MalformedData,
    parse_columns,
    reject_offending,
    split_hours,
    with_hour_columns,
)

DATASET = "orders"

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

# Binance's enums (spot API "ENUM definitions"), checked by the orders asset checks.
STATUSES = ["NEW", "PENDING_NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "PENDING_CANCEL", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"]
TYPES = ["LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"]
SIDES = ["BUY", "SELL"]


def cook(hours: Sequence[HourRows], symbol: str) -> list[CookedHour]:
    """Typed orders for each hour, by order id; an order whose ``time`` is outside its hour or
    whose symbol is another pair is malformed. Repeated order ids within an hour are dropped and
    counted."""
    for hour in hours:
        for position, order in enumerate(hour.rows):
            if not isinstance(order, dict):
                raise MalformedData(DATASET, hour.key, position, "*", order, "expected a JSON object")
    source = pl.from_dicts(
        [order for hour in hours for order in hour.rows],
        schema={column.source: pl.String for column in COLUMNS},
        strict=False,
    )
    frame = parse_columns(with_hour_columns(source, hours), COLUMNS, DATASET, hours)
    time_ms = pl.col("order_time").dt.epoch("ms")
    reject_offending(
        frame,
        [
            ((time_ms < pl.col("_start")) | (time_ms >= pl.col("_start") + HOUR_MS), "time", "order time outside the hour"),
            (pl.col("symbol") != symbol, "symbol", f"not {symbol}"),
        ],
        DATASET,
        hours,
        lambda order, field: order.get(field),
    )
    unique = frame.unique(subset=["_hour", "order_id"], keep="first", maintain_order=True)
    tables = split_hours(unique.sort("_hour", "order_id"), len(hours))
    return [CookedHour(table, len(hour.rows) - table.height) for hour, table in zip(hours, tables)]


def order_time_of(order: Any) -> int:
    return int(order["time"])


ORDERS = Dataset(
    name=DATASET,
    raw_file="orders.json",
    columns=COLUMNS,
    cook=cook,
    time_of=order_time_of,
    time_column="order_time",
)
