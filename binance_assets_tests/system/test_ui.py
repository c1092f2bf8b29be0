"""The Dagster UI in a real browser: ``dagster dev`` against the emulator, headless Chromium.

One UI for the module (two pairs, a lake, an Iceberg catalog and a Dagster instance of its own
under the module's temporary folder), stopped at the end. The schedules and sensors that ship
running are stopped first: the daemon launches only what a test asks for. Screenshots of every
screen land in ``<tmp>/ui0/screenshots``; a failure names its screenshot and page source.
``UPDATE_SCREENSHOTS=1`` also refreshes the README's pictures in ``docs/``.

    pytest -m ui binance_assets_tests/system/test_ui.py
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from binance_assets.partitions import epoch_ms, partition_hour
from binance_assets_tests.runs import API_KEY, API_SECRET
from binance_assets_tests.system.ui import (
    RUN_TIMEOUT_S, Browser, DagsterDev, keep_picture, require_chromium, text_xpath,
)  # fmt: skip
from binance_emulator.process import EmulatorProcess

pytestmark = pytest.mark.ui

PAIRS = ("BTCUSDT", "BTCUSDC")
DAY = "2025-01-01"
FIRST_HOUR = f"{DAY}-00:00"
BACKFILL = (f"{DAY}-00:00", f"{DAY}-05:00")  # 6 hours
CHECKED = ("2025-01-02-00:00", "2025-01-02-05:00")  # 6 hours, run as one range
BAD_HOUR = "2025-01-02-03:00"  # the emulator breaks one of its candles (high below low)
REST_ONLY = {"resources": {"binance_archive": {"config": {"enabled": False}}}}
LINEAGE = {("raw_candles", "candles"), ("candles", "daily_candles"), ("raw_orders", "orders"), ("orders", "daily_orders")}

# DESIGN.md's cooked candles columns (name, required name, type), as the UI prints the types.
DECIMAL = "Decimal(precision=38, scale=8)"
TIMESTAMP = "Datetime(time_unit='ms', time_zone='UTC')"
CANDLE_COLUMNS = [
    ("trading_pair", "Trading Pair", "String"),
    ("open_price", "Open Price", DECIMAL),
    ("close_price", "Close Price", DECIMAL),
    ("high_price", "High Price", DECIMAL),
    ("low_price", "Low Price", DECIMAL),
    ("btc_volume", "BTC Volume", DECIMAL),
    ("usd_volume", "USD Volume", DECIMAL),
    ("number_of_trades", "Number of Trades", "Int64"),
    ("candle_open_time", "Candle Open Time", TIMESTAMP),
    ("candle_close_time", "Candle Close Time", TIMESTAMP),
]


@dataclass
class UI:
    dev: DagsterDev
    browser: Browser
    emulator: EmulatorProcess


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    require_chromium()
    root = tmp_path_factory.mktemp("ui")
    with ExitStack() as stack:  # whatever started is stopped, also when a later start fails
        emulator = stack.enter_context(EmulatorProcess(api_key=API_KEY, api_secret=API_SECRET))
        env = {
            "BINANCE_API_URL": emulator.url,
            "BINANCE_ARCHIVE_URL": emulator.url,
            "BINANCE_API_KEY": API_KEY,
            "BINANCE_API_SECRET": API_SECRET,
            "BINANCE_SYMBOLS": ",".join(PAIRS),
            "BINANCE_START_DATE": FIRST_HOUR,
            "LAKE_URL": str(root / "lake"),
            "ICEBERG_CATALOG_URI": f"sqlite:///{root}/catalog.db",
            "ICEBERG_WAREHOUSE": str(root / "lake" / "tables"),
            "BINANCE_HEAL_LOOKBACK_HOURS": "1",  # the healing sensor's first tick: one small run at most
        }
        dev = stack.enter_context(DagsterDev(env, root / "dagster_home", root))
        stopped = dev.stop_automation()
        assert "candles_near_real_time" in stopped, stopped
        dev.wait_until_idle()
        browser = stack.enter_context(Browser(dev.url, root / "screenshots"))
        yield UI(dev, browser, emulator)


def test_each_pairs_lineage_is_drawn(ui: UI) -> None:
    """Each pair's asset group draws its six assets, named as the user reads them, and the
    arrows raw → cooked → daily for candles and orders."""
    browser = ui.browser
    for pair in PAIRS:
        name = f"lineage-{pair}"
        with browser.recording(name):
            browser.open(f"/locations/{ui.dev.location}/asset-groups/{pair}")
            browser.wait_for(By.XPATH, f"//*[normalize-space(text())={pair!r}]", name)
            nodes = browser.wait(lambda d: loaded_graph(d, 6), "six loaded asset nodes", name)
            for asset in {a for edge in LINEAGE for a in edge}:
                label = browser.wait_for(By.XPATH, f"//*[local-name()='foreignObject']{text_xpath(asset, True)}", name)
                assert label.is_displayed(), asset
            assert sorted(nodes) == sorted({a for edge in LINEAGE for a in edge}), nodes
            edges = {tuple(edge) for edge in browser.driver.execute_script(EDGES_JS)}
            assert edges == LINEAGE, f"{pair}: arrows drawn {sorted(edges)}"
            browser.wait_for_text("Iceberg", name, exact=True)  # the daily assets' kind
            shot = browser.look(name)
            if pair == PAIRS[0]:
                keep_picture(shot, "asset-graph", graph_box(browser), pad=24)


def test_candles_page_lists_the_contract_columns(ui: UI) -> None:
    """The asset's overview shows its ``dagster/column_schema``: DESIGN.md's columns, in order,
    with their types and the required names."""
    browser = ui.browser
    with browser.recording("candles-columns"):
        browser.open("/assets/BTCUSDT/candles")
        browser.wait_for_text("Column name", "candles-columns", exact=True)
        rows = browser.wait(lambda d: (r := d.execute_script(COLUMNS_JS)) and len(r) >= 10 and r,
                            "the column schema table", "candles-columns")  # fmt: skip
        shown = [(name, kind) for name, kind, _ in rows[:10]]
        assert shown == [(name, kind) for name, _, kind in CANDLE_COLUMNS], rows
        for (column, required, _), (_, _, description) in zip(CANDLE_COLUMNS, rows):
            assert description.startswith(required), (column, description)
        browser.show(browser.wait_for(By.XPATH, "//table[.//td[normalize-space()='Column name']]", "candles-columns"))
        browser.look("candles-columns")


def test_a_backfill_of_two_pairs_launched_by_clicks_is_one_run(ui: UI) -> None:
    """README's way: Catalog → tick both pairs' raw_candles and candles → Materialize selected →
    the partition range → Launch backfill; the daemon runs it as one run and the UI shows the
    six hours materialized."""
    browser, dev = ui.browser, ui.dev
    selected = [f"{pair}/{name}" for pair in PAIRS for name in ("raw_candles", "candles")]
    with browser.recording("backfill"):
        browser.open("/assets")
        for key in selected:
            box = browser.wait_for(By.CSS_SELECTOR, f'input[data-testid="checkbox-{key}"]', "backfill", displayed=False)
            if not box.is_selected():
                browser.click(browser.driver.find_element(By.CSS_SELECTOR, f'label[for="{box.get_attribute("id")}"]'))
            browser.wait(lambda _: box.is_selected(), f"{key} ticked", "backfill")
        browser.look("backfill-selected")
        browser.click_text(f"Materialize selected ({len(selected)})", "backfill", exact=False)
        browser.wait_for_text(f"Launch runs to materialize {len(selected)} assets", "backfill")
        partitions = "//input[starts-with(@placeholder, 'ex: ')]"
        show_all = text_xpath("Show all partitions", True)  # the dialog first offers the last 90 days
        first = browser.wait_for(By.XPATH, f"{partitions} | {show_all}", "backfill")
        if first.tag_name != "input":
            browser.click(first)
        field = browser.wait_for(By.XPATH, partitions, "backfill")
        field.send_keys(f"[{BACKFILL[0]}...{BACKFILL[1]}]\n")
        browser.wait_for_text("6 partitions", "backfill", exact=True)
        browser.look("backfill-dialog")
        browser.click_text("Launch backfill", "backfill")

        toast = browser.wait_for_text("Created backfill", "backfill")
        backfill_id = re.search(r"Created backfill (\w+)", toast.text).group(1)
        result = browser.wait(lambda _: finished_backfill(dev, backfill_id), "the backfill finished",
                              "backfill", timeout=RUN_TIMEOUT_S)  # fmt: skip
        assert result["status"] == "COMPLETED_SUCCESS", f"{result}\n{dev.diagnostics()}"
        assert len(result["runs"]) == 1 and result["runs"][0]["status"] == "SUCCESS", result

        browser.open(f"/runs/b/{backfill_id}")
        browser.wait_for_text("Succeeded", "backfill-page", exact=True)
        for key in selected:
            counts = browser.wait(lambda d: d.execute_script(BACKFILL_ROW_JS, f"/assets/{key}"),
                                  f"{key}'s row", "backfill-page")  # fmt: skip
            assert counts == ["6", "0", "6", "0"], (key, "targeted, in progress, succeeded, failed", counts)
        browser.look("backfill-page")
        for key in selected:  # the healing sensor's first tick may have added today's last hour
            browser.open(f"/assets/{key}?view=partitions")
            browser.wait_for_text("Materialized (", f"partitions-{key.replace('/', '-')}", exact=False)
        browser.click_text("Missing (", "backfill-partitions", exact=False)  # list the materialized hours only
        for hour in range(6):
            browser.wait_for_text(f"{DAY}-{hour:02d}:00", "backfill-partitions", exact=True)
        browser.look("backfill-partitions")


def test_each_hour_of_a_range_run_shows_its_own_check_result(ui: UI) -> None:
    """A 6-hour range run with one candle whose high is below its low: the check's Partitions tab
    counts one failed hour and the others passed, and each hour opens on its own result — failed
    with its figures for the bad hour, passed for the others (not "Skipped")."""
    browser, dev, emulator = ui.browser, ui.dev, ui.emulator
    bad_minute = epoch_ms(partition_hour(BAD_HOUR)) + 7 * 60_000
    with browser.recording("check"):
        # Without a count: a counted fault is spent by any BTCUSDT klines request (a healing run's
        # once spent it); this one changes only the page that holds the bad minute, which only
        # this run asks for.
        emulator.set_faults([{"kind": "set_value", "path": "/api/v3/klines", "field": 2,
                              "value": "0.00000001", "symbol": "BTCUSDT", "minute": bad_minute}])  # fmt: skip
        try:  # the fault is REST's: this run does not read the archive
            run_id = dev.launch_run(["BTCUSDT/raw_candles", "BTCUSDT/candles"], partition_range=CHECKED, config=REST_ONLY)
            status = dev.wait_for_run(run_id)
        finally:
            emulator.reset()
        assert status == "FAILURE", f"a failed blocking check fails the run: {status}\n{dev.diagnostics()}"

        browser.open("/assets/BTCUSDT/candles?view=checks")
        browser.click_text("candles_valid", "check")
        browser.wait_for_text("blocking", "check", exact=True)  # "This is a blocking asset check."
        browser.click(browser.wait_for(By.XPATH, "//button[@role='tab' and normalize-space()='Partitions']", "check"))
        browser.wait_for_text("Failed (1)", "check", exact=True)
        browser.look("check-partitions")
        field = "//input[starts-with(@placeholder, 'Filter by partition')]"
        for hour, result in ((BAD_HOUR, "Failed"), (CHECKED[0], "Passed")):
            browser.click(browser.filter_for(field, hour, f"//*[normalize-space(text())={hour!r}]", "check"))
            browser.wait_for(By.XPATH, f"//*[normalize-space(text())='Latest execution']/preceding::*[normalize-space(text())={result!r}]", "check")
            if result == "Failed":
                browser.wait_for_text("offending_rows", "check", exact=True)
                browser.look("check-failed-hour")


def test_the_daily_candles_chart_renders(ui: UI) -> None:
    """The day's materialization carries a markdown picture (an embedded PNG); opened in the
    UI, the image loads with a real size."""
    browser, dev = ui.browser, ui.dev
    with browser.recording("chart"):
        hours = dev.launch_run(["BTCUSDT/raw_candles", "BTCUSDT/candles"], partition_range=(f"{DAY}-00:00", f"{DAY}-23:00"))
        assert dev.wait_for_run(hours) == "SUCCESS", dev.diagnostics()
        day = dev.launch_run(["BTCUSDT/daily_candles"], partition=DAY)
        assert dev.wait_for_run(day) == "SUCCESS", dev.diagnostics()

        browser.open("/assets/BTCUSDT/daily_candles?view=events")
        # Markdown metadata opens in a dialog from its row of the materialization's metadata.
        browser.click(browser.wait_for(By.XPATH, "//tr[td[normalize-space()='picture']]//*[contains(text(), 'Show Markdown')]", "chart"))
        image = browser.wait_for(By.CSS_SELECTOR, 'img[src^="data:image/png"]', "chart")
        width = browser.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth;", image),
                             "the chart loaded", "chart")  # fmt: skip
        assert width > 0
        browser.show(image)
        shot = browser.look("daily-candles")
        dialog = image.find_element(By.XPATH, "ancestor::*[contains(@class, 'bp5-dialog')][1]")
        keep_picture(shot, "daily-candles", browser.rect(dialog), pad=0)


def finished_backfill(dev: DagsterDev, backfill_id: str) -> dict | bool:
    backfill = dev.graphql(BACKFILL_STATUS, id=backfill_id)["partitionBackfillOrError"]
    return backfill if backfill["status"] not in ("REQUESTED", "CANCELING") else False


def loaded_graph(driver, count: int) -> list[str] | bool:
    """The asset nodes' names once ``count`` nodes are drawn with their details loaded."""
    names = driver.execute_script(NODES_JS)
    return names if len(names) == count and all(names) else False


