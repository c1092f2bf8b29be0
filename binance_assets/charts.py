"""Small PNG pictures of a pair's day for the Dagster UI, drawn with Pillow: the candles with
their volume and missing minutes, or the orders per hour by status. They are embedded in markdown
metadata as data URIs, so they stay a few KB: flat colours, saved as a palette PNG.
"""

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import date

import polars as pl
from PIL import Image, ImageDraw, ImageFont

from binance_assets.partitions import day_bounds

WIDTH, HEIGHT = 900, 420
PLOT_LEFT, PLOT_RIGHT = 80, WIDTH - 20
PLOT_WIDTH = PLOT_RIGHT - PLOT_LEFT
MINUTES_PER_DAY = 1440
CANDLE_MINUTES = 30  # 48 candles: legible at this width, the day's shape still visible

PRICE_TOP, PRICE_BOTTOM = 30, 250
VOLUME_TOP, VOLUME_BOTTOM = 260, 318
STRIP_TOP, STRIP_BOTTOM = 358, 374
ORDERS_TOP, ORDERS_BOTTOM = 56, 370

BACKGROUND = (255, 255, 255)
TEXT = (55, 60, 66)
GRID = (232, 234, 237)
UP = (38, 150, 90)
DOWN = (205, 50, 50)
VOLUME = (120, 140, 160)
PRESENT_MINUTE = (200, 222, 205)
CAUSE_COLOURS = {  # a missing minute's cause in the gap ledger
    "exchange": (110, 70, 170),  # no configured pair has it: maintenance
    "pair": (235, 110, 0),  # this pair alone, and the archive agrees: no trades
    "pending": (230, 190, 0),  # not verifiable yet (archive not published)
    "recovered": (40, 150, 200),  # REST lacked it, the archive had it: present now
}
MISSING_MINUTE = CAUSE_COLOURS["pair"]
STATUS_COLOURS = {  # Binance's order statuses, in the order they are stacked (bottom up)
    "NEW": (60, 120, 200),
    "PENDING_NEW": (150, 180, 230),
    "PARTIALLY_FILLED": (140, 200, 120),
    "FILLED": (38, 150, 90),
    "CANCELED": (150, 150, 150),
    "PENDING_CANCEL": (200, 200, 200),
    "REJECTED": (205, 50, 50),
    "EXPIRED": (235, 150, 40),
    "EXPIRED_IN_MATCH": (240, 200, 120),
}
OTHER_STATUS = (120, 80, 160)

