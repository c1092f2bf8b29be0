"""A range's hours stored and read several at a time: every hour once, in order, with bounded
read-ahead, each hour's files in their order, and a failure that loses no other hour."""

from __future__ import annotations

from pathlib import Path

import pytest

from binance_assets.lake.paths import SUCCESS_MARKER, Location
from binance_assets.lake.storage import LakeError, LocalStorage
from binance_assets.lake.zones import IN_FLIGHT, Hours, RawHour, RawZone, read_ahead, store_hours
from binance_assets.partitions import hourly_partitions

KEYS = hourly_partitions("2025-01-01-00:00").get_partition_keys()[: 3 * IN_FLIGHT + 1]
WHERE = Location("raw", "candles", "BTCUSDT")


def test_read_ahead_gives_every_hour_once_in_order_within_its_window() -> None:
    handed_out: list[str] = []

    def read(key: str) -> str:
        # the hour being handed out is not yet in handed_out: IN_FLIGHT hours may follow it
        assert KEYS.index(key) <= len(handed_out) + IN_FLIGHT, f"{key} read too far ahead"
        return f"value of {key}"

    for key, value in read_ahead(Hours(KEYS, read)):
        assert value == f"value of {key}"
        handed_out.append(key)
    assert handed_out == KEYS


def test_stored_hours_read_back_with_data_and_marker(tmp_path: Path) -> None:
    zone = RawZone(LocalStorage(str(tmp_path)))
    hours = {key: RawHour.of([[n]], complete=n % 2 == 0) for n, key in enumerate(KEYS)}
    store_hours(lambda key, hour: zone.write(WHERE, key, hour), hours)
    assert dict(read_ahead(Hours(KEYS, lambda key: zone.read(WHERE, key)))) == hours
    markers = sorted(p.parent.name for p in tmp_path.rglob(SUCCESS_MARKER))
    assert len(markers) == (len(KEYS) + 1) // 2


def test_a_failed_hour_is_raised_after_every_other_hour_is_stored(tmp_path: Path) -> None:
    zone = RawZone(LocalStorage(str(tmp_path)))
    broken = KEYS[3]

    def write(key: str, hour: RawHour) -> None:
        if key == broken:
            raise LakeError(f"disk full writing {key}")
        zone.write(WHERE, key, hour)

    with pytest.raises(LakeError, match=f"disk full writing {broken}"):
        store_hours(write, {key: RawHour.of([], complete=True) for key in KEYS})
    stored = {key for key in KEYS if (tmp_path / WHERE.file(key, SUCCESS_MARKER)).exists()}
    assert stored == set(KEYS) - {broken}