def graph_box(browser: Browser) -> tuple[int, int, int, int]:
    """The drawn nodes' box on screen (for the README picture)."""
    left, top, right, bottom = browser.driver.execute_script(
        "const r = [...document.querySelectorAll('svg foreignObject')].map(e => e.getBoundingClientRect());"
        "return [Math.min(...r.map(b => b.left)), Math.min(...r.map(b => b.top)),"
        " Math.max(...r.map(b => b.right)), Math.max(...r.map(b => b.bottom))];"
    )
    return round(left), round(top), round(right), round(bottom)


BACKFILL_STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs(limit: 10) { runId status } } } }"""

# Asset nodes are drawn in <foreignObject>s of the graph's SVG; a node is loaded when it no
# longer says "Loading". Each name is null until then.
NODES_JS = """
return [...document.querySelectorAll('svg foreignObject')].map(node => {
  const label = node.querySelector('[class*="assetName"] [data-tooltip]');
  return label && !node.textContent.includes('Loading') ? label.textContent.trim() : null;
});"""

# An arrow is an SVG path with an arrowhead; it starts at the right side of its source node and
# ends at the left side of its target (graph coordinates, shared by nodes and paths).
EDGES_JS = """
const nodes = [...document.querySelectorAll('svg foreignObject')].map(node => ({
  name: node.querySelector('[class*="assetName"] [data-tooltip]').textContent.trim(),
  x: +node.getAttribute('x'), y: +node.getAttribute('y'),
  w: +node.getAttribute('width'), h: +node.getAttribute('height')}));
