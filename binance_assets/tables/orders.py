"""The cooked orders table: contract columns and the transform from raw allOrders objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from binance_assets.tables.schema import (
    DECIMAL,
    TIMESTAMP,
    Column,
    CookedHour,
    Dataset,
    MalformedData,
    parse_columns,
)

DATASET = "orders"
HOUR_MS = 3_600_000

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


def cook(
    orders: list[Any], symbol: str, partition: str, hour: datetime, complete: bool
) -> CookedHour:
    """Typed orders for one hour, by order id; an order whose ``time`` is outside the hour or
    whose symbol is another pair is malformed. Repeated order ids are dropped and counted.
    (``complete`` belongs to the shared signature: orders have no minute grid to check.)"""
    for position, order in enumerate(orders):
        if not isinstance(order, dict):
            raise MalformedData(DATASET, partition, position, "*", order, "expected a JSON object")
    source = pl.from_dicts(
        orders,
        schema={column.source: pl.String for column in COLUMNS},
        strict=False,
    ).with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"))
    frame = parse_columns(source, COLUMNS, DATASET, partition)
    start = int(hour.timestamp() * 1000)
    time_ms = frame["order_time"].dt.epoch("ms")
    checks = [
        ((time_ms < start) | (time_ms >= start + HOUR_MS), "time", "order time outside the hour"),
        (frame["symbol"] != symbol, "symbol", f"not {symbol}"),
    ]
    for bad, field, why in checks:
        if bad.any():
            position = int(bad.arg_true()[0])
            raise MalformedData(DATASET, partition, position, field, orders[position].get(field), why)
    unique = frame.unique(subset="order_id", keep="first", maintain_order=True)
    return CookedHour(unique.sort("order_id"), frame.height - unique.height)


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
