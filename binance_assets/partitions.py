"""Time: the hourly and daily UTC partitions, and the units Binance counts in (milliseconds)."""

from datetime import date, datetime, time, timedelta, timezone

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition

from binance_assets.settings import PARTITION_FORMAT

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
HOUR = timedelta(hours=1)
DAY_FORMAT = "%Y-%m-%d"


def hourly_partitions(start_date: str) -> HourlyPartitionsDefinition:
    """``end_offset=1`` adds the still-open hour, which the near-real-time refresh keeps up to date."""
    return HourlyPartitionsDefinition(start_date=start_date, timezone="UTC", fmt=PARTITION_FORMAT, end_offset=1)


def daily_partitions(start_date: str) -> DailyPartitionsDefinition:
    """A day exists once it has ended."""
    return DailyPartitionsDefinition(start_date=start_date[:10], timezone="UTC", fmt=DAY_FORMAT)


def partition_hour(partition_key: str) -> datetime:
    """The start of an hourly key such as ``2025-01-01-00:00``; a key off the hour is refused
    (Dagster would round it silently)."""
    try:
        hour = datetime.strptime(partition_key, PARTITION_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError as error:
        raise ValueError(f"partition key {partition_key!r} is not an hour (YYYY-MM-DD-HH:00)") from error
    if hour.minute:
        raise ValueError(f"partition key {partition_key!r} is not on the hour (YYYY-MM-DD-HH:00)")
    return hour


def since_first(hours: HourlyPartitionsDefinition, keys: list[str]) -> list[str]:
    """The hourly ``keys`` that are partitions of ``hours`` (not before the first)."""
    first = hours.get_first_partition_key()
    return [key for key in keys if first is not None and partition_hour(key) >= partition_hour(first)]


def partition_key(hour: datetime) -> str:
    return hour.astimezone(timezone.utc).strftime(PARTITION_FORMAT)


def key_of_ms(moment_ms: int) -> str:
    return partition_key(datetime.fromtimestamp(moment_ms // HOUR_MS * HOUR_MS / 1000, tz=timezone.utc))


def day_hours(day_key: str) -> list[str]:
    day = datetime.strptime(day_key, DAY_FORMAT).replace(tzinfo=timezone.utc)
    return [partition_key(day + hour * HOUR) for hour in range(24)]


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of the UTC day."""
    start = datetime.combine(day, time(), tzinfo=timezone.utc)
    return start, start + timedelta(days=1)
