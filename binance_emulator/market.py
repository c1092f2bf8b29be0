"""Deterministic synthetic 1-minute candles.

Every candle is a pure function of ``(seed, symbol, minute)``: asking for the same minute through
any query window, page size or interval always gives the same numbers, so tests can compare REST
pages with each other and with the bulk archive.

How the numbers are made, and why:

* A per-day *anchor* price (the price at 00:00 UTC) comes from a log-linear interpolation through
  a few real BTC price levels since 2017, times a small seeded per-day noise. It is O(1) per day,
  so no request ever walks from 2017 to reach a minute.
* Inside a day, a seeded Gaussian random walk of 1,440 steps is bent (a Brownian bridge) so that it
  starts at the day's anchor and ends exactly at the next day's anchor. Hence ``open`` of every
  minute equals ``close`` of the previous minute, across day boundaries too.
* :data:`REFERENCE` (BTCUSDT) is that walk. Every other symbol is BTC against another dollar
  (USDC, FDUSD, USD), so it tracks the reference as real arbitrage keeps it: its anchor is the
  reference's times a seeded per-day basis of 0.02 % to 0.15 % either way, and its walk is the
  reference's plus a small bridged walk of its own (about 0.05 % intraday). Prices are thus close
  to BTCUSDT's but never equal; volumes are the symbol's own draws, scaled by
  :data:`VOLUME_SCALE` (BTCUSDT is the deepest book).
* Prices are kept as integer cents and volumes as integer 1e-8 units, then written as Binance's
  8-decimal strings, so every number is exact and aggregations add up digit for digit.
* Missing minutes, never returned by REST or by the archive (gaps are real and permanent):

  - *pair gaps* (no trading on one pair): a hash of ``(seed, symbol, minute)`` is ``0 mod 500``
    (about 1 minute in 500, ~3 a day per pair) -- :func:`pair_gap`;
  - *exchange gaps* (maintenance: no served symbol has the minute): a hash of ``(seed, minute)``
    is ``0 mod 20,000`` (about one minute in 20,000, ~26 a year) -- :func:`exchange_gap`;
  - *outages*: windows given with ``--outage START_MS:END_MS`` or ``POST /_emulator/outages``
    (see :class:`Edits`): every minute overlapping ``[START_MS, END_MS)`` is missing for every
    symbol.

  :func:`is_missing` answers the two hash rules; :func:`missing_minutes` lists a symbol's missing
  minutes in a window, with their cause (``"pair"`` or ``"exchange"``, outages included).
* Revised minutes: ``POST /_emulator/archive_revisions`` changes one field of one closed minute
  (Binance corrected its data); REST and every archive file covering the minute serve the revised
  value from then on (see :class:`Edits`).

A generated day is cached (:func:`functools.lru_cache`), so a 1,000-row page costs a slice and a
string join.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import json
import math
import random
import time
from datetime import datetime, timezone
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable, Iterator, Optional

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MINUTES_PER_DAY = 1440
MISSING_ONE_IN = 500
"""A pair's minute is missing when its hash is 0 modulo this number (see :func:`pair_gap`)."""
EXCHANGE_GAP_ONE_IN = 20_000
"""A minute is missing on every symbol when its hash is 0 modulo this number (:func:`exchange_gap`)."""


def _utc_ms(year: int, month: int, day: int) -> int:
    return calendar.timegm((year, month, day, 0, 0, 0)) * 1000


LISTING_MS: dict[str, int] = {
    "BTCUSDT": _utc_ms(2017, 8, 17),
    "BTCUSD": _utc_ms(2019, 9, 23),
}
"""First minute that has a candle, per symbol (BTCUSDT as on binance.com, BTCUSD as on binance.us)."""
DEFAULT_LISTING_MS = _utc_ms(2019, 9, 23)

