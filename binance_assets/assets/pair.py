"""The asset factory: for every dataset in ``DATASETS`` a pair gets ``{SYMBOL}/raw_{dataset} →
{SYMBOL}/{dataset}`` (with its checks) ``→ {SYMBOL}/daily_{dataset}``, in an asset group of its own.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from dagster import (
    AssetExecutionContext, AssetIn, AssetKey, AssetsDefinition, AssetSpec, BackfillPolicy, DailyPartitionsDefinition,
    FreshnessPolicy, HourlyPartitionsDefinition, MaterializeResult, TableColumn, TableSchema, asset, multi_asset,
)

from binance_assets import checks
from binance_assets.assets.cooked import materialize_cooked
from binance_assets.assets.daily import daily_asset
from binance_assets.assets.raw import RawConfig, materialize_raw
from binance_assets.binance.archive import BinanceArchive
from binance_assets.binance.client import BinanceResource
from binance_assets.datasets import DATASETS
from binance_assets.datasets.contract import Column, Dataset
from binance_assets.lake.io_manager import place_metadata
from binance_assets.lake.resource import Lake
from binance_assets.lake.zones import Hours, Place, RawHour
from binance_assets.partitions import daily_partitions, hourly_partitions

# The hourly run starts at :05 and the near-real-time refresh every 5 minutes: by :15 each cooked
# table must have been materialized within the last 15 minutes (the latest hour is then current).
FRESHNESS = FreshnessPolicy.cron(deadline_cron="15 * * * *", lower_bound_delta=timedelta(minutes=15))
IO_MANAGER = "lake_io_manager"  # how a step receives the hours of the asset upstream


@dataclass(frozen=True)
class DatasetAssets:
    """One dataset of one pair: the raw asset, the cooked asset (with its checks), the days."""

    dataset: Dataset
    symbol: str
    raw: AssetsDefinition
    cooked: AssetsDefinition
    daily: AssetsDefinition

    def assets(self) -> list[AssetsDefinition]:
        return [self.raw, self.cooked, self.daily]


def table_schema(columns: list[Column]) -> TableSchema:
    """The contract as ``dagster/column_schema`` metadata; descriptions carry the required names."""
    return TableSchema(columns=[
        TableColumn(name=c.name, type=str(c.dtype), description=f"{c.label} (Binance field {c.source})")
        for c in columns
    ])


def dataset_assets(
    dataset: Dataset, symbol: str, hours: HourlyPartitionsDefinition, days: DailyPartitionsDefinition
) -> DatasetAssets:
    place = Place(dataset.name, symbol, dataset.raw_file)
    raw_key, table = AssetKey([symbol, f"raw_{dataset.name}"]), AssetKey([symbol, dataset.name])
    hourly = dict(partitions_def=hours, backfill_policy=BackfillPolicy.single_run(), group_name=symbol)

    @asset(
        key=raw_key, kinds={"binance", "json"}, pool="binance", metadata=place_metadata("raw", place),
        description=f"{symbol} {dataset.name} of each hour exactly as Binance returned them "
        f"(raw/{dataset.name}/symbol={symbol}/…), with _SUCCESS once the hour is complete.",
        **hourly,
    )
    def raw(
        context: AssetExecutionContext, config: RawConfig, binance: BinanceResource, binance_archive: BinanceArchive,
        lake: Lake,
    ) -> MaterializeResult:
        return materialize_raw(context, dataset, place, config, binance, binance_archive, lake)

    @multi_asset(
        specs=[AssetSpec(
            table, deps=[raw_key], kinds={"polars", "parquet"}, freshness_policy=FRESHNESS,
            metadata={"dagster/column_schema": table_schema(list(dataset.columns)), **place_metadata("cooked", place)},
            description=f"The {dataset.name} table of {symbol} (cooked/{dataset.name}/symbol={symbol}/…): the "
            f"contract's columns, exact decimals, UTC millisecond timestamps; each hour judged by its checks.",
        )],
        name=f"{symbol}__{dataset.name}",
        ins={"raw_hours": AssetIn(raw_key, input_manager_key=IO_MANAGER)},
        check_specs=checks.specs(dataset, table, hours),
        can_subset=True,  # check results are recorded per hour as evaluations, not as outputs
        **hourly,
    )
    def cooked(context: AssetExecutionContext, raw_hours: Hours, lake: Lake) -> Iterator:
        yield from materialize_cooked(context, dataset, place, table, raw_hours, lake)

    return DatasetAssets(dataset, symbol, raw, cooked, daily_asset(dataset, place, table, days, IO_MANAGER))


def pair_assets(symbol: str, start_date: str) -> list[DatasetAssets]:
    """Every dataset's assets of ``symbol``, partitioned from ``start_date`` (BINANCE_START_DATE)."""
    hours, days = hourly_partitions(start_date), daily_partitions(start_date)
    return [dataset_assets(dataset, symbol, hours, days) for dataset in DATASETS]
