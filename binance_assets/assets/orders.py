"""The account's orders on the pair: raw allOrders JSON per hour, and the cooked orders table."""

from dagster import AssetExecutionContext

from binance_assets import settings
from binance_assets.assets.zones import cooked_stream, lake_asset, raw_stream
from binance_assets.lake.hours import HourStream, LakeHours
from binance_assets.resources.binance import BinanceResource
from binance_assets.tables.orders import ORDERS

SYMBOL = settings.symbol()


@lake_asset(ORDERS, "raw", SYMBOL, kinds={"binance", "json"}, pool="binance")
def raw_orders(context: AssetExecutionContext, binance: BinanceResource) -> HourStream:
    """The account's orders whose ``time`` falls in each hour, exactly as allOrders returned them
    (signed; up to 1000 per request, continued by orderId), then ``_SUCCESS`` once the hour closed."""
    binance.require_credentials()
    context.log.info(f"reading orders with API key {binance.masked_api_key()}")
    return raw_stream(ORDERS, context, binance, binance.all_orders, SYMBOL)


@lake_asset(ORDERS, "cooked", SYMBOL, kinds={"polars", "parquet"})
def orders(raw_orders: LakeHours) -> HourStream:
    """The orders table: contract columns, exact decimals, UTC millisecond timestamps; repeated
    order ids dropped and counted."""
    return cooked_stream(ORDERS, raw_orders, SYMBOL)
