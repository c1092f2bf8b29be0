"""The asset factory: one pair's assets, keyed by its symbol, in an asset group of its own.

Every pair gets the same graph — ``raw_candles → candles`` and ``raw_orders → orders``, each
cooked table with its checks — so a pair added to ``BINANCE_SYMBOLS`` appears after a reload, and
no code is written per pair.
"""


from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    AssetChecksDefinition,
    BackfillPolicy,
    DailyPartitionsDefinition,
    FreshnessPolicy,
    HourlyPartitionsDefinition,
    asset,
)

from binance_assets.assets.cooked import materialize_cooked
from binance_assets.assets.daily import daily_asset
from binance_assets.assets.raw import materialize_raw
from binance_assets.checks import table_checks
from binance_assets.lake.resource import Lake
from binance_assets.lake.zones import Hours, RawHour
from binance_assets.partitions import daily_partitions, hourly_partitions
from binance_assets.binance.archive import BinanceArchive
from binance_assets.binance.client import BinanceResource
from binance_assets.tables.candles import CANDLES
from binance_assets.tables.orders import ORDERS
from binance_assets.tables.schema import Dataset, table_schema

# The hourly run starts at :05 and the near-real-time refresh every 5 minutes: by :15 each cooked
# table must have been materialized within the last 15 minutes (the latest hour is then current).
FRESHNESS = FreshnessPolicy.cron(deadline_cron="15 * * * *", lower_bound_delta=timedelta(minutes=15))


@dataclass(frozen=True)
class DatasetAssets:
    """One dataset of one pair: raw asset, cooked asset, the cooked table's checks, the days."""

    raw: AssetsDefinition
    cooked: AssetsDefinition
    checks: AssetChecksDefinition
    daily: AssetsDefinition

    def hourly(self) -> list[AssetsDefinition | AssetChecksDefinition]:
        return [self.raw, self.cooked, self.checks]


@dataclass(frozen=True)
class PairAssets:
    symbol: str
    candles: DatasetAssets
    orders: DatasetAssets

    def assets(self) -> list[AssetsDefinition]:
        return [d.raw for d in self.datasets()] + [d.cooked for d in self.datasets()] + [
            d.daily for d in self.datasets()
        ]

    def datasets(self) -> list[DatasetAssets]:
        return [self.candles, self.orders]

    def checks(self) -> list[AssetChecksDefinition]:
        return [d.checks for d in self.datasets()]


def dataset_assets(
    dataset: Dataset, symbol: str, hours: HourlyPartitionsDefinition, days: DailyPartitionsDefinition
) -> DatasetAssets:
    raw_key = AssetKey([symbol, f"raw_{dataset.name}"])
    common = dict(
        partitions_def=hours,
        backfill_policy=BackfillPolicy.single_run(),
        group_name=symbol,
    )

    @asset(
        key=raw_key,
        io_manager_key="raw_zone_io_manager",
        kinds={"binance", "json"},
        pool="binance",
        description=f"{symbol} {dataset.name} of each hour exactly as Binance returned them "
        f"(raw/{dataset.name}/symbol={symbol}/…), with _SUCCESS once the hour has closed.",
        **common,
    )
    def raw(
        context: AssetExecutionContext, binance: BinanceResource, binance_archive: BinanceArchive, lake: Lake
    ) -> Mapping[str, RawHour]:
        return materialize_raw(context, dataset, symbol, binance, binance_archive, lake)

    @asset(
        key=AssetKey([symbol, dataset.name]),
        ins={"raw_hours": AssetIn(raw_key)},
        io_manager_key="parquet_io_manager",
        kinds={"polars", "parquet"},
        metadata={"dagster/column_schema": table_schema(dataset.columns)},
        freshness_policy=FRESHNESS,
        description=f"The {dataset.name} table of {symbol} (cooked/{dataset.name}/symbol={symbol}/…): "
        f"the contract's columns, exact decimals, UTC millisecond timestamps.",
        **common,
    )
    def cooked(
        context: AssetExecutionContext, raw_hours: Hours, binance: BinanceResource, lake: Lake
    ) -> Mapping[str, pl.DataFrame]:
        return materialize_cooked(context, dataset, symbol, raw_hours, binance, lake)

    checks = table_checks(dataset, cooked.key, hours)
    return DatasetAssets(raw, cooked, checks, daily_asset(dataset, symbol, cooked.key, days))


def pair_assets(symbol: str, start_date: str) -> PairAssets:
    """Every asset and check of ``symbol``, partitioned from ``start_date`` (BINANCE_START_DATE)."""
    hours, days = hourly_partitions(start_date), daily_partitions(start_date)
    return PairAssets(
        symbol, dataset_assets(CANDLES, symbol, hours, days), dataset_assets(ORDERS, symbol, hours, days)
    )
