"""Hourly UTC partitions starting at ``BINANCE_START_DATE``."""

import os
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from dagster import HourlyPartitionsDefinition, PartitionKeyRange

PARTITION_FORMAT = "%Y-%m-%d-%H:%M"
DEFAULT_START_DATE = "2025-01-01-00:00"
HOUR = timedelta(hours=1)
HOUR_MS = 3_600_000


def start_date() -> str:
    """The first partition, validated early so a typo fails at load time, naming the variable."""
    value = os.getenv("BINANCE_START_DATE") or DEFAULT_START_DATE
    try:
        partition_hour(value)
    except ValueError as error:
        raise ValueError(
            f"BINANCE_START_DATE={value!r} is not an hour in the form YYYY-MM-DD-HH:MM (UTC)"
        ) from error
    return value


def partition_hour(partition_key: str) -> datetime:
    """The UTC start of an hourly partition key such as ``2025-01-01-00:00``."""
    hour = datetime.strptime(partition_key, PARTITION_FORMAT).replace(tzinfo=timezone.utc)
    if hour.minute:
        raise ValueError(f"partition key {partition_key!r} is not on the hour")
    return hour


def partition_key(hour: datetime) -> str:
    return hour.astimezone(timezone.utc).strftime(PARTITION_FORMAT)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, Binance's unit of time."""
    return int(moment.timestamp() * 1000)


# end_offset=1 adds the still-open current hour, which the near-real-time refresh keeps up to date.
hourly_partitions = HourlyPartitionsDefinition(
    start_date=start_date(), timezone="UTC", fmt=PARTITION_FORMAT, end_offset=1
)


# The tags Dagster puts on partitioned runs (not exported by dagster's public API).
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_partition_keys(tags: Mapping[str, str]) -> list[str]:
    """The hours a run covers, from the tags Dagster puts on a one-hour run or a single-run range.

    Steps that are not themselves partitioned (the asset checks) use it to see only the run's hours.
    """
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return hourly_partitions.get_partition_keys_in_range(
            PartitionKeyRange(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        )
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    raise ValueError(f"the run has no partition or partition range tags: {dict(tags)}")
