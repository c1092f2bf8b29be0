"""1-minute candles: the raw kline JSON per hour, and the cooked candles table."""

from functools import partial

from dagster import AssetExecutionContext

from binance_assets import settings
from binance_assets.assets.zones import cooked_stream, lake_asset, raw_stream
from binance_assets.lake.hours import HourStream, LakeHours
from binance_assets.resources.archive import BinanceArchive
from binance_assets.resources.binance import BinanceResource
from binance_assets.tables.candles import CANDLES

SYMBOL = settings.symbol()


@lake_asset(CANDLES, "raw", SYMBOL, kinds={"binance", "json"}, pool="binance")
def raw_candles(
    context: AssetExecutionContext, binance: BinanceResource, binance_archive: BinanceArchive
) -> HourStream:
    """Closed 1m klines of each hour exactly as Binance returned them, fetched in 1000-row pages
    across the whole partition range (old hours from the bulk archive, in the same form), then
    ``_SUCCESS`` once the hour has closed."""
    fetch = partial(binance_archive.klines, binance)
    return raw_stream(CANDLES, context, binance, fetch, SYMBOL, binance_archive.stats.as_metadata)


@lake_asset(CANDLES, "cooked", SYMBOL, kinds={"polars", "parquet"})
def candles(raw_candles: LakeHours) -> HourStream:
    """The candles table: contract columns, exact decimals, UTC millisecond timestamps; repeated
    open times dropped, missing minutes reported (never invented)."""
    return cooked_stream(CANDLES, raw_candles, SYMBOL)
