"""The day pictures: real PNGs that Pillow decodes, small enough for markdown metadata, showing the
missing minutes where they are."""

from __future__ import annotations

import base64
import io
import re
from datetime import datetime, timezone

import polars as pl
from PIL import Image

from binance_assets import charts
from binance_assets_tests.iceberg.test_iceberg import DAY, candles_frame, orders_frame

MAX_PNG_BYTES = 60_000
STRIP_MIDDLE = (charts.STRIP_TOP + charts.STRIP_BOTTOM) // 2


def _decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    return image.convert("RGB")


def _minute_of(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute


def test_candles_picture_marks_each_missing_minute() -> None:
    """A minute with no candle (one the emulator leaves out, and 12:00 removed here) is marked in
    the strip at its column; a minute with a candle is not."""
    noon = datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=timezone.utc)
    frame = candles_frame("BTCUSDT", DAY).filter(pl.col("candle_open_time") != noon)
    missing = charts.missing_minutes(frame, DAY)
    assert _minute_of(noon) in missing and len(missing) >= 2

    png = charts.candles_day_png(frame, DAY)
    image = _decoded(png)

    assert image.size == (charts.WIDTH, charts.HEIGHT)
    assert len(png) < MAX_PNG_BYTES
    for minute in missing:
        assert image.getpixel((charts.minute_x(minute), STRIP_MIDDLE)) == charts.MISSING_MINUTE
    present = next(minute for minute in range(60, 1440) if all(abs(minute - gap) > 5 for gap in missing))
    assert image.getpixel((charts.minute_x(present), STRIP_MIDDLE)) == charts.PRESENT_MINUTE


def test_candles_picture_draws_candles_and_volume() -> None:
    image = _decoded(charts.candles_day_png(candles_frame("BTCUSDT", DAY), DAY))
    price_panel = image.crop((charts.PLOT_LEFT, charts.PRICE_TOP, charts.PLOT_RIGHT, charts.PRICE_BOTTOM))
    volume_panel = image.crop((charts.PLOT_LEFT, charts.VOLUME_TOP, charts.PLOT_RIGHT, charts.VOLUME_BOTTOM))
    colours = {colour for _, colour in price_panel.getcolors(maxcolors=4096)}
    assert charts.UP in colours and charts.DOWN in colours
    assert charts.VOLUME in {colour for _, colour in volume_panel.getcolors(maxcolors=4096)}


def test_orders_picture_stacks_statuses_per_hour() -> None:
    """24 bars; the emulator's busy hour (13:00, about 2,000 orders) is the tallest."""
    frame = orders_frame("BTCUSDT", DAY)
    png = charts.orders_day_png(frame, DAY)
    image = _decoded(png)

    assert image.size == (charts.WIDTH, charts.HEIGHT)
    assert len(png) < MAX_PNG_BYTES

    def bar_height(hour: int) -> int:
        x = charts.PLOT_LEFT + int((hour + 0.5) * charts.PLOT_WIDTH / 24)
        column = [image.getpixel((x, y)) for y in range(charts.ORDERS_TOP, charts.ORDERS_BOTTOM)]
        return sum(colour in charts.STATUS_COLOURS.values() for colour in column)

    heights = [bar_height(hour) for hour in range(24)]
    assert heights.index(max(heights)) == 13
    assert all(height > 0 for height in heights)
    filled = charts.STATUS_COLOURS["FILLED"]
    assert filled in {colour for _, colour in image.getcolors(maxcolors=4096)}


def test_empty_days_still_draw() -> None:
    candles_png = charts.candles_day_png(candles_frame("BTCUSDT", DAY).clear(), DAY)
    image = _decoded(candles_png)
    assert image.getpixel((charts.minute_x(0), STRIP_MIDDLE)) == charts.MISSING_MINUTE
    orders_png = charts.orders_day_png(orders_frame("BTCUSDT", DAY).clear(), DAY)
    assert _decoded(orders_png).size == (charts.WIDTH, charts.HEIGHT)


def test_markdown_embeds_the_png_as_a_data_uri() -> None:
    png = charts.candles_day_png(candles_frame("BTCUSDT", DAY), DAY)
    markdown = charts.markdown_image(png, "BTCUSDT [2025-06-15]")
    match = re.fullmatch(r"!\[([^\]]*)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match is not None
    assert match.group(1) == "BTCUSDT (2025-06-15)"
    assert base64.b64decode(match.group(2)) == png
