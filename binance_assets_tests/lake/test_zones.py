"""The zones store and read a range's hours several at a time: every hour once, in order, with
bounded read-ahead, each hour's files in their order, and a failure that loses no other hour."""

from __future__ import annotations

from pathlib import Path

import pytest

from binance_assets.lake.storage import LakeError, LocalStorage
from binance_assets.lake.zones import IN_FLIGHT, SUCCESS_MARKER, Hours, Place, RawHour, RawZone, read_ahead, storing
from binance_assets.partitions import hourly_partitions

KEYS = hourly_partitions("2025-01-01-00:00").get_partition_keys()[: 3 * IN_FLIGHT + 1]
PLACE = Place("candles", "BTCUSDT", "klines.json")


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
    with storing(lambda key, hour: zone.store(PLACE, key, hour)) as put:
        for key, hour in hours.items():
            put(key, hour)
    assert dict(read_ahead(Hours(KEYS, lambda key: zone.read(PLACE, key)))) == hours
    assert zone.complete_hours(PLACE, KEYS) == {key for n, key in enumerate(KEYS) if n % 2 == 0}
    markers = sorted(p.parent.name for p in tmp_path.rglob(SUCCESS_MARKER))
    assert len(markers) == (len(KEYS) + 1) // 2


def test_an_open_snapshot_removes_the_marker_of_a_complete_hour(tmp_path: Path) -> None:
    zone = RawZone(LocalStorage(str(tmp_path)))
    zone.store(PLACE, KEYS[0], RawHour.of([[1]], complete=True))
    zone.store(PLACE, KEYS[0], RawHour.of([[1]], complete=False))
    assert zone.complete_hours(PLACE, KEYS) == set()


def test_a_failed_write_stops_the_range_and_loses_no_hour_handed_over_before_it(tmp_path: Path) -> None:
    zone = RawZone(LocalStorage(str(tmp_path)))
    broken = KEYS[3]

    def store(key: str, hour: RawHour) -> None:
        if key == broken:
            raise LakeError(f"disk full writing {key}")
        zone.store(PLACE, key, hour)

    with pytest.raises(LakeError, match=f"disk full writing {broken}"):
        with storing(store) as put:
            for key in KEYS:
                put(key, RawHour.of([], complete=True))
    stored = zone.complete_hours(PLACE, KEYS)
    assert set(KEYS[:3]) <= stored and broken not in stored


def test_what_was_handed_over_is_stored_when_the_producer_fails(tmp_path: Path) -> None:
    zone = RawZone(LocalStorage(str(tmp_path)))
    with pytest.raises(RuntimeError, match="Binance went away"):
        with storing(lambda key, hour: zone.store(PLACE, key, hour)) as put:
            for key in KEYS[:5]:
                put(key, RawHour.of([], complete=True))
            raise RuntimeError("Binance went away")
    assert zone.complete_hours(PLACE, KEYS) == set(KEYS[:5])