# (date, price) knots that make the long-run level look like BTC; interpolated in log space.
_KNOTS: list[tuple[int, float]] = [
    (_utc_ms(2017, 8, 17), 4300.0),
    (_utc_ms(2017, 12, 17), 19000.0),
    (_utc_ms(2018, 12, 15), 3300.0),
    (_utc_ms(2019, 6, 26), 12000.0),
    (_utc_ms(2020, 3, 13), 5000.0),
    (_utc_ms(2021, 4, 14), 63000.0),
    (_utc_ms(2021, 7, 20), 30000.0),
    (_utc_ms(2021, 11, 10), 67000.0),
    (_utc_ms(2022, 11, 21), 16000.0),
    (_utc_ms(2024, 3, 14), 72000.0),
    (_utc_ms(2024, 12, 17), 106000.0),
    (_utc_ms(2025, 4, 8), 77000.0),
    (_utc_ms(2025, 10, 6), 124000.0),
    (_utc_ms(2026, 6, 1), 95000.0),
]

INTERVAL_MS: dict[str, int] = {
    "1s": 1000,
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
    "1M": 0,  # calendar month, handled apart
}
"""Binance's kline interval strings; anything else is -1120 Invalid interval."""

_WEEK_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; Binance weeks open on Monday.



REFERENCE = "BTCUSDT"
"""The symbol whose walk the others track (see the module docstring)."""
REFERENCE_SIGMA = 0.0009
"""Per-minute standard deviation of the reference's log price."""
BASIS_SIGMA = 0.00002
"""Per-minute standard deviation of another symbol's log price around the reference."""
VOLUME_SCALE: dict[str, float] = {"BTCUSDT": 1.0, "BTCFDUSD": 0.5, "BTCUSDC": 0.2, "BTCUSD": 0.03}
"""Typical volume of a symbol relative to BTCUSDT (other symbols: :data:`DEFAULT_VOLUME_SCALE`)."""
DEFAULT_VOLUME_SCALE = 0.1


def listing_ms(symbol: str) -> int:
    """First minute with a candle for ``symbol``."""
    return LISTING_MS.get(symbol, DEFAULT_LISTING_MS)


def _hash64(*parts: object) -> int:
    data = ":".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def pair_gap(symbol: str, minute_ms: int, seed: int = 0) -> bool:
    """True when ``symbol`` alone has no trade in the minute starting at ``minute_ms``.

    Rule: ``blake2b("{seed}:{symbol}:{minute_ms}") as uint64 % 500 == 0``.
    """
    digest = hashlib.blake2b(f"{seed}:{symbol}:{minute_ms}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % MISSING_ONE_IN == 0


def exchange_gap(minute_ms: int, seed: int = 0) -> bool:
    """True when no symbol has the minute starting at ``minute_ms`` (exchange maintenance).

    Rule: ``blake2b("exchange:{seed}:{minute_ms}") as uint64 % 20000 == 0``. Independent of the
    symbol, so the pairs lose the same minutes, as when the whole exchange stops.
    """
    digest = hashlib.blake2b(f"exchange:{seed}:{minute_ms}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % EXCHANGE_GAP_ONE_IN == 0


def is_missing(symbol: str, minute_ms: int, seed: int = 0) -> bool:
    """True when the minute starting at ``minute_ms`` has no candle by the generator's rules:
    a pair gap (:func:`pair_gap`) or an exchange gap (:func:`exchange_gap`).

    Minutes before the listing and outage windows (:class:`Edits`) are absent too, but this
    function only answers the hash rules; :func:`missing_minutes` answers everything.
    """
    return pair_gap(symbol, minute_ms, seed) or exchange_gap(minute_ms, seed)


def missing_minutes(
    symbol: str, start_ms: int, end_ms: int, seed: int = 0, outages: Iterable[tuple[int, int]] = ()
) -> dict[int, str]:
    """The minutes with open time in [start_ms, end_ms] that ``symbol`` lacks, and why.

    Cause ``"exchange"``: no symbol has it (an exchange gap, or a minute of one of ``outages``,
    the ``(start_ms, end_ms)`` windows the emulator was given); ``"pair"``: this symbol alone
    lacks it. Minutes before the listing are not gaps and are left out; the clock is not looked
    at (future minutes are answered by the same rules).
    """
    edits = Edits(outages=tuple(outages))
    out: dict[int, str] = {}
    for t in range(max(listing_ms(symbol), _ceil(start_ms, MINUTE_MS)), end_ms + 1, MINUTE_MS):
        if exchange_gap(t, seed) or edits.in_outage(t):
            out[t] = "exchange"
        elif pair_gap(symbol, t, seed):
            out[t] = "pair"
    return out


KLINE_FIELD_NUMS: dict[int, int] = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 7: 5, 8: 6, 9: 7, 10: 8}
"""Kline row index -> index in a numeric row. Prices are integer cents (the tick size is 0.01),
volumes integer 1e-8 units, trades a count; 0 and 6 (times) and 11 (ignored) cannot be revised."""


@dataclass(frozen=True)
class Edits:
    """What the operator changed on top of the generated market while the emulator runs.

    ``outages``: ``(start_ms, end_ms)`` windows; a minute overlapping ``[start_ms, end_ms)`` has
    no candle on any symbol (REST and archive alike). ``revisions``: ``(symbol, minute_ms,
    kline field index, value in the field's integer units)`` (see :data:`KLINE_FIELD_NUMS`);
    the last revision of a field wins. ``gone``: open times one REST answer lacks (the
    ``rest_gap`` fault), skipped while the page is selected, so a page is still filled with the
    minutes after them. Hashable, so a cached archive file is keyed by exactly the edits that
    touch it and is rebuilt (new bytes, new checksum) when they change.
    """

    outages: tuple[tuple[int, int], ...] = ()
    revisions: tuple[tuple[str, int, int, int], ...] = ()
    gone: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.outages or self.revisions or self.gone)

    def in_outage(self, minute_ms: int) -> bool:
        return any(start < minute_ms + MINUTE_MS and minute_ms < end for start, end in self.outages)

    def apply(self, symbol: str, minute_ms: int, nums: tuple) -> Optional[tuple]:
        """The minute's numbers after the edits: None in an outage, else ``nums`` (the same
        object when nothing is revised) with revised fields patched in."""
        if minute_ms in self.gone or self.in_outage(minute_ms):
            return None
        for sym, t, field, value in self.revisions:
            if sym == symbol and t == minute_ms:
                i = KLINE_FIELD_NUMS[field]
                nums = nums[:i] + (value,) + nums[i + 1:]
        return nums

    def touching(self, symbol: str, start_ms: int, end_ms: int) -> "Edits":
        """The part of the edits that changes ``symbol``'s minutes opening in [start_ms, end_ms)."""
        if not self:
            return self
        return Edits(
            tuple(o for o in self.outages if o[0] < end_ms and start_ms < o[1] + MINUTE_MS),
            tuple(r for r in self.revisions if r[0] == symbol and start_ms <= r[1] < end_ms),
            frozenset(t for t in self.gone if start_ms <= t < end_ms),
        )


