"""Data quality checks against well-formed but implausible data from the emulator over HTTP.

Each case sets one value the emulator serves (``set_value`` fault) so that exactly one rule breaks:
the rule's check fails with the hour named, ERROR rules block, WARN rules only report.
"""

from __future__ import annotations

from collections.abc import Iterator
import pytest
from dagster import AssetCheckEvaluation, AssetCheckSeverity

from binance_assets_tests.lake_backends import local_lake
from binance_assets_tests.runs import ALL_ASSETS, API_KEY, API_SECRET, failure_messages, node, run_hours
from binance_emulator.process import EmulatorProcess

START, END = "2025-01-01-00:00", "2025-01-01-01:00"  # no gaps; the emulator edits row 60: 01:00's first
HOUR_WITH_GAP, GAP_MINUTE = "2025-01-01-06:00", "06:20"
KLINES, ORDERS = "/api/v3/klines", "/api/v3/allOrders"
WARNINGS = {"candles_completeness", "candles_continuity"}


@pytest.fixture(scope="module")
def quirky() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET) as process:
        yield process


@pytest.fixture(autouse=True)
def fresh_emulator(quirky: EmulatorProcess) -> None:
    quirky.reset()


def evaluations(result) -> dict[str, AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def value(path: str, field: int | str, new: object) -> dict:
    return {"kind": "set_value", "path": path, "count": 1, "field": field, "value": new}


def test_clean_hours_pass_every_check(quirky: EmulatorProcess, tmp_path) -> None:
    result = run_hours(local_lake(tmp_path).resources(quirky.url), START, END, assets=ALL_ASSETS)

    assert result.success, failure_messages(result)
    failed = [name for name, evaluation in evaluations(result).items() if not evaluation.passed]
    assert failed == []


BROKEN = {
    "close time off its open time": ([value(KLINES, 6, 1735693230000)], "candles_close_time"),
    "high below low": ([value(KLINES, 2, "0.00000001")], "candles_ohlc"),
    "negative volume": ([value(KLINES, 5, "-1.00000000")], "candles_volumes"),
    "jump across the hour boundary": (
        [value(KLINES, 1, "1000000.00000000"), value(KLINES, 2, "1000000.00000000")],
        "candles_continuity",
    ),
    "executed above ordered": ([value(ORDERS, "executedQty", "99999999.00000000")], "orders_executed_qty"),
    "negative quantity": ([value(ORDERS, "executedQty", "-1.00000000")], "orders_non_negative"),
    "updated before placed": ([value(ORDERS, "updateTime", 0)], "orders_update_time"),
    "unknown status": ([value(ORDERS, "status", "MISPLACED")], "orders_enums"),
}


@pytest.mark.parametrize(("faults", "check"), BROKEN.values(), ids=BROKEN.keys())
def test_implausible_value_fails_exactly_its_check(
    quirky: EmulatorProcess, tmp_path, faults: list[dict], check: str
) -> None:
    quirky.set_faults(faults)

    result = run_hours(local_lake(tmp_path).resources(quirky.url), START, END, assets=ALL_ASSETS)

    found = evaluations(result)
    assert [name for name, evaluation in found.items() if not evaluation.passed] == [check]
    failed = found[check]
    warning = check in WARNINGS
    assert failed.severity == (AssetCheckSeverity.WARN if warning else AssetCheckSeverity.ERROR)
    assert failed.blocking is not warning
    assert failed.metadata["failing_hours"].value == 1
    assert f"| {END} |" in failed.metadata["sample"].value


def test_gap_is_a_warning_listing_the_missing_minutes(quirky: EmulatorProcess, tmp_path) -> None:
    result = run_hours(local_lake(tmp_path).resources(quirky.url), HOUR_WITH_GAP)

    assert result.success, failure_messages(result)
    found = evaluations(result)
    gaps = found["candles_completeness"]
    assert not gaps.passed and gaps.severity == AssetCheckSeverity.WARN and not gaps.blocking
    assert gaps.metadata["offending_rows"].value == 1
    assert f"| {HOUR_WITH_GAP} | {GAP_MINUTE} |" in gaps.metadata["sample"].value
    assert all(evaluation.passed for name, evaluation in found.items() if name != "candles_completeness")
    table = result.asset_materializations_for_node(node("candles"))[0].metadata
    assert table["dagster/row_count"].value == 59, "a gap is reported, never filled in"