# Text is antialiased, dark on white: greys between the two, plus every colour drawn.
GREYS = [tuple(TEXT[i] + (255 - TEXT[i]) * step // 15 for i in range(3)) for step in range(16)]
PALETTE_COLOURS = [BACKGROUND, TEXT, GRID, UP, DOWN, VOLUME, PRESENT_MINUTE, *CAUSE_COLOURS.values(),
                   *STATUS_COLOURS.values(), OTHER_STATUS, *GREYS]

FONT = ImageFont.load_default(size=12)
SMALL_FONT = ImageFont.load_default(size=10)


def minute_x(minute: int) -> int:
    """The strip's first pixel column of a minute of the day."""
    return PLOT_LEFT + minute * PLOT_WIDTH // MINUTES_PER_DAY


def markdown_image(png: bytes, alt: str) -> str:
    text = alt.replace("[", "(").replace("]", ")")
    return f"![{text}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def candles_day_png(frame: pl.DataFrame, day: date, causes: Mapping[int, str] | None = None) -> bytes:
    """The day's candles (as 30-minute candles) over their volume, then a strip of the day's minutes
    where each of ``causes`` (minute → cause; by default every minute without a candle, as
    ``pair``) is coloured by its cause."""
    image, draw = _canvas()
    rows = _in_day(frame, "candle_open_time", day)
    missing = dict(causes) if causes is not None else dict.fromkeys(missing_minutes(rows, day), "pair")
    _title(draw, rows["trading_pair"], day, f"{rows.height} one-minute candles, drawn as {CANDLE_MINUTES}-minute candles")
    buckets = _candle_buckets(rows, day)
    if buckets.height:
        _draw_candles(draw, buckets)
        _draw_volume(draw, buckets)
    else:
        draw.text((PLOT_LEFT + 10, PRICE_TOP + 10), "no candles", font=FONT, fill=TEXT)
    _draw_hours(draw, VOLUME_BOTTOM)
    _draw_strip(draw, missing)
    return _png(image)


def missing_minutes(frame: pl.DataFrame, day: date) -> list[int]:
    """Minutes of the day that no candle opens at."""
    start, _ = day_bounds(day)
    offset = (pl.col("candle_open_time") - start).dt.total_milliseconds()
    present = frame.select(offset.filter(offset % 60_000 == 0) // 60_000).to_series()
    minutes = pl.int_range(MINUTES_PER_DAY, eager=True)
    return minutes.filter(~minutes.is_in(present.implode())).to_list()


def orders_day_png(frame: pl.DataFrame, day: date, causes: Mapping[int, str] | None = None) -> bytes:
    """The day's orders per hour, each bar stacked by status, with each status's total in a legend."""
    image, draw = _canvas()
    rows = _in_day(frame, "order_time", day)
    counts = rows.group_by(pl.col("order_time").dt.hour().alias("hour"), "status").len().sort("hour", "status")
    _title(draw, rows["symbol"], day, f"{rows.height} orders per hour, by status")
    statuses = _status_order(counts["status"].unique().to_list())
    _draw_legend(draw, statuses, rows)
    count = {(hour, status): number for hour, status, number in counts.iter_rows()}
    top = _nice_ceiling(counts.group_by("hour").agg(pl.col("len").sum())["len"].max() or 1)
    scale = _linear(0, top, ORDERS_BOTTOM, ORDERS_TOP)
    _draw_y_axis(draw, 0, top, scale, lambda value: f"{value:,.0f}")
    slot = PLOT_WIDTH / 24
    for hour in range(24):
        left, right = round(PLOT_LEFT + hour * slot + 3), round(PLOT_LEFT + (hour + 1) * slot - 3)
        base = 0
        for status in statuses:
            if number := count.get((hour, status), 0):
                draw.rectangle((left, scale(base + number), right, scale(base)), fill=STATUS_COLOURS.get(status, OTHER_STATUS))
                base += number
        if base:
            draw.text(((left + right) / 2, scale(base) - 2), f"{base:,}", font=SMALL_FONT, fill=TEXT, anchor="mb")
        draw.text(((left + right) / 2, ORDERS_BOTTOM + 5), f"{hour:02d}", font=SMALL_FONT, fill=TEXT, anchor="mt")
    draw.text((PLOT_LEFT - 16, ORDERS_BOTTOM + 5), "hour UTC", font=SMALL_FONT, fill=TEXT, anchor="rt")
    return _png(image)


def _title(draw: ImageDraw.ImageDraw, pairs: pl.Series, day: date, what: str) -> None:
    names = " ".join(pairs.unique().sort().to_list()) or "no pair"
    draw.text((PLOT_LEFT, 8), f"{names} {day} UTC: {what}", font=FONT, fill=TEXT)


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    return image, ImageDraw.Draw(image)


def _palette() -> Image.Image:
    palette = Image.new("P", (1, 1))
    palette.putpalette([channel for colour in PALETTE_COLOURS for channel in colour])
    return palette


def _png(image: Image.Image) -> bytes:
    """A palette PNG of the colours drawn (exactly) and text greys: one byte per pixel, a few KB."""
    buffer = io.BytesIO()
    image.quantize(palette=_palette(), dither=Image.Dither.NONE).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _in_day(frame: pl.DataFrame, time_column: str, day: date) -> pl.DataFrame:
    start, end = day_bounds(day)
    return frame.filter(pl.col(time_column).is_between(start, end, closed="left"))


def _candle_buckets(rows: pl.DataFrame, day: date) -> pl.DataFrame:
    """``CANDLE_MINUTES``-minute candles, as floats: all a picture needs."""
    start, _ = day_bounds(day)
    bucket = (pl.col("candle_open_time") - start).dt.total_minutes() // CANDLE_MINUTES
    return (
        rows.sort("candle_open_time")
        .group_by(bucket.alias("bucket"), maintain_order=True)
        .agg(
            pl.col("open_price").first().cast(pl.Float64).alias("open"),
            pl.col("high_price").max().cast(pl.Float64).alias("high"),
            pl.col("low_price").min().cast(pl.Float64).alias("low"),
            pl.col("close_price").last().cast(pl.Float64).alias("close"),
            pl.col("btc_volume").sum().cast(pl.Float64).alias("volume"),
        )
    )


def _linear(low: float, high: float, bottom: int, top: int) -> Callable[[float], float]:
    """Value → pixel row, ``low`` at ``bottom`` and ``high`` at ``top``."""
    span = (high - low) or 1.0
    return lambda value: bottom - (value - low) / span * (bottom - top)


def _draw_candles(draw: ImageDraw.ImageDraw, buckets: pl.DataFrame) -> None:
    low, high = buckets["low"].min(), buckets["high"].max()
    pad = (high - low) * 0.05 or 1.0
    scale = _linear(low - pad, high + pad, PRICE_BOTTOM, PRICE_TOP)
    _draw_y_axis(draw, low - pad, high + pad, scale, _price_label)
    slot = PLOT_WIDTH * CANDLE_MINUTES / MINUTES_PER_DAY
    for row in buckets.iter_rows(named=True):
        centre = PLOT_LEFT + (row["bucket"] + 0.5) * slot
        colour = UP if row["close"] >= row["open"] else DOWN
        draw.line((centre, scale(row["high"]), centre, scale(row["low"])), fill=colour)
        top, bottom = sorted((scale(row["open"]), scale(row["close"])))
        draw.rectangle((centre - slot * 0.3, top, centre + slot * 0.3, max(bottom, top + 1)), fill=colour)


def _price_label(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:,.2f}"


def _draw_volume(draw: ImageDraw.ImageDraw, buckets: pl.DataFrame) -> None:
    most = buckets["volume"].max() or 1.0
    scale = _linear(0, most, VOLUME_BOTTOM, VOLUME_TOP)
    middle = (VOLUME_TOP + VOLUME_BOTTOM) / 2
    draw.text((PLOT_LEFT - 6, middle - 7), "BTC volume", font=SMALL_FONT, fill=TEXT, anchor="rm")
    draw.text((PLOT_LEFT - 6, middle + 7), f"max {most:,.0f}", font=SMALL_FONT, fill=TEXT, anchor="rm")
    slot = PLOT_WIDTH * CANDLE_MINUTES / MINUTES_PER_DAY
    for row in buckets.iter_rows(named=True):
        left = PLOT_LEFT + row["bucket"] * slot
        draw.rectangle((left + slot * 0.2, scale(row["volume"]), left + slot * 0.8, VOLUME_BOTTOM), fill=VOLUME)


def _draw_y_axis(
    draw: ImageDraw.ImageDraw, low: float, high: float, scale: Callable[[float], float], label: Callable[[float], str]
) -> None:
    """Five grid lines across the plot, labelled on the left."""
    for step in range(5):
        value = low + (high - low) * step / 4
        y = scale(value)
        draw.line((PLOT_LEFT, y, PLOT_RIGHT, y), fill=GRID)
        draw.text((PLOT_LEFT - 6, y), label(value), font=SMALL_FONT, fill=TEXT, anchor="rm")


def _draw_hours(draw: ImageDraw.ImageDraw, bottom: int) -> None:
    """Ticks and labels every three hours (UTC) under a panel."""
    for hour in range(0, 25, 3):
        x = PLOT_LEFT + hour * PLOT_WIDTH / 24
        draw.line((x, bottom, x, bottom + 4), fill=TEXT)
        draw.text((x, bottom + 5), f"{hour:02d}", font=SMALL_FONT, fill=TEXT, anchor="mt")
    draw.text((PLOT_LEFT - 16, bottom + 5), "hour UTC", font=SMALL_FONT, fill=TEXT, anchor="rt")


def _draw_strip(draw: ImageDraw.ImageDraw, causes: Mapping[int, str]) -> None:
    """The day's minutes, each listed minute in its cause's colour and at least two pixels wide
    (so a single one stays visible), over a legend with each cause's count."""
    draw.text((PLOT_LEFT - 6, (STRIP_TOP + STRIP_BOTTOM) / 2), "minutes", font=SMALL_FONT, fill=TEXT, anchor="rm")
    draw.rectangle((PLOT_LEFT, STRIP_TOP, PLOT_RIGHT - 1, STRIP_BOTTOM), fill=PRESENT_MINUTE)
    for minute, cause in sorted(causes.items()):
        x = minute_x(minute)
        colour = CAUSE_COLOURS.get(cause, MISSING_MINUTE)
        draw.rectangle((x, STRIP_TOP, max(x + 1, minute_x(minute + 1) - 1), STRIP_BOTTOM), fill=colour)
    left = PLOT_LEFT
    for cause, colour in CAUSE_COLOURS.items():
        count = sum(1 for found in causes.values() if found == cause)
        draw.rectangle((left, STRIP_BOTTOM + 10, left + 8, STRIP_BOTTOM + 18), fill=colour)
        label = f"{cause} {count}"
        draw.text((left + 12, STRIP_BOTTOM + 8), label, font=SMALL_FONT, fill=TEXT)
        left += 24 + int(draw.textlength(label, font=SMALL_FONT))
    shown = ", ".join(f"{m // 60:02d}:{m % 60:02d}" for m in sorted(causes)[:6])
    more = f" and {len(causes) - 6} more" if len(causes) > 6 else ""
    draw.text((left + 8, STRIP_BOTTOM + 8), f"missing: {shown}{more}" if causes else "no minute missing",
              font=SMALL_FONT, fill=TEXT)


def _status_order(present: Sequence[str]) -> list[str]:
    """Binance's status order, then undocumented statuses alphabetically."""
    return [status for status in STATUS_COLOURS if status in present] + sorted(set(present) - set(STATUS_COLOURS))


def _draw_legend(draw: ImageDraw.ImageDraw, statuses: Sequence[str], rows: pl.DataFrame) -> None:
    totals = dict(rows.group_by("status").len().iter_rows())
    x = PLOT_LEFT
    for status in statuses:
        label = f"{status} {totals[status]:,}"
        draw.rectangle((x, 32, x + 9, 41), fill=STATUS_COLOURS.get(status, OTHER_STATUS))
        draw.text((x + 14, 30), label, font=SMALL_FONT, fill=TEXT)
        x += 14 + draw.textlength(label, font=SMALL_FONT) + 16


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10ⁿ at or above ``value``, for round axis labels."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= value:
                return factor * magnitude
        magnitude *= 10