NO_EDITS = Edits()


def field_text(field: int, units: int) -> str | int:
    """A kline field's integer units (see :data:`KLINE_FIELD_NUMS`) as the row carries it."""
    return units if field == 8 else _fmt_price(units) if field <= 4 else _fmt_units(units)


def field_units(field: int, value: object) -> int:
    """A revised kline value in its field's integer units (see :data:`KLINE_FIELD_NUMS`).

    Raises ValueError, saying why, for a field that cannot be revised or a value that does not
    fit it: prices (1-4) are multiples of the tick size 0.01, volumes (5, 7, 9, 10) have at
    most 8 decimals, the number of trades (8) is an integer. Values are strings as Binance
    sends them ("95000.12000000"); the number of trades may also be a JSON integer.
    """
    if isinstance(field, bool) or field not in KLINE_FIELD_NUMS:
        raise ValueError(f"field must be one of {sorted(KLINE_FIELD_NUMS)} (a kline index), got {field!r}")
    if field == 8 and isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else ""
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    scale = 1 if field == 8 else 100 if field <= 4 else 100_000_000
    if not number.is_finite() or len(text) > 40 or (number * scale) % 1 != 0:
        what = ("a price, a multiple of 0.01" if field <= 4 else "an integer" if field == 8
                else "a volume with at most 8 decimals")
        raise ValueError(f"value for field {field} must be {what}, as a string like \"95000.12000000\"; got {value!r}")
    return int(number * scale)


