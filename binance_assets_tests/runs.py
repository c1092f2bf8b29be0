"""Building resources and running real Dagster materializations for the tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult, materialize
from dagster_aws.s3 import S3Resource

from binance_assets.assets.candles import candles, raw_candles
from binance_assets.assets.orders import orders, raw_orders
from binance_assets.checks import candles_checks, orders_checks
from binance_assets.lake.io_managers import ParquetIOManager, RawZoneIOManager
from binance_assets.partitions import RANGE_END_TAG, RANGE_START_TAG
from binance_assets.resources.archive import BinanceArchive
from binance_assets.resources.binance import BinanceResource

CANDLE_ASSETS = [raw_candles, candles, candles_checks]
ORDER_ASSETS = [raw_orders, orders, orders_checks]
ALL_ASSETS = CANDLE_ASSETS + ORDER_ASSETS

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def lake_resources(
    lake_url: str,
    api_url: str,
    *,
    api_key: str | None = API_KEY,
    api_secret: str | None = API_SECRET,
    s3_endpoint: str | None = None,
    archive: bool = False,
    **binance_options: Any,
) -> dict[str, Any]:
    """The code location's resources, pointed at a test lake, emulator and (optionally) S3.

    The bulk archive (served by the emulator too) is off unless ``archive``: REST tests stay REST.
    """
    s3 = S3Resource(
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing" if s3_endpoint else None,
        aws_secret_access_key="testing" if s3_endpoint else None,
        max_attempts=2,
    )
    binance = BinanceResource(
        api_url=api_url, api_key=api_key, api_secret=api_secret, **binance_options
    )
    return {
        "binance": binance,
        "binance_archive": BinanceArchive(archive_url=api_url, enabled=archive),
        "raw_zone_io_manager": RawZoneIOManager(lake_url=lake_url, s3=s3),
        "parquet_io_manager": ParquetIOManager(lake_url=lake_url, s3=s3),
    }


def run_hours(
    resources: dict[str, Any],
    start: str,
    end: str | None = None,
    *,
    assets: Sequence[Any] = CANDLE_ASSETS,
    instance: DagsterInstance | None = None,
    selection: Sequence[str] | None = None,
) -> ExecuteInProcessResult:
    """Materialize ``assets`` (or only the ``selection`` of them, the rest read from the lake) for
    one hour, or for ``start...end`` as a single run."""
    if end is None:
        return materialize(
            assets, resources=resources, partition_key=start, instance=instance,
            selection=selection, raise_on_error=False,
        )
    tags = {RANGE_START_TAG: start, RANGE_END_TAG: end}
    return materialize(
        assets, resources=resources, tags=tags, instance=instance, selection=selection,
        raise_on_error=False,
    )


def failure_messages(result: ExecuteInProcessResult) -> str:
    """Every step failure's error text, for assertions on what the user is told."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None:
                texts.append(error.message)
                error = error.cause
    return "\n".join(texts)
