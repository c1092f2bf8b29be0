"""Each hour's checks against well-formed but implausible data from the emulator over HTTP.

Each case sets one value the emulator serves (``set_value`` fault, the page's middle row: row 60,
the first candle of 01:00) so that one rule breaks: ``{dataset}_valid`` fails on that hour alone,
naming the rule, blocking (the run fails); warnings only report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import polars as pl
import pytest
from dagster import AssetCheckEvaluation, AssetCheckSeverity

from binance_assets import checks
from binance_assets.datasets.candles import CANDLES
from binance_assets.datasets.contract import HourRows, cook
from binance_assets_tests.lake_backends import local_lake
from binance_assets_tests.runs import ALL_ASSETS, API_KEY, API_SECRET, failure_messages, node, run_hours
from binance_emulator.process import EmulatorProcess

START, END = "2025-01-01-00:00", "2025-01-01-01:00"  # no gaps; the emulator edits row 60: 01:00's first
KLINES, ORDERS = "/api/v3/klines", "/api/v3/allOrders"


@pytest.fixture(scope="module")
def quirky() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET) as process:
        yield process


@pytest.fixture(autouse=True)
def fresh_emulator(quirky: EmulatorProcess) -> None:
    quirky.reset()


def results(result) -> dict[tuple[str, str], AssetCheckEvaluation]:
    return {(e.check_name, e.partition): e for e in result.get_asset_check_evaluations()}


def value(path: str, field: int | str, new: object) -> dict:
    return {"kind": "set_value", "path": path, "count": 1, "field": field, "value": new}


def test_clean_hours_pass_every_check_of_every_hour(quirky: EmulatorProcess, tmp_path) -> None:
    result = run_hours(local_lake(tmp_path).resources(quirky.url), START, END, assets=ALL_ASSETS)

    assert result.success, failure_messages(result)
    found = results(result)
    names = {"candles_valid", "candles_complete", "candles_jumps", "orders_valid", "orders_complete"}
    assert set(found) == {(name, hour) for name in names for hour in (START, END)}
    assert all(evaluation.passed for evaluation in found.values())


BROKEN = {
    "close time off its open time": ([value(KLINES, 6, 1735693230000)], "candles_valid", "close time"),
    "high below low": ([value(KLINES, 2, "43000.00000000"), value(KLINES, 3, "43100.00000000")], "candles_valid", "ohlc"),
    "a low of -1": ([value(KLINES, 3, "-1.00000000")], "candles_valid", "prices"),
    "a low of -5": ([value(KLINES, 3, "-5.00000000")], "candles_valid", "prices"),
    "negative volume": ([value(KLINES, 5, "-1.00000000")], "candles_valid", "volumes"),
    "negative trade count": ([value(KLINES, 8, -3)], "candles_valid", "volumes"),
    "a high of 1e29": ([value(KLINES, 2, "100000000000000000000000000000.00000000")], "candles_jumps", "jumps"),
    "executed above ordered": ([value(ORDERS, "executedQty", "99999999.00000000")], "orders_valid", "executed qty"),
    "negative quantity": ([value(ORDERS, "executedQty", "-1.00000000")], "orders_valid", "non-negative"),
    "updated before placed": ([value(ORDERS, "updateTime", 0)], "orders_valid", "update time"),
    "unknown status": ([value(ORDERS, "status", "MISPLACED")], "orders_valid", "enums"),
}


@pytest.mark.parametrize(("faults", "check", "rule"), BROKEN.values(), ids=BROKEN.keys())
def test_implausible_value_fails_its_check_on_its_hour_only(
    quirky: EmulatorProcess, tmp_path, faults: list[dict], check: str, rule: str
) -> None:
    quirky.set_faults(faults)

    result = run_hours(local_lake(tmp_path).resources(quirky.url), START, END, assets=ALL_ASSETS)

    found = results(result)
    failed = found[(check, END)]
    assert not failed.passed and found[(check, START)].passed
    assert f"- {rule}: 1 rows" in failed.metadata["failing"].value
    assert failed.metadata["sample"].value.count("\n|") >= 2  # header, rule, one row
    warning = check == "candles_jumps"
    assert failed.severity == (AssetCheckSeverity.WARN if warning else AssetCheckSeverity.ERROR)
    assert failed.blocking is not warning
    assert result.success is warning, "a failed blocking check fails the run"
    blocking_failures = {k for k, e in found.items() if not e.passed and e.blocking and e.severity == AssetCheckSeverity.ERROR}
    assert blocking_failures == (set() if warning else {(check, END)})


def test_negative_zero_passes_as_zero(quirky: EmulatorProcess, tmp_path) -> None:
    quirky.set_faults([value(KLINES, 5, "-0.00000000")])
    result = run_hours(local_lake(tmp_path).resources(quirky.url), START, END)
    assert result.success, failure_messages(result)


def test_a_gap_is_listed_and_the_hour_is_still_complete(quirky: EmulatorProcess, tmp_path) -> None:
    from binance_emulator import market

    hour = next(f"2025-01-01-{h:02d}:00" for h in range(24) if any(
        market.is_missing("BTCUSDT", 1735689600000 + h * 3_600_000 + m * 60_000) for m in range(60)))
    result = run_hours(local_lake(tmp_path).resources(quirky.url), hour)

    assert result.success, failure_messages(result)
    complete = results(result)[("candles_complete", hour)]
    assert complete.passed and complete.metadata["missing_minutes"].value >= 1
    assert complete.metadata["missing"].value.startswith(hour[11:13] + ":")
    assert result.asset_materializations_for_node(node("candles"))[0].metadata["dagster/row_count"].value < 60


@pytest.mark.parametrize(
    "broken",
    [
        lambda frame: frame.with_columns(pl.col("open_price").cast(pl.Float64)),
        lambda frame: frame.rename({"number_of_trades": "trades"}),
        lambda frame: frame.select("_hour", "_row", *reversed(frame.columns[2:])),
    ],
    ids=["wrong-type", "wrong-name", "wrong-order"],
)
def test_a_table_off_the_contract_is_invalid(broken) -> None:
    hour = datetime(2025, 1, 1, tzinfo=timezone.utc)
    row = [1735689600000, "1", "2", "0.5", "1.5", "1", 1735689659999, "1", 1, "0", "0", "0"]
    frame = broken(cook(CANDLES, [HourRows("2025-01-01-00:00", hour, [row], True)], "BTCUSDT"))
    (verdict,) = checks.judge(CANDLES, frame, [HourRows("2025-01-01-00:00", hour, [row], True)], None)
    assert not verdict.valid and "schema" in verdict.broken
    assert "expected" in checks._table(verdict.samples["schema"])