def _anchor_price(symbol: str, day_ms: int, seed: int) -> float:
    """Price at 00:00 UTC of the day starting at ``day_ms``.

    The reference follows the knot curve times seeded noise; any other symbol is the reference
    times its basis, so the dollar pairs stay within a fraction of a percent of each other.
    """
    if symbol != REFERENCE:
        return _anchor_price(REFERENCE, day_ms, seed) * (1.0 + _basis(symbol, day_ms, seed))
    if day_ms <= _KNOTS[0][0]:
        base = _KNOTS[0][1]
    elif day_ms >= _KNOTS[-1][0]:
        base = _KNOTS[-1][1]
    else:
        base = _KNOTS[-1][1]
        for (t0, p0), (t1, p1) in zip(_KNOTS, _KNOTS[1:]):
            if t0 <= day_ms < t1:
                w = (day_ms - t0) / (t1 - t0)
                base = math.exp(math.log(p0) * (1 - w) + math.log(p1) * w)
                break
    noise = (_hash64("anchor", seed, symbol, day_ms) % 10_000) / 10_000.0  # [0, 1)
    return base * (0.98 + 0.04 * noise)


def _basis(symbol: str, day_ms: int, seed: int) -> float:
    """Relative premium of ``symbol`` over the reference at 00:00 UTC: +-0.02 % to 0.15 %.

    Never zero, so a day never opens at the very reference price (tests tell pairs apart).
    """
    h = _hash64("basis", seed, symbol, day_ms)
    size = 0.0002 + 0.0013 * ((h >> 1) % 10_000) / 10_000.0
    return size if h & 1 else -size


def _bridge(rng: random.Random, a0: float, a1: float, sigma: float) -> list[float]:
    """A Gaussian walk of 1,440 steps bent to run from ``a0`` to exactly ``a1`` (1,441 points).

    Exact end points make the last close of a day the next day's first open.
    """
    gauss = rng.gauss
    walk = [0.0]
    acc = 0.0
    for _ in range(MINUTES_PER_DAY):
        acc += gauss(0.0, sigma)
        walk.append(acc)
    n = MINUTES_PER_DAY
    drift = (walk[-1] - (a1 - a0)) / n
    path = [a0 + walk[i] - drift * i for i in range(n + 1)]
    path[-1] = a1
    return path


def _log_prices(rng: random.Random, symbol: str, day_ms: int, seed: int) -> list[float]:
    """Log prices at the 1,441 minute edges of a day; draws the symbol's walk from ``rng``."""
    a0 = math.log(_anchor_price(symbol, day_ms, seed))
    a1 = math.log(_anchor_price(symbol, day_ms + DAY_MS, seed))
    if symbol == REFERENCE:
        return _bridge(rng, a0, a1, REFERENCE_SIGMA)
    ref = _log_prices(_day_rng(REFERENCE, day_ms, seed), REFERENCE, day_ms, seed)
    gap = _bridge(rng, a0 - ref[0], a1 - ref[-1], BASIS_SIGMA)
    path = [r + g for r, g in zip(ref, gap)]
    path[0], path[-1] = a0, a1
    return path


def _day_rng(symbol: str, day_ms: int, seed: int) -> random.Random:
    """The seeded generator of one symbol-day: its walk first, then its per-minute draws."""
    return random.Random(f"{seed}:{symbol}:{day_ms}")


def _fixed(value: int, digits: int) -> str:
    """An integer count of 10**-digits units as a decimal string (sign-safe: revisions may be < 0)."""
    whole, frac = divmod(abs(value), 10**digits)
    return f"{'-' if value < 0 else ''}{whole}.{frac:0{digits}d}"


def _fmt_price(cents: int) -> str:
    """Integer cents as Binance's 8-decimal price string."""
    return _fixed(cents, 2) + "000000"


def _fmt_units(units: int) -> str:
    return _fixed(units, 8)


class _Day:
    """One generated UTC day: numeric rows (None where missing) and their JSON text."""

    __slots__ = ("nums", "json")

    def __init__(self, nums: list, json_rows: list) -> None:
        self.nums = nums  # per minute: (o, h, l, c, vol, quote, trades, tb, tq) ints, or None
        self.json = json_rows  # per minute: the row as compact JSON text, or None


