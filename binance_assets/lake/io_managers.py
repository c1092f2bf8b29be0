"""Dagster IO managers for the lake: the raw JSON zone and the cooked Parquet zone.

An hourly asset's output is a mapping of partition key → that hour's value, so a backfill of any
range runs as a single run and still writes one file set per hour, exactly as one-hour runs would
(Dagster's stock UPath IO managers refuse outputs spanning several partitions). Where an asset's
hours live follows from its key (``Location.of``); local and S3 lakes go through one code path.
"""


from collections.abc import Mapping
from typing import Any

import polars as pl
from dagster import ConfigurableIOManager, InputContext, OutputContext, ResourceDependency

from binance_assets.lake.paths import Location
from binance_assets.lake.resource import Lake
from binance_assets.lake.storage import LakeError
from binance_assets.lake.zones import Hours, RawHour, store_hours


def _check_covers(context: OutputContext, hours: Mapping[str, Any]) -> None:
    """An output holds exactly the hours of its step: anything else is a bug upstream."""
    expected = set(context.asset_partition_keys)
    if set(hours) != expected:
        missing, extra = sorted(expected - set(hours)), sorted(set(hours) - expected)
        raise LakeError(
            f"{context.asset_key.to_user_string()}: output hours differ from the run's "
            f"(missing {missing[:5]}, extra {extra[:5]})"
        )


class RawZoneIOManager(ConfigurableIOManager):
    """Stores raw hours (JSON and ``_SUCCESS``) and loads them for the cooked assets."""

    lake: ResourceDependency[Lake]

    def handle_output(self, context: OutputContext, obj: Mapping[str, RawHour]) -> None:
        _check_covers(context, obj)
        zone, where = self.lake.raw_zone(), Location.of(context.asset_key)
        store_hours(lambda key, hour: zone.write(where, key, hour), obj)

    def load_input(self, context: InputContext) -> Hours[RawHour]:
        zone, where = self.lake.raw_zone(), Location.of(context.upstream_output.asset_key)
        return Hours(list(context.asset_partition_keys), lambda key: zone.read(where, key))


class ParquetIOManager(ConfigurableIOManager):
    """Stores cooked hours as Parquet and loads them for the checks and the daily tables."""

    lake: ResourceDependency[Lake]

    def handle_output(self, context: OutputContext, obj: Mapping[str, pl.DataFrame]) -> None:
        _check_covers(context, obj)
        zone, where = self.lake.cooked_zone(), Location.of(context.asset_key)
        store_hours(lambda key, frame: zone.write(where, key, frame), obj)

    def load_input(self, context: InputContext) -> Hours[pl.DataFrame]:
        zone, where = self.lake.cooked_zone(), Location.of(context.upstream_output.asset_key)
        return Hours(list(context.asset_partition_keys), lambda key: zone.read(where, key))
