"""The cooked orders table: contract columns and the transform from raw allOrders objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from binance_assets.tables.schema import (
    DECIMAL,
    TIMESTAMP,
    Column,
    CookedHour,
    Dataset,
    HourRows,
    MalformedData,
    parse_columns,
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


def order_fields(order: Any, symbol: str) -> dict[str, Any] | None:
    """An allOrders object as it is (its own ``symbol`` included), or None when it is not one."""
    return order if type(order) is dict else None


def cook(hours: Sequence[HourRows], symbol: str) -> list[CookedHour]:
    """Typed orders for each hour, by order id. Repeated order ids within an hour are dropped
    (first kept) and counted."""
    for hour in hours:
        for position, order in enumerate(hour.rows):
            if order_fields(order, symbol) is None:
                raise MalformedData(DATASET, hour.key, position, "*", order, "expected a JSON object")
    source = pl.from_dicts(
        [order for hour in hours for order in hour.rows],
        schema={column.source: pl.String for column in COLUMNS},
        strict=False,
    )
    frame = parse_columns(with_hour_columns(source, hours), COLUMNS, DATASET, hours)
    unique = frame.unique(subset=["_hour", "order_id"], keep="first", maintain_order=True)
    tables = split_hours(unique.sort("_hour", "order_id"), len(hours))
    return [CookedHour(table, len(hour.rows) - table.height) for hour, table in zip(hours, tables)]


def order_time_of(order: Any) -> int | None:
    time = order.get("time") if type(order) is dict else None
    return time if type(time) is int else None


ORDERS = Dataset(
    name=DATASET,
    columns=COLUMNS,
    cook=cook,
    fields_of=order_fields,
    time_of=order_time_of,
    time_source="time",
    time_column="order_time",
)
