"""The code location: assets, checks, resources and schedules, configured from the environment."""

import os

from dagster import ConfigurableResource, Definitions, EnvVar

from binance_assets import schedules, settings
from binance_assets.assets import candles, orders
from binance_assets.checks import candles_checks, freshness_checks, freshness_sensor, orders_checks
from binance_assets.lake.io_managers import ParquetIOManager, RawZoneIOManager
from binance_assets.resources.archive import BinanceArchive
from binance_assets.resources.binance import BinanceResource


def lake_url() -> str | EnvVar:
    return settings.env_or_default("LAKE_URL", "data/lake")


def s3() -> ConfigurableResource | None:
    """dagster-aws's S3 resource (standard AWS_* variables) when the lake is on S3; a local lake
    does without, so its step processes never import dagster-aws."""
    if not os.environ.get("LAKE_URL", "").startswith("s3://"):
        return None
    from dagster_aws.s3 import S3Resource

    return S3Resource()


lake_s3 = s3()

defs = Definitions(
    assets=[candles.raw_candles, candles.candles, orders.raw_orders, orders.orders],
    asset_checks=[candles_checks, orders_checks, *freshness_checks],
    jobs=schedules.jobs,
    schedules=schedules.schedules,
    sensors=[freshness_sensor],
    resources={
        "binance": BinanceResource(
            api_url=settings.env_or_default("BINANCE_API_URL", "https://api.binance.com"),
            api_key=settings.optional_env("BINANCE_API_KEY"),
            api_secret=settings.optional_env("BINANCE_API_SECRET"),
        ),
        "binance_archive": BinanceArchive(
            archive_url=settings.env_or_default("BINANCE_ARCHIVE_URL", "https://data.binance.vision")
        ),
        "raw_zone_io_manager": RawZoneIOManager(lake_url=lake_url(), s3=lake_s3),
        "parquet_io_manager": ParquetIOManager(lake_url=lake_url(), s3=lake_s3),
    },
)