@functools.lru_cache(maxsize=64)  # ~1 MB per day
def _day(symbol: str, day_ms: int, seed: int) -> _Day:
    """Generate the 1,440 minutes of one day (the expensive part, hence cached)."""
    rng = _day_rng(symbol, day_ms, seed)
    gauss, rand, exp = rng.gauss, rng.random, math.exp
    cents = [round(exp(x) * 100) for x in _log_prices(rng, symbol, day_ms, seed)]
    n = MINUTES_PER_DAY
    listing = listing_ms(symbol)
    nums: list = []
    json_rows: list = []
    log_volume = math.log(3.0 * VOLUME_SCALE.get(symbol, DEFAULT_VOLUME_SCALE))
    for i in range(n):
        t = day_ms + i * MINUTE_MS
        o, c = cents[i], cents[i + 1]
        spread = o * 0.00035
        hi = (o if o > c else c) + int(abs(gauss(0.0, spread)))
        lo = max(1, (c if o > c else o) - int(abs(gauss(0.0, spread))))
        vol = max(1_000, int(exp(log_volume + 0.8 * gauss(0.0, 1.0)) * 100_000_000))
        quote = int(vol * (lo + (hi - lo) * rand())) // 100
        trades = 150 + int(vol * (80.0 + 420.0 * rand()) / 100_000_000)
        frac = 0.3 + 0.4 * rand()
        if t < listing or is_missing(symbol, t, seed):
            nums.append(None)
            json_rows.append(None)
            continue
        row = (o, hi, lo, c, vol, quote, trades, int(vol * frac), int(quote * frac))
        nums.append(row)
        json_rows.append(_row_json(t, row))
    return _Day(nums, json_rows)


def _row_json(open_ms: int, r: tuple) -> str:
    o, hi, lo, c, vol, quote, trades, tb, tq = r
    return (
        f'[{open_ms},"{o // 100}.{o % 100:02d}000000","{hi // 100}.{hi % 100:02d}000000",'
        f'"{lo // 100}.{lo % 100:02d}000000","{c // 100}.{c % 100:02d}000000",'
        f'"{vol // 100_000_000}.{vol % 100_000_000:08d}",{open_ms + MINUTE_MS - 1},'
        f'"{quote // 100_000_000}.{quote % 100_000_000:08d}",{trades},'
        f'"{tb // 100_000_000}.{tb % 100_000_000:08d}","{tq // 100_000_000}.{tq % 100_000_000:08d}","0"]'
    )


def _row_list(open_ms: int, close_ms: int, r: tuple) -> list:
    o, hi, lo, c, vol, quote, trades, tb, tq = r
    return [
        open_ms, _fmt_price(o), _fmt_price(hi), _fmt_price(lo), _fmt_price(c), _fmt_units(vol),
        close_ms, _fmt_units(quote), trades, _fmt_units(tb), _fmt_units(tq), "0",
    ]


def price_cents(symbol: str, minute_ms: int, seed: int = 0) -> int:
    """Open price (in cents) of the walk at ``minute_ms``, defined even for missing minutes.

    Used by the account generator to give orders realistic prices.
    """
    minute_ms -= minute_ms % MINUTE_MS
    day_ms = minute_ms - minute_ms % DAY_MS
    i = (minute_ms - day_ms) // MINUTE_MS
    nums = _day(symbol, day_ms, seed).nums
    for j in range(i, -1, -1):  # nearest existing minute at or before (gaps are rare)
        if nums[j] is not None:
            return nums[j][0]
    return round(_anchor_price(symbol, day_ms, seed) * 100)


def _partial(r: tuple, elapsed_ms: int) -> tuple:
    """The still-open candle: values "so far", a fraction of the finished minute."""
    f = max(0.0, min(1.0, elapsed_ms / MINUTE_MS))
    o, hi, lo, c, vol, quote, trades, tb, tq = r
    c2 = round(o + (c - o) * f)
    hi2 = max(o, c2) + int((hi - max(o, c)) * f)
    lo2 = min(o, c2) - int((min(o, c) - lo) * f)
    return (o, hi2, lo2, c2, int(vol * f), int(quote * f), int(trades * f), int(tb * f), int(tq * f))


def candle(symbol: str, minute_ms: int, seed: int = 0, now_ms: Optional[int] = None) -> Optional[list]:
    """The 1m kline row for the minute starting at ``minute_ms`` as Binance returns it, or None.

    None when the minute is missing, before the listing, or after ``now_ms`` (default: now).
    """
    rows = minute_rows(symbol, minute_ms, minute_ms, seed, now_ms=now_ms)
    return rows[0] if rows else None


