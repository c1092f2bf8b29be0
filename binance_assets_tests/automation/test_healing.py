"""Open hours heal: the ``heal_hours`` sensor, evaluated against a real instance and lake, asks
again for every closed hour (by Binance's clock) that is not complete and checked, and nothing
when there is nothing to do; the day is then built from the complete hour."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from dagster import (
    AssetSelection,
    DagsterInstance,
    Definitions,
    RunRequest,
    SkipReason,
    build_sensor_context,
    evaluate_automation_conditions,
    materialize,
)

from binance_assets import sensors
from binance_assets.partitions import epoch_ms
from binance_assets.settings import Settings
from binance_assets_tests.lake_files import folder, local_files
from binance_assets_tests.runs import BTC_CANDLES, HOURS, failure_messages, lake_resources, run_hours
from binance_emulator.process import EmulatorProcess

DAY = "2025-03-01"
LAST = f"{DAY}-23:00"
BINANCE_BEHIND = datetime(2025, 3, 1, 23, 57, tzinfo=timezone.utc)  # our :05 run, Binance at 23:57
BINANCE_CAUGHT_UP = datetime(2025, 3, 2, 0, 10, tzinfo=timezone.utc)


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def lagging() -> Iterator[EmulatorProcess]:
    """Binance's clock at 2025-03-01 23:57 while ours says the day is long over."""
    with EmulatorProcess(clock_offset_ms=epoch_ms(BINANCE_BEHIND) - now_ms()) as process:
        yield process


def heal(instance: DagsterInstance, resources: dict) -> list[RunRequest | SkipReason]:
    settings = Settings.from_env({"BINANCE_HEAL_LOOKBACK_HOURS": "24"})
    sensor = sensors.heal_hours([BTC_CANDLES], [], HOURS, settings)
    with build_sensor_context(instance=instance, resources={"lake": resources["lake"], "binance": resources["binance"]}) as context:
        result = sensor(context)
        return list(result) if not isinstance(result, (RunRequest, SkipReason)) else [result]


def test_an_hour_stored_while_binance_lagged_heals_and_its_day_is_built(lagging: EmulatorProcess, tmp_path) -> None:
    resources = lake_resources(str(tmp_path / "lake"), lagging.url)
    instance = DagsterInstance.ephemeral()
    assert run_hours(resources, f"{DAY}-00:00", LAST, instance=instance).success
    raw = folder("raw", "candles", LAST)
    assert f"{raw}/_SUCCESS" not in local_files(str(tmp_path / "lake")), "23:00 was fetched at 23:57: open"

    lagging.set_faults([], clock_skew_ms=epoch_ms(BINANCE_CAUGHT_UP) - epoch_ms(BINANCE_BEHIND))
    (request,) = heal(instance, resources)
    assert isinstance(request, RunRequest)
    assert request.asset_selection == [BTC_CANDLES.raw.key, BTC_CANDLES.cooked.key]
    assert [request.tags[tag] for tag in sensors.RANGE_TAGS] == [LAST, LAST], "only the open hour"

    healed = run_hours(resources, LAST, instance=instance)
    assert healed.success, failure_messages(healed)
    assert f"{raw}/_SUCCESS" in local_files(str(tmp_path / "lake"))
    (again,) = heal(instance, resources)
    assert isinstance(again, SkipReason), "nothing to do: one Binance request, no run"

    days = evaluate_automation_conditions(Definitions(assets=BTC_CANDLES.assets(), resources=resources), instance,
                                          asset_selection=AssetSelection.assets(BTC_CANDLES.daily))
    assert set(days.get_requested_partitions(BTC_CANDLES.daily.key)) == {DAY}
    day = materialize(BTC_CANDLES.assets(), selection=[BTC_CANDLES.daily.key], partition_key=DAY,
                      resources=resources, instance=instance, raise_on_error=False)
    assert day.success, failure_messages(day)
    (materialization,) = day.asset_materializations_for_node("BTCUSDT__daily_candles")
    rows = sum(r.metadata["dagster/row_count"].value for r in [materialization])
    assert rows > 1435, "the day holds 23:57-23:59 too"


def test_hours_never_stored_are_asked_for_and_hours_in_progress_are_not(lagging: EmulatorProcess, tmp_path) -> None:
    resources = lake_resources(str(tmp_path / "lake"), lagging.url)
    instance = DagsterInstance.ephemeral()
    lagging.set_faults([], clock_skew_ms=epoch_ms(BINANCE_CAUGHT_UP) - epoch_ms(BINANCE_BEHIND))
    (request,) = heal(instance, resources)
    assert [request.tags[tag] for tag in sensors.RANGE_TAGS] == [f"{DAY}-00:00", LAST]


def test_an_hour_that_failed_its_checks_is_not_asked_for_again_and_again(lagging: EmulatorProcess, tmp_path) -> None:
    """An hour Binance sent wrong (high below open) fails ``candles_valid`` and its run: fetching
    it again every two minutes would fail the same way, so healing leaves it (and the checked
    hours of that failed run) alone; only an hour its run never checked is asked for."""
    resources = lake_resources(str(tmp_path / "lake"), lagging.url)
    instance = DagsterInstance.ephemeral()
    lagging.set_faults([{"kind": "set_value", "path": "/api/v3/klines", "count": 1, "field": 2, "value": "1.00000000",
                         "minute": epoch_ms(datetime(2025, 3, 1, 7, 31, tzinfo=timezone.utc))}],
                       clock_skew_ms=epoch_ms(BINANCE_CAUGHT_UP) - epoch_ms(BINANCE_BEHIND))
    run = run_hours(resources, f"{DAY}-00:00", LAST, instance=instance)
    assert not run.success and "candles_valid" in failure_messages(run)
    (result,) = heal(instance, resources)
    assert isinstance(result, SkipReason), result
