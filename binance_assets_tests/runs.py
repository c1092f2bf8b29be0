"""Building resources and running real Dagster materializations for the tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult, materialize
from dagster_aws.s3 import S3Resource

from binance_assets.assets.pair import IO_MANAGER, pair_assets
from binance_assets.binance.archive import BinanceArchive
from binance_assets.binance.client import BinanceResource
from binance_assets.iceberg.resource import Warehouse
from binance_assets.lake.io_manager import LakeIOManager
from binance_assets.lake.resource import Lake
from binance_assets.partitions import hourly_partitions
from binance_assets.settings import DEFAULTS

SYMBOL = "BTCUSDT"
HOURS = hourly_partitions(DEFAULTS["BINANCE_START_DATE"])
BTC_CANDLES, BTC_ORDERS = pair_assets(SYMBOL, DEFAULTS["BINANCE_START_DATE"])
CANDLE_ASSETS = [BTC_CANDLES.raw, BTC_CANDLES.cooked]
ORDER_ASSETS = [BTC_ORDERS.raw, BTC_ORDERS.cooked]
ALL_ASSETS = CANDLE_ASSETS + ORDER_ASSETS

# The tags Dagster puts on a single-run range; ``materialize`` takes a range only this way.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def key(name: str, symbol: str = SYMBOL) -> AssetKey:
    """A pair's asset key, e.g. ``BTCUSDT/candles``."""
    return AssetKey([symbol, name])


def node(name: str, symbol: str = SYMBOL) -> str:
    """The step (node) name Dagster gives a pair's asset."""
    return f"{symbol}__{name}"


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
    lake = Lake(url=lake_url, s3=s3)
    catalog = f"sqlite:///{lake_url}/catalog.db" if not lake_url.startswith("s3://") else "sqlite:///:memory:"
    return {
        "warehouse": Warehouse(catalog_uri=catalog, warehouse=f"{lake_url}/tables"),
        "binance": binance,
        "binance_archive": BinanceArchive(archive_url=api_url, enabled=archive),
        "lake": lake,
        IO_MANAGER: LakeIOManager(lake=lake),
    }


def run_hours(
    resources: dict[str, Any],
    start: str,
    end: str | None = None,
    *,
    assets: Sequence[Any] = CANDLE_ASSETS,
    instance: DagsterInstance | None = None,
    selection: Sequence[str] | None = None,
    refetch: bool = False,
) -> ExecuteInProcessResult:
    """Materialize ``assets`` (or only the ``selection`` of them by name, e.g. ``candles``, the
    rest read from the lake) for one hour, or for ``start...end`` as a single run; ``refetch``
    fetches hours again that the lake already holds complete."""
    if selection is not None:
        selection = [key(name) for name in selection]
    raw_nodes = [a.node_def.name for a in assets if a.key.path[-1].startswith("raw_")]
    run_config = {"ops": {name: {"config": {"refetch": True}} for name in raw_nodes}} if refetch else None
    common = dict(resources=resources, instance=instance, selection=selection, raise_on_error=False, run_config=run_config)
    if end is None:
        return materialize(assets, partition_key=start, **common)
    return materialize(assets, tags={RANGE_START_TAG: start, RANGE_END_TAG: end}, **common)


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
