"""The code location: assets, checks, resources and schedules, configured from the environment."""

from dagster import Definitions, EnvVar
from dagster_aws.s3 import S3Resource

from binance_assets import schedules, settings
from binance_assets.assets import candles, orders
from binance_assets.checks import candles_checks, freshness_checks, freshness_sensor, orders_checks
from binance_assets.lake.io_managers import ParquetIOManager, RawZoneIOManager
from binance_assets.resources.archive import BinanceArchive
from binance_assets.resources.binance import BinanceResource


def lake_url() -> str | EnvVar:
    return settings.env_or_default("LAKE_URL", "data/lake")


s3 = S3Resource()

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
        "raw_zone_io_manager": RawZoneIOManager(lake_url=lake_url(), s3=s3),
        "parquet_io_manager": ParquetIOManager(lake_url=lake_url(), s3=s3),
    },
)
