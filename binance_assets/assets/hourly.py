"""What the hourly assets share: the run's hours, keeping finished hours when a run fails, and
the figures each hour and each run report."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from dagster import AssetExecutionContext, MetadataValue

from binance_assets.lake.zones import store_hours
from binance_assets.partitions import partition_hour

T = TypeVar("T")


def run_hours(context: AssetExecutionContext) -> list[str]:
    """The hours this step covers (one, or a single-run range), each checked to be a whole hour
    before anything is fetched or written."""
    asked = [context.partition_key] if not context.has_partition_key_range else []
    keys = list(context.partition_keys)
    for key in asked + keys:  # Dagster maps an off-hour key ("13:30") to the next hour: refuse it
        partition_hour(key)
    return keys


@contextmanager
def kept_on_failure(finished: Mapping[str, T], store: Callable[[str, T], Any]) -> Iterator[None]:
    """On a failure part-way through a range, store the hours finished before it, then fail.

    Dagster records no materialization for a failed step, so these hours show as not
    materialized; their files are complete, and the next run rewrites them identically.
    """
    try:
        yield
    except BaseException:
        store_hours(store, finished)
        raise


def run_summary(figures: Mapping[str, Any]) -> MetadataValue:
    """A run's totals as one JSON entry on its last hour: not a number, so the UI does not plot a
    run total as if it were that hour's figure."""
    return MetadataValue.json(dict(figures))
