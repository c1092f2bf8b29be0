"""The weight throttle: the resource pauses for the next minute instead of running into a 429."""

from __future__ import annotations

from dagster import DagsterInstance

from binance_assets_tests.runs import failure_messages, lake_resources, run_hours
from binance_emulator.process import EmulatorProcess


def test_budget_is_a_ceiling_not_a_trigger(tmp_path):
    """Budget 20 weight a minute; the pair check (exchangeInfo, weight 20, which also brings
    Binance's clock: no /time) fills it, and 4 days of klines need 6 pages of weight 2: the run
    must pause once for the next minute, never exceed 20 in a minute, and never see a 429. The
    emulator's minute ends 6 s after the test starts, well after the run's first request (0.5 s
    in here), so the pause lasts seconds, not a minute."""
    with EmulatorProcess(weight_limit=40) as emulator:
        emulator.end_minute_in(6)
        resources = lake_resources(
            str(tmp_path / "lake"), emulator.url, weight_limit=40, weight_budget=0.5
        )
        instance = DagsterInstance.ephemeral()
        result = run_hours(
            resources, "2025-03-01-00:00", "2025-03-04-23:00", instance=instance
        )
        assert result.success, failure_messages(result)
        stats = emulator.stats()
    assert stats["status_429"] == 0
    assert stats["max_weight_per_minute"] <= 20
    assert stats["requests"]["/api/v3/klines"] == 6
    logs = [entry.message for entry in instance.all_logs(result.run_id)]
    assert any("reached the budget" in message and "pausing" in message for message in logs)
