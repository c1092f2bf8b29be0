"""The code location, wired from the settings: each pair's assets, per dataset a job and its
schedules, the sensors and the resources."""

from dagster import Definitions, EnvVar

from binance_assets import automation, sensors
from binance_assets.assets.pair import IO_MANAGER, pair_assets
from binance_assets.binance.archive import BinanceArchive
from binance_assets.binance.client import BinanceResource
from binance_assets.datasets import DATASETS
from binance_assets.iceberg.resource import Warehouse
from binance_assets.lake.io_manager import LakeIOManager
from binance_assets.lake.resource import Lake
from binance_assets.partitions import hourly_partitions
from binance_assets.settings import AWS_VARIABLES, Settings

# dagster-aws's S3Resource field of each AWS variable (an EnvVar is shown by name, never by value).
S3_FIELDS = dict(zip(AWS_VARIABLES, ("endpoint_url", "region_name", "aws_access_key_id", "aws_secret_access_key")))


def lake(settings: Settings) -> Lake:
    """With dagster-aws's S3 resource on S3 only, so a local lake's steps never import dagster-aws."""
    if not settings.lake_on_s3:
        return Lake()
    from dagster_aws.s3 import S3Resource

    return Lake(s3=S3Resource(**{S3_FIELDS[name]: EnvVar(name) for name in settings.s3.variables()}))


def build_definitions(settings: Settings) -> Definitions:
    hours = hourly_partitions(settings.start_date)
    pairs = [assets for symbol in settings.symbols for assets in pair_assets(symbol, settings.start_date)]
    jobs, schedules = [], []
    for dataset in DATASETS:
        job = automation.dataset_job(dataset, [pair for pair in pairs if pair.dataset is dataset])
        running = settings.credentials_configured or not dataset.needs_credentials
        jobs.append(job)
        schedules += automation.dataset_schedules(job, hours, dataset, running)
    the_lake = lake(settings)
    return Definitions(
        assets=[asset for pair in pairs for asset in pair.assets()],
        jobs=jobs,
        schedules=schedules,
        sensors=[
            automation.daily_tables(pairs),
            sensors.heal_hours(pairs, jobs, hours, settings),
            sensors.settle_orders(pairs, jobs, settings),
            sensors.archive_revisions(pairs, jobs, hours),
            sensors.dead_runs,
        ],
        resources={
            "binance": BinanceResource(),
            "binance_archive": BinanceArchive(),
            "lake": the_lake,
            "warehouse": Warehouse(),
            IO_MANAGER: LakeIOManager(lake=the_lake),
        },
    )


defs = build_definitions(Settings.from_env())
