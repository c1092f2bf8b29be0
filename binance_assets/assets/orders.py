"""The account's orders on the pair: raw allOrders JSON per hour, and the cooked orders table."""

from dagster import AssetExecutionContext, BackfillPolicy, asset

from binance_assets import settings
from binance_assets.assets.zones import cooked_stream, lake_metadata, raw_stream
from binance_assets.lake.hours import HourStream, LakeHours
from binance_assets.partitions import hourly_partitions
from binance_assets.resources.binance import BinanceResource
from binance_assets.tables.orders import ORDERS

SYMBOL = settings.symbol()


@asset(
    partitions_def=hourly_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    io_manager_key="raw_zone_io_manager",
    metadata=lake_metadata(ORDERS, "raw", SYMBOL),
    group_name="orders",
    kinds={"binance", "json"},
    pool="binance",
)
def raw_orders(context: AssetExecutionContext, binance: BinanceResource) -> HourStream:
    """The account's orders whose ``time`` falls in each hour, exactly as allOrders returned them
    (signed; up to 1000 per request, continued by orderId), then ``_SUCCESS`` once the hour closed."""
    binance.require_credentials()
    context.log.info(f"reading orders with API key {binance.masked_api_key()}")
    return raw_stream(ORDERS, context, binance, binance.all_orders, SYMBOL)


@asset(
    partitions_def=hourly_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    io_manager_key="parquet_io_manager",
    metadata=lake_metadata(ORDERS, "cooked", SYMBOL),
    group_name="orders",
    kinds={"polars", "parquet"},
)
def orders(raw_orders: LakeHours) -> HourStream:
    """The orders table: contract columns, exact decimals, UTC millisecond timestamps; repeated
    order ids dropped and counted."""
    return cooked_stream(ORDERS, raw_orders, SYMBOL)
