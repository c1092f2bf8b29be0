"""The cooked candles table: contract columns and the transform from raw kline rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from binance_assets.partitions import MINUTE_MS, epoch_ms
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

DATASET = "candles"
CLOSE_OFFSET_MS = MINUTE_MS - 1

# Binance's kline row, by position.
KLINE_FIELDS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_asset_volume",
    "number_of_trades",
    "taker_buy_base_asset_volume",
    "taker_buy_quote_asset_volume",
    "ignore",
]

COLUMNS = [
    Column("trading_pair", pl.String, "Trading Pair", "symbol"),
    Column("open_price", DECIMAL, "Open Price", "open"),
    Column("close_price", DECIMAL, "Close Price", "close"),
    Column("high_price", DECIMAL, "High Price", "high"),
    Column("low_price", DECIMAL, "Low Price", "low"),
    Column("btc_volume", DECIMAL, "BTC Volume", "volume"),
    Column("usd_volume", DECIMAL, "USD Volume", "quote_asset_volume"),
    Column("number_of_trades", pl.Int64, "Number of Trades", "number_of_trades"),
    Column("candle_open_time", TIMESTAMP, "Candle Open Time", "open_time"),
    Column("candle_close_time", TIMESTAMP, "Candle Close Time", "close_time"),
]


def kline_fields(row: Any, symbol: str) -> dict[str, Any] | None:
    """A kline row's documented fields by name (and the pair it was asked for), or None when it is
    not a row of at least 12 fields. Fields after the 12th are Binance's later additions: kept in
    the raw zone, not cooked."""
    if type(row) is not list or len(row) < len(KLINE_FIELDS):
        return None
    return {**dict(zip(KLINE_FIELDS, row)), "symbol": symbol}


def _source_frame(hours: Sequence[HourRows], symbol: str) -> pl.DataFrame:
    """All hours' documented fields as strings, one column per kline field."""
    for hour in hours:
        for position, row in enumerate(hour.rows):
            if kline_fields(row, symbol) is None:
                raise MalformedData(DATASET, hour.key, position, "*", row, "not a kline row of 12 fields")
    frame = pl.DataFrame(
        [row[: len(KLINE_FIELDS)] for hour in hours for row in hour.rows],
        orient="row",
        schema={name: pl.String for name in KLINE_FIELDS},
        strict=False,
    )
    return with_hour_columns(frame, hours).with_columns(pl.lit(symbol).alias("symbol"))


def cook(hours: Sequence[HourRows], symbol: str) -> list[CookedHour]:
    """Typed candles for each hour, exactly the contract's columns in order. Repeated open times
    within an hour are dropped (first kept) and counted; rows with fields beyond the documented 12
    are counted (Binance adds fields over time)."""
    frame = parse_columns(_source_frame(hours, symbol), COLUMNS, DATASET, hours)
    unique = frame
    if not _strictly_increasing(frame["candle_open_time"]):  # the usual case skips two passes
        unique = frame.unique(subset=["_hour", "candle_open_time"], keep="first", maintain_order=True)
        unique = unique.sort("_hour", "candle_open_time")
    tables = split_hours(unique, len(hours))
    return [
        CookedHour(
            table,
            len(hour.rows) - table.height,
            tuple(missing_minutes(table, hour.hour, hour.complete)),
            sum(len(row) > len(KLINE_FIELDS) for row in hour.rows),
        )
        for hour, table in zip(hours, tables)
    ]


def missing_minutes(frame: pl.DataFrame, hour: datetime, complete: bool) -> list[str]:
    """Minutes of the hour with no candle, as ``HH:MM``; for an open hour, only those before its
    last candle (later minutes have not closed yet).

    Sixty minutes as Python integers: a polars minute range per hour cost 0.5 ms, 16× this.
    """
    offsets = frame["candle_open_time"].dt.epoch("ms") - epoch_ms(hour)
    present = set(offsets.filter(offsets % MINUTE_MS == 0).to_list())
    if complete:
        last = 59
    else:
        last = offsets.max() // MINUTE_MS if offsets.len() else -1
    return [
        f"{hour:%H}:{minute:02d}" for minute in range(last + 1) if minute * MINUTE_MS not in present
    ]


def _strictly_increasing(times: pl.Series) -> bool:
    return times.is_sorted() and times.n_unique() == times.len()


def open_time_of(row: Any) -> int | None:
    """A kline's open time, the key Binance identifies it by (also in a row of the wrong length,
    so the shape check names the hour the row belongs to)."""
    return row[0] if type(row) is list and row and type(row[0]) is int else None


CANDLES = Dataset(
    name=DATASET,
    columns=COLUMNS,
    cook=cook,
    fields_of=kline_fields,
    time_of=open_time_of,
    time_source="open_time",
    time_column="candle_open_time",
)
