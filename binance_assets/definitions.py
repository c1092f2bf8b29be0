"""The code location: every configured pair's assets and checks, the jobs and schedules, and the
resources, built from the environment as it is when the code location loads."""

from __future__ import annotations

import os

from dagster import AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus, Definitions

from binance_assets import schedules
from binance_assets.assets.pair import PairAssets, pair_assets
from binance_assets.lake.io_managers import ParquetIOManager, RawZoneIOManager
from binance_assets.lake.resource import Lake
from binance_assets.partitions import hourly_partitions
from binance_assets.binance.archive import BinanceArchive
from binance_assets.binance.client import BinanceResource
from binance_assets.settings import Settings
from binance_assets.iceberg.resource import Warehouse

def lake(settings: Settings) -> Lake:
    """The lake, with dagster-aws's S3 resource (standard AWS_* variables) when it is on S3; a
    local lake does without, so its step processes never import dagster-aws."""
    if not settings.lake_on_s3:
        return Lake()
    from dagster_aws.s3 import S3Resource

    return Lake(s3=S3Resource())


def build_definitions(settings: Settings) -> Definitions:
    hours = hourly_partitions(settings.start_date)
    pairs: list[PairAssets] = [pair_assets(symbol, settings.start_date) for symbol in settings.symbols]
    candles_job = schedules.dataset_job("candles", [pair.candles for pair in pairs])
    orders_job = schedules.dataset_job("orders", [pair.orders for pair in pairs])
    days = AutomationConditionSensorDefinition(
        "daily_tables",
        target=AssetSelection.assets(*[d.daily for pair in pairs for d in pair.datasets()]),
        # Ships running, like the candle schedules: the days are built unattended once their
        # hours are in (Dagster's default automation sensor would ship stopped).
        default_status=DefaultSensorStatus.RUNNING,
        description="Builds each pair's day in the Iceberg tables once its 24 hours are in, and "
        "rebuilds it when one of them is re-materialized.",
    )
    the_lake = lake(settings)
    return Definitions(
        assets=[a for pair in pairs for a in pair.assets()],
        asset_checks=[c for pair in pairs for c in pair.checks()],
        jobs=[candles_job, orders_job],
        sensors=[days],
        schedules=schedules.dataset_schedules(candles_job, hours, "candles", schedules.orders_default_status(True))
        + schedules.dataset_schedules(orders_job, hours, "orders", schedules.orders_default_status(settings.credentials_configured)),
        resources={
            "binance": BinanceResource(),
            "binance_archive": BinanceArchive(),
            "lake": the_lake,
            "warehouse": Warehouse(),
            "raw_zone_io_manager": RawZoneIOManager(lake=the_lake),
            "parquet_io_manager": ParquetIOManager(lake=the_lake),
        },
    )


# A single-run backfill then writes one ASSET_MATERIALIZATION_PLANNED event per asset instead of
# one per partition and asset (≈ 60 % of Dagster's cost per partition). Dagster reads it in the
# process that creates the run: this covers `dagster asset materialize`; the webserver and the
# daemon need it in their own environment (README, deploy/README.md). Its documented cost: the
# hours of a failed range run are not marked failed (the run is). Set it to 0 to opt out.
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "1")

defs = build_definitions(Settings.from_env())
