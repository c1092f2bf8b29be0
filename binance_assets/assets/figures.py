"""What every hourly asset reports: the run's hours, and each hour's figures."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dagster import AssetExecutionContext, MetadataValue

from binance_assets.partitions import partition_hour


def run_hours(context: AssetExecutionContext) -> list[str]:
    """The hours this step covers, each checked to be a whole hour before anything is fetched."""
    asked = [context.partition_key] if not context.has_partition_key_range else []
    keys = list(context.partition_keys)
    for key in asked + keys:  # Dagster maps an off-hour key ("13:30") to the next hour: refuse it
        partition_hour(key)
    return keys


def hour_metadata(
    context: AssetExecutionContext, keys: Sequence[str], exceptions: Mapping[str, Mapping[str, Any]],
    totals: Mapping[str, Any], path_of: Callable[[str], str],
) -> dict[str, Any]:
    """The step's materialization metadata. What is returned goes on every hour (``complete:
    true``); the ``exceptions`` go on their own hour, the run's totals on its last hour as one JSON
    entry. ``context.add_asset_metadata`` costs the run's partition keys on every call, so it is
    called for the exceptions only, never once per hour of a year."""
    for key, figures in exceptions.items():
        context.add_asset_metadata(dict(figures), partition_key=key)
    if len(keys) == 1:
        return {"complete": True, "path": path_of(keys[0]), **totals, **exceptions.get(keys[0], {})}
    context.add_asset_metadata({"run": MetadataValue.json(dict(totals))}, partition_key=keys[-1])
    return {"complete": True}
