"""What every hourly asset reports: the run's hours, and each hour's figures without paying
Dagster's per-call cost for every hour of a long range."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dagster import AssetExecutionContext, MetadataValue

from binance_assets.partitions import partition_hour


def run_hours(context: AssetExecutionContext) -> list[str]:
    """The hours this step covers (one, or a single-run range), each checked to be a whole hour
    before anything is fetched or written."""
    asked = [context.partition_key] if not context.has_partition_key_range else []
    keys = list(context.partition_keys)
    for key in asked + keys:  # Dagster maps an off-hour key ("13:30") to the next hour: refuse it
        partition_hour(key)
    return keys


def hour_metadata(
    context: AssetExecutionContext,
    keys: Sequence[str],
    exceptions: Mapping[str, Mapping[str, Any]],
    totals: Mapping[str, Any],
    path_of: Callable[[str], str],
) -> dict[str, Any]:
    """The metadata of the step's materializations. What is returned goes on every hour, so for a
    range it says only what holds for most of them (``complete: true``); the ``exceptions`` (an
    open hour: ``complete: false``) say so on their own hour, and the run's totals go on its last
    hour as one JSON entry (a run total is not an hour's figure). ``context.add_asset_metadata``
    re-derives the run's partition keys on every call, so it is called for the exceptions only,
    never once per hour of a year."""
    for key, figures in exceptions.items():
        context.add_asset_metadata(dict(figures), partition_key=key)
    if len(keys) == 1:
        return {"complete": True, "path": path_of(keys[0]), **totals, **exceptions.get(keys[0], {})}
    context.add_asset_metadata({"run": MetadataValue.json(dict(totals))}, partition_key=keys[-1])
    return {"complete": True}
