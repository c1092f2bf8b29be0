"""The Dagster UI in a real browser: ``dagster dev`` against the emulator, headless Chromium.

One UI for the module, two pairs. Screenshots of every screen land in the test's temporary
folder (the failure message names them); ``UPDATE_SCREENSHOTS=1`` also refreshes the README's
pictures in ``docs/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from binance_assets_tests.cli import cli_env, materialize_cli
from binance_assets_tests.ui import WAIT_S, Browser, DagsterDev, keep_picture, require_chromium
from binance_emulator.process import EmulatorProcess

pytestmark = pytest.mark.ui

PAIRS = ("BTCUSDT", "BTCUSDC")
DAY = "2025-01-01"
BAD_HOUR = "2025-01-02-01:00"  # the emulator breaks one candle of it (high below low)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DagsterDev, Browser, EmulatorProcess, dict]]:
    require_chromium()
    root = tmp_path_factory.mktemp("ui")
    with EmulatorProcess() as emulator:
        env = cli_env(
            emulator.url, root,
            BINANCE_SYMBOLS=",".join(PAIRS),
            BINANCE_START_DATE=f"{DAY}-00:00",
        )
        (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        dev = DagsterDev(env, root)
        browser = Browser(dev.url, root / "screenshots")
        try:
            yield dev, browser, emulator, env
        finally:
            browser.quit()
            dev.stop()


ASSET_NODES = """query { assetNodes { assetKey { path } partitionStats { numMaterialized numFailed } } }"""
BACKFILLS = """query { partitionBackfillsOrError { ... on PartitionBackfills { results {
    id status numPartitions runs(limit: 10) { runId status } } } } }"""


def test_each_pairs_lineage_is_drawn(ui) -> None:
    """A pair's group page draws raw → cooked → daily for candles and orders."""
    _, browser, _, _ = ui
    for pair in PAIRS:
        browser.open(f"/locations/binance_assets.definitions/asset-groups/{pair}")
        for name in ("raw_candles", "candles", "daily_candles", "raw_orders", "orders", "daily_orders"):
            browser.wait_for_text(name, f"lineage-{pair}")
        browser.wait_for_text("Iceberg", f"lineage-{pair}")
        shot = browser.look(f"lineage-{pair}")
    keep_picture(shot, "asset-graph")


def test_candles_page_lists_the_contract_columns(ui) -> None:
    _, browser, _, _ = ui
    browser.open("/assets/BTCUSDT/candles")
    for column in ("trading_pair", "open_price", "usd_volume", "number_of_trades", "candle_close_time"):
        browser.wait_for_text(column, "candles-columns")
    browser.wait_for_text("Decimal(precision=38, scale=8)", "candles-columns")
    browser.wait_for_text("Open Price (Binance field open)", "candles-columns")
    browser.look("candles-columns")


def test_a_backfill_of_two_pairs_launched_by_clicks_is_one_run(ui) -> None:
    dev, browser, _, _ = ui
    browser.open("/asset-groups")
    browser.wait_for(By.CSS_SELECTOR, ".CodeMirror", "backfill").click()
    browser.driver.switch_to.active_element.send_keys('key:"*/raw_candles" or key:"*/candles"\n')
    browser.click_text("Materialize all", "backfill")
    browser.wait_for_text("Launch runs to materialize 4 assets", "backfill")
    browser.click_text("Show all partitions", "backfill")
    field = browser.wait_for(By.XPATH, "//input[starts-with(@placeholder, 'ex: ')]", "backfill")
    field.send_keys(f"[{DAY}-00:00...{DAY}-05:00]\n")
    browser.wait_for_text("6 partitions", "backfill")
    browser.look("backfill-dialog")
    browser.click_text("Launch backfill", "backfill")

    def finished(_: object) -> dict | bool:
        backfills = dev.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"]
        done = [b for b in backfills if b["status"] not in ("REQUESTED", "CANCELING")]
        return done[0] if done else False

    backfill = WebDriverWait(browser.driver, 150, poll_frequency=1).until(finished)
    assert backfill["status"] == "COMPLETED_SUCCESS" and len(backfill["runs"]) == 1, backfill
    stats = {"/".join(n["assetKey"]["path"]): n["partitionStats"] for n in dev.graphql(ASSET_NODES)["assetNodes"]}
    for pair in PAIRS:
        for name in ("raw_candles", "candles"):
            assert stats[f"{pair}/{name}"] == {"numMaterialized": 6, "numFailed": 0}
    browser.open("/locations/binance_assets.definitions/asset-groups/BTCUSDC")
    browser.wait_for_text("filled", "backfill-done")
    browser.look("backfill-done")


def test_an_hour_whose_blocking_check_fails_shows_it(ui) -> None:
    _, browser, emulator, env = ui
    emulator.set_faults([{"kind": "set_value", "path": "/api/v3/klines", "count": 1, "field": 2,
                          "value": "0.00000001", "symbol": "BTCUSDT"}])
    rest_only = {"resources": {"binance_archive": {"config": {"enabled": False}}}}  # the fault is REST's
    run = materialize_cli(env, "BTCUSDT/raw_candles,BTCUSDT/candles", partition=BAD_HOUR, config=rest_only)
    emulator.reset()
    assert run.returncode != 0 and "DagsterAssetCheckFailedError" in run.stderr, "a failed blocking check fails the run"
    browser.open("/assets/BTCUSDT/candles?view=checks")
    browser.click_text("candles_ohlc", "check")
    browser.wait_for_text(BAD_HOUR, "check")
    browser.wait_for_text("Failed", "check")
    browser.look("check-failed")


def test_the_daily_candles_chart_renders(ui) -> None:
    _, browser, _, env = ui
    hours = materialize_cli(env, "BTCUSDT/raw_candles,BTCUSDT/candles", partition_range=f"{DAY}-00:00...{DAY}-23:00")
    assert hours.returncode == 0, (hours.stdout + hours.stderr)[-2000:]
    day = materialize_cli(env, "BTCUSDT/daily_candles", partition=DAY)
    assert day.returncode == 0, (day.stdout + day.stderr)[-2000:]
    browser.open("/assets/BTCUSDT/daily_candles?view=events")
    browser.wait_for_text("picture", "chart")
    browser.click_text("Show Markdown", "chart")  # the UI opens markdown metadata in a dialog
    width = WebDriverWait(browser.driver, WAIT_S).until(
        lambda driver: driver.execute_script(
            "const img = document.querySelector('img[src^=\"data:image/png\"]');"
            "return img && img.complete ? img.naturalWidth : 0;"
        )
    )
    assert width > 0
    image = browser.driver.find_element(By.CSS_SELECTOR, 'img[src^="data:image/png"]')
    browser.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", image)
    shot = browser.look("daily-candles")
    keep_picture(shot, "daily-candles")