def _generated_minutes(symbol: str, lo: int, hi: int, seed: int, reverse: bool) -> Iterator[tuple[int, tuple, str]]:
    """Yield ``(open_ms, nums, json)`` of the generator's existing minutes in [lo, hi] (minute-aligned)."""
    if lo > hi:
        return
    if not reverse:
        day_ms = lo - lo % DAY_MS
        while day_ms <= hi:
            d = _day(symbol, day_ms, seed)
            i0 = max(0, (lo - day_ms) // MINUTE_MS)
            i1 = min(MINUTES_PER_DAY - 1, (hi - day_ms) // MINUTE_MS)
            nums, js = d.nums, d.json
            for i in range(i0, i1 + 1):
                if nums[i] is not None:
                    yield day_ms + i * MINUTE_MS, nums[i], js[i]
            day_ms += DAY_MS
    else:
        day_ms = hi - hi % DAY_MS
        while day_ms + DAY_MS > lo:
            d = _day(symbol, day_ms, seed)
            i0 = max(0, (lo - day_ms) // MINUTE_MS)
            i1 = min(MINUTES_PER_DAY - 1, (hi - day_ms) // MINUTE_MS)
            nums, js = d.nums, d.json
            for i in range(i1, i0 - 1, -1):
                if nums[i] is not None:
                    yield day_ms + i * MINUTE_MS, nums[i], js[i]
            day_ms -= DAY_MS


def _iter_minutes(
    symbol: str, lo: int, hi: int, seed: int, reverse: bool, edits: "Edits"
) -> Iterator[tuple[int, tuple, str]]:
    """Yield ``(open_ms, nums, json)`` of existing minutes in [lo, hi] after ``edits``.

    Edits are few, so the common case (none touching the window) costs one check per call.
    """
    edits = edits.touching(symbol, lo, hi + MINUTE_MS)
    for t, nums, js in _generated_minutes(symbol, lo, hi, seed, reverse):
        if edits:
            edited = edits.apply(symbol, t, nums)
            if edited is None:
                continue
            if edited is not nums:
                nums, js = edited, _json_of(_row_list(t, t + MINUTE_MS - 1, edited))
        yield t, nums, js


def _ceil(ms: int, step: int) -> int:
    return -(-ms // step) * step


def klines_json(
    symbol: str,
    seed: int,
    now_ms: int,
    interval: str = "1m",
    start_ms: Optional[int] = None,
    end_ms: Optional[int] = None,
    limit: int = 500,
    edits: Edits = NO_EDITS,
) -> list[str]:
    """Rows of GET /api/v3/klines as compact JSON texts, in Binance's selection order.

    With ``start_ms``: the first ``limit`` candles with open time in [start, end]; with only
    ``end_ms``: the last ``limit`` candles up to end; with neither: the latest ``limit``. The
    current minute's candle is returned still open (values so far, closeTime in the future).
    ``edits``: outages and revised values (see :class:`Edits`).
    """
    if interval != "1m":
        return [_json_of(r) for r in _aggregated(symbol, seed, now_ms, interval, start_ms, end_ms, limit, edits)]
    now_minute = now_ms - now_ms % MINUTE_MS
    lo = listing_ms(symbol)
    if start_ms is not None:
        lo = max(lo, _ceil(start_ms, MINUTE_MS))
    hi = now_minute
    if end_ms is not None:
        hi = min(hi, end_ms - end_ms % MINUTE_MS)
    out: list[str] = []
    reverse = start_ms is None
    for t, nums, js in _iter_minutes(symbol, lo, hi, seed, reverse, edits):
        if t == now_minute:
            js = _json_of(_row_list(t, t + MINUTE_MS - 1, _partial(nums, now_ms - t)))
        out.append(js)
        if len(out) >= limit:
            break
    if reverse:
        out.reverse()
    return out


def minute_rows(
    symbol: str, start_ms: int, end_ms: int, seed: int = 0, now_ms: Optional[int] = None, edits: Edits = NO_EDITS
) -> list[list]:
    """All 1m rows with open time in [start_ms, end_ms] (no limit), as Binance would return them.

    Tests and the archive use this; it is the same data REST pages serve. Give ``edits`` (e.g.
    ``Edits(outages=((start, end),))``) when the emulator runs with outages or revisions.
    """
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    lo = max(listing_ms(symbol), _ceil(start_ms, MINUTE_MS))
    now_minute = now_ms - now_ms % MINUTE_MS
    hi = min(now_minute, end_ms - end_ms % MINUTE_MS)
    out: list[list] = []
    for t, nums, _js in _iter_minutes(symbol, lo, hi, seed, False, edits):
        if t == now_minute:
            nums = _partial(nums, now_ms - t)
        out.append(_row_list(t, t + MINUTE_MS - 1, nums))
    return out


def iter_closed_rows(
    symbol: str, start_ms: int, end_ms: int, seed: int, edits: Edits = NO_EDITS
) -> Iterator[tuple[int, tuple]]:
    """Yield ``(open_ms, nums)`` for existing minutes in [start_ms, end_ms) -- for the archive."""
    lo = max(start_ms, listing_ms(symbol))
    for t, nums, _js in _iter_minutes(symbol, lo, end_ms - MINUTE_MS, seed, False, edits):
        yield t, nums


def format_row(open_time: int, close_time: int, nums: tuple) -> list:
    """A numeric row as Binance's 12 fields (open/close times as given, e.g. in microseconds)."""
    return _row_list(open_time, close_time, nums)


# ---- intervals other than 1m: aggregated from the 1m candles ---------------------------------


def _bucket_start(interval: str, ms: int) -> int:
    if interval == "1M":
        d = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
        return _utc_ms(d.year, d.month, 1)
    step = INTERVAL_MS[interval]
    off = _WEEK_OFFSET_MS if interval == "1w" else 0
    return (ms - off) // step * step + off


def _bucket_next(interval: str, start: int) -> int:
    if interval == "1M":
        d = datetime.fromtimestamp(start / 1000, tz=timezone.utc)
        y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return _utc_ms(y, m, 1)
    return start + INTERVAL_MS[interval]


def _aggregate(symbol: str, seed: int, now_ms: int, b0: int, b1: int, edits: Edits) -> Optional[list]:
    """One candle over the minutes of [b0, b1) (after ``edits``), or None if none traded."""
    now_minute = now_ms - now_ms % MINUTE_MS
    acc: Optional[list] = None
    for t, nums, _js in _iter_minutes(symbol, b0, min(b1 - MINUTE_MS, now_minute), seed, False, edits):
        if t == now_minute:
            nums = _partial(nums, now_ms - t)
        o, hi, lo, c, vol, quote, trades, tb, tq = nums
        if acc is None:
            acc = [o, hi, lo, c, vol, quote, trades, tb, tq]
        else:
            acc[1] = max(acc[1], hi)
            acc[2] = min(acc[2], lo)
            acc[3] = c
            for k in range(4, 9):
                acc[k] += nums[k]
    if acc is None:
        return None
    return _row_list(b0, b1 - 1, tuple(acc))


def _aggregated(
    symbol: str, seed: int, now_ms: int, interval: str, start_ms: Optional[int], end_ms: Optional[int], limit: int,
    edits: Edits,
) -> list[list]:
    if interval == "1s":
        return []  # no sub-minute data in this emulator
    first = _bucket_start(interval, listing_ms(symbol))
    last = _bucket_start(interval, now_ms if end_ms is None else min(end_ms, now_ms))
    out: list[list] = []
    if start_ms is not None:
        b = _bucket_start(interval, start_ms)
        if b < start_ms:
            b = _bucket_next(interval, b)
        b = max(b, first)
        while b <= last and len(out) < limit:
            nb = _bucket_next(interval, b)
            row = _aggregate(symbol, seed, now_ms, b, nb, edits)
            if row is not None:
                out.append(row)
            b = nb
        return out
    b = last
    while b >= first and len(out) < limit:
        row = _aggregate(symbol, seed, now_ms, b, _bucket_next(interval, b), edits)
        if row is not None:
            out.append(row)
        b = _bucket_start(interval, b - 1)
    out.reverse()
    return out


def _json_of(row: list) -> str:
    return json.dumps(row, separators=(",", ":"))
