"""1-minute candles (klines): the ``Dataset``."""

from collections.abc import Iterable
from typing import Any

import polars as pl

from binance_assets import charts
from binance_assets.datasets.contract import DECIMAL, TIMESTAMP, Column, Dataset, Page, Rule, rows_where
from binance_assets.partitions import MINUTE_MS

CLOSE_OFFSET_MS = MINUTE_MS - 1

# Prices this far from the previous minute's close are worth a look (a shifted, foreign or corrupt
# row): rare on BTC, but real markets make such moves, so a warning.
MAX_JUMP = 0.10

# Binance's kline row, by position.
KLINE_FIELDS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_asset_volume",
    "number_of_trades", "taker_buy_base_asset_volume", "taker_buy_quote_asset_volume", "ignore",
)

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
    """A kline row's documented fields by name (and the pair asked for), or None when it is not a
    row of at least 12 fields (later ones are Binance's additions: kept raw, not cooked)."""
    if type(row) is not list or len(row) < len(KLINE_FIELDS):
        return None
    return {**dict(zip(KLINE_FIELDS, row)), "symbol": symbol}


def open_time_of(row: Any) -> int | None:
    """Also of a row of the wrong length, so an error names its hour."""
    return row[0] if type(row) is list and row and type(row[0]) is int else None


def fetch(binance: Any, archive: Any, symbol: str, start_ms: int, end_ms: int, rest_only: bool = False) -> Iterable[Page]:
    """Old hours from the bulk archive, recent ones (and any unusable file) by REST."""
    return binance.klines(symbol, start_ms, end_ms) if rest_only else archive.klines(binance, symbol, start_ms, end_ms)


def _outside(column: str, low: str, high: str) -> pl.Expr:
    return (pl.col(low) > pl.col(column)) | (pl.col(column) > pl.col(high))


PRICES = ("open_price", "high_price", "low_price", "close_price")


def _jump() -> pl.Expr:
    """The largest relative distance of a candle's prices from the previous minute's close."""
    previous = pl.col("_previous_close_price").cast(pl.Float64)
    return pl.max_horizontal((pl.col(p).cast(pl.Float64) / previous - 1).abs() for p in PRICES)


RULES = [
    Rule("close time", "Every candle closes 59,999 ms after it opens.", rows_where(
        pl.col("candle_close_time") != pl.col("candle_open_time") + pl.duration(milliseconds=CLOSE_OFFSET_MS))),
    Rule("ohlc", "low ≤ open ≤ high and low ≤ close ≤ high.", rows_where(
        _outside("open_price", "low_price", "high_price") | _outside("close_price", "low_price", "high_price"))),
    Rule("prices", "Every price is above zero.", rows_where(pl.any_horizontal(pl.col(p) <= 0 for p in PRICES))),
    Rule("volumes", "Volumes and trade counts are not negative.", rows_where(
        (pl.col("btc_volume") < 0) | (pl.col("usd_volume") < 0) | (pl.col("number_of_trades") < 0))),
]

WARNINGS = [
    Rule("jumps", f"No price of a candle is more than {MAX_JUMP:.0%} away from the previous minute's "
         f"close (across hour boundaries too).", rows_where(_jump() > MAX_JUMP)),
]

CANDLES = Dataset(
    name="candles", columns=COLUMNS, raw_file="klines.json", fields_of=kline_fields, time_of=open_time_of,
    key_field="open_time", time_field="open_time", on_the_minute=True, symbol_column="trading_pair",
    time_column="candle_open_time", rules=RULES, warnings=WARNINGS, fetch=fetch, picture=charts.candles_day_png,
)