const nearest = (point, side) => nodes
  .filter(n => Math.abs((side === 'right' ? n.x + n.w : n.x) - point.x) <= 12)
  .filter(n => point.y >= n.y && point.y <= n.y + n.h)
  .sort((a, b) => Math.abs(a.y + a.h / 2 - point.y) - Math.abs(b.y + b.h / 2 - point.y))[0];
return [...document.querySelectorAll('svg path[marker-end]')].map(path => {
  const start = path.getPointAtLength(0), end = path.getPointAtLength(path.getTotalLength());
  const source = nearest(start, 'right'), target = nearest(end, 'left');
  return [source ? source.name : '?', target ? target.name : '?'];
});"""

# The column schema table of the asset's overview: [name, type, description] per column.
COLUMNS_JS = """
const table = [...document.querySelectorAll('table')]
  .find(t => t.querySelector('thead') && t.querySelector('thead').innerText.includes('Column name'));
if (!table) return null;
return [...table.querySelectorAll('tbody > tr')].map(row =>
  [...row.querySelectorAll(':scope > td')].map(cell => cell.innerText.trim()));"""

# A backfill page's row for an asset: partitions targeted, in progress, succeeded, failed.
BACKFILL_ROW_JS = """
const link = document.querySelector(`a[href="${arguments[0]}"]`);
let row = link;
while (row && row.children.length < 5) row = row.parentElement;
return row ? [...row.children].slice(-4).map(cell => cell.innerText.trim()) : null;"""
