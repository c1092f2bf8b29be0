"""Request batching in single-run ranges: kline pages run across hour boundaries, so N hours cost
at most ceil(60·N/1000) + 2 kline requests, gap minutes included, by REST and by archive + REST."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from binance_assets.partitions import partition_key
from binance_assets_tests.runs import lake_resources, run_hours, node
from binance_emulator import market
from binance_emulator.process import EmulatorProcess

SYMBOL = "BTCUSDT"
MINUTE_MS = 60_000


def bound(hours: int) -> int:
    return math.ceil(60 * hours / 1000) + 2


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _gaps(start: datetime, hours: int) -> int:
    first = _ms(start)
    return sum(
        market.is_missing(SYMBOL, t, 0) for t in range(first, first + hours * 3_600_000, MINUTE_MS)
    )


@pytest.fixture(scope="module")
def counting_emulator() -> Iterator[EmulatorProcess]:
    """An emulator of this module's own, so its request counts are this module's alone."""
    with EmulatorProcess() as process:
        yield process


def test_rest_range_of_four_days_costs_at_most_the_bound(
    counting_emulator: EmulatorProcess, lake: str
) -> None:
    start, hours = datetime(2025, 3, 10, tzinfo=timezone.utc), 96
    assert _gaps(start, hours) > 0  # pages shortened by real gaps are part of the case
    counting_emulator.reset()
    end = start + timedelta(hours=hours - 1)
    result = run_hours(
        lake_resources(lake, counting_emulator.url), partition_key(start), partition_key(end)
    )
    assert result.success
    klines = counting_emulator.stats()["requests"]["/api/v3/klines"]
    candles = 60 * hours - _gaps(start, hours)
    assert klines == candles // 1000 + 1  # full pages, then the short last one
    assert klines <= bound(hours)


def test_each_hour_carries_its_own_figures_and_the_last_the_runs(
    counting_emulator: EmulatorProcess, lake: str
) -> None:
    """Cooked a day at a time, each hour still gets its own check results with its row count and
    gaps, and says it is complete; the run's totals go once, on its last hour."""
    start, hours = datetime(2025, 3, 10, tzinfo=timezone.utc), 50
    end = start + timedelta(hours=hours - 1)
    result = run_hours(lake_resources(lake, counting_emulator.url), partition_key(start), partition_key(end))
    assert result.success
    keys = [partition_key(start + timedelta(hours=h)) for h in range(hours)]
    for asset in ("raw_candles", "candles"):
        materializations = result.asset_materializations_for_node(node(asset))
        assert [m.partition for m in materializations] == keys
        assert all(m.metadata["complete"].value is True for m in materializations)
        assert not any("run" in m.metadata for m in materializations[:-1])
        totals = materializations[-1].metadata["run"].value  # JSON: not drawn as a series
        assert totals["hours"] == hours and totals["dagster/row_count"] == 60 * hours - _gaps(start, hours)
    complete = {e.partition: e for e in result.get_asset_check_evaluations() if e.check_name == "candles_complete"}
    assert list(complete) == keys
    for hour, key in enumerate(keys):
        gaps = _gaps(start + timedelta(hours=hour), 1)
        assert complete[key].metadata["rows"].value == 60 - gaps
        assert complete[key].metadata["missing_minutes"].value == gaps


def test_range_across_the_archive_cutoff_batches_its_rest_part(
    counting_emulator: EmulatorProcess, lake: str
) -> None:
    """Three days before yesterday come from daily zips; yesterday and today by REST, in pages
    across hour boundaries."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=4), today - timedelta(hours=1)
    counting_emulator.reset()
    result = run_hours(
        lake_resources(lake, counting_emulator.url, archive=True),
        partition_key(start),
        partition_key(end),
    )
    assert result.success
    requests_made = counting_emulator.stats()["requests"]
    archive_files = [path for path in requests_made if path.endswith(".zip")]
    assert len(archive_files) == 3
    rest_hours = 24 + sum(  # yesterday, plus any day whose file ends in a gap (REST checks it)
        1 for day in range(3) if market.is_missing(SYMBOL, _ms(start) + (day + 1) * 86_400_000 - MINUTE_MS, 0)
    )
    assert requests_made["/api/v3/klines"] <= bound(rest_hours)
