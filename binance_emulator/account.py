"""A deterministic trading account: the orders GET /api/v3/allOrders returns.

Orders are a pure function of ``(seed, symbol, hour)``, generated one UTC hour at a time, so any
query (by orderId, by time window, most recent) sees the same orders.

Rules tests can rely on:

* Orders exist from :data:`ACCOUNT_START_MS` (2020-01-01 00:00 UTC) up to now (``time <= now``).
* Ordinary hours hold 10..30 orders (``10 + hash % 21``).
* **Busy hours**: every day at 13:00 UTC (:data:`BUSY_HOUR_UTC`) holds 1,500..2,500 orders
  (``1500 + hash % 1001``), more than one 1,000-order page. :func:`busy_hour` gives the busy hour
  of a day, :func:`is_busy_hour` tells whether an hour is one.
* ``orderId = 1_000_000 + (hour_index - first_hour_index) * 4_000 + k`` for the k-th order of the
  hour (k < 2,500), so ids are unique and strictly increasing with ``time`` (times within an hour
  are distinct milliseconds, sorted). Ids are per symbol, as Binance numbers orders per symbol:
  two pairs share ids, never orders (each symbol draws its own counts, times, sides, sizes, and
  its prices follow its own candles).
* Every status (NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, REJECTED), the types LIMIT,
  MARKET, LIMIT_MAKER, STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT, both sides; executedQty <= origQty;
  prices follow the candles of :mod:`binance_emulator.market`.

Field set: the 20 fields Binance documents for allOrders (symbol ... selfTradePreventionMode), in
Binance's order. The conditional fields of Binance's order responses (trailingDelta, strategyId,
preventedMatchId, usedSor, workingFloor, pegPriceType, expiryReason...) belong to orders using those
features, which this account never places, so they never appear.
"""

from __future__ import annotations

import functools
import random
import time
from typing import Iterator, Optional

from binance_emulator import market

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
ACCOUNT_START_MS = 1_577_836_800_000  # 2020-01-01 00:00 UTC
BUSY_HOUR_UTC = 13
ORDER_ID_BASE = 1_000_000
IDS_PER_HOUR = 4_000

_STATUSES = [
    ("FILLED", 45),
    ("CANCELED", 25),
    ("NEW", 8),
    ("PARTIALLY_FILLED", 8),
    ("EXPIRED", 8),
    ("REJECTED", 6),
]
_TYPES = [
    ("LIMIT", 50),
    ("MARKET", 20),
    ("LIMIT_MAKER", 10),
    ("STOP_LOSS_LIMIT", 10),
    ("TAKE_PROFIT_LIMIT", 10),
]


def _pick(rng: random.Random, table: list[tuple[str, int]]) -> str:
    x = rng.randrange(sum(w for _, w in table))
    for name, w in table:
        if x < w:
            return name
        x -= w
    return table[-1][0]


def is_busy_hour(hour_ms: int) -> bool:
    """True for the daily burst hour (13:00 UTC), which holds 1,500..2,500 orders."""
    return (hour_ms % DAY_MS) // HOUR_MS == BUSY_HOUR_UTC


def busy_hour(day_ms: int) -> int:
    """Open time (ms) of the busy hour of the UTC day containing ``day_ms``."""
    return day_ms - day_ms % DAY_MS + BUSY_HOUR_UTC * HOUR_MS


def order_count(symbol: str, hour_ms: int, seed: int = 0) -> int:
    """How many orders the hour starting at ``hour_ms`` holds (before the ``time <= now`` cut)."""
    if hour_ms < ACCOUNT_START_MS:
        return 0
    h = market._hash64("orders", seed, symbol, hour_ms)
    return 1500 + h % 1001 if is_busy_hour(hour_ms) else 10 + h % 21


def _fmt8(x: float) -> str:
    return f"{x:.8f}"


@functools.lru_cache(maxsize=256)
def _hour(symbol: str, hour_ms: int, seed: int) -> tuple[dict, ...]:
    """All orders of one hour (ignoring now), ascending by orderId and time."""
    n = order_count(symbol, hour_ms, seed)
    if n == 0:
        return ()
    rng = random.Random(f"orders:{seed}:{symbol}:{hour_ms}")
    offsets = sorted(rng.sample(range(HOUR_MS), n))
    first_id = ORDER_ID_BASE + (hour_ms - ACCOUNT_START_MS) // HOUR_MS * IDS_PER_HOUR
    out = []
    for k, off in enumerate(offsets):
        t = hour_ms + off
        out.append(_order(rng, symbol, seed, first_id + k, t))
    return tuple(out)


def _order(rng: random.Random, symbol: str, seed: int, order_id: int, t: int) -> dict:
    otype = _pick(rng, _TYPES)
    side = "BUY" if rng.random() < 0.5 else "SELL"
    status = _pick(rng, _STATUSES)
    if otype == "MARKET" and status in ("NEW", "PARTIALLY_FILLED"):
        status = "FILLED"  # market orders never rest on the book
    mkt = market.price_cents(symbol, t, seed) / 100.0
    qty = round(rng.choice([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0]) * rng.uniform(1, 3), 5)
    if status in ("FILLED",):
        executed = qty
    elif status == "PARTIALLY_FILLED" or (status in ("CANCELED", "EXPIRED") and rng.random() < 0.3):
        executed = round(qty * rng.uniform(0.1, 0.9), 5)
    else:
        executed = 0.0
    away = rng.uniform(0.0005, 0.02)
    price = 0.0
    stop = 0.0
    if otype != "MARKET":
        price = round(mkt * (1 - away if side == "BUY" else 1 + away), 2)
    if otype in ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        stop = round(price * (1.001 if side == "BUY" else 0.999), 2)
    fill_price = mkt if otype == "MARKET" else price
    quote = round(executed * fill_price, 8)
    if status == "NEW":
        update = t
    else:
        update = t + rng.randrange(1, 600_000 if otype != "MARKET" else 50)
    triggered = otype not in ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") or status != "NEW"
    working = t if triggered else -1
    client_id = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(22))
    return {
        "symbol": symbol,
        "orderId": order_id,
        "orderListId": -1,
        "clientOrderId": ("web_" if rng.random() < 0.5 else "x-") + client_id,
        "price": _fmt8(price),
        "origQty": _fmt8(qty),
        "executedQty": _fmt8(executed),
        "cummulativeQuoteQty": _fmt8(quote),
        "status": status,
        "timeInForce": rng.choice(["GTC", "GTC", "GTC", "IOC", "FOK"]) if otype == "LIMIT" else "GTC",
        "type": otype,
        "side": side,
        "stopPrice": _fmt8(stop),
        "icebergQty": _fmt8(0.0),
        "time": t,
        "updateTime": update,
        "isWorking": triggered and status not in ("REJECTED",),
        "workingTime": working,
        "origQuoteOrderQty": _fmt8(0.0),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def _hour_of_id(order_id: int) -> int:
    return ACCOUNT_START_MS + max(0, order_id - ORDER_ID_BASE) // IDS_PER_HOUR * HOUR_MS


def _iter_orders(symbol: str, seed: int, lo_ms: int, hi_ms: int, reverse: bool) -> Iterator[dict]:
    """Orders with time in [lo_ms, hi_ms], ascending (or descending when ``reverse``)."""
    lo_ms = max(lo_ms, ACCOUNT_START_MS)
    if lo_ms > hi_ms:
        return
    first_h = lo_ms - lo_ms % HOUR_MS
    last_h = hi_ms - hi_ms % HOUR_MS
    hours = range(last_h, first_h - 1, -HOUR_MS) if reverse else range(first_h, last_h + 1, HOUR_MS)
    for h in hours:
        orders = _hour(symbol, h, seed)
        for o in reversed(orders) if reverse else orders:
            if lo_ms <= o["time"] <= hi_ms:
                yield o


def query(
    symbol: str,
    seed: int,
    now_ms: int,
    order_id: Optional[int] = None,
    start_ms: Optional[int] = None,
    end_ms: Optional[int] = None,
    limit: int = 500,
) -> list[dict]:
    """GET /api/v3/allOrders selection (parameters already validated), ascending by orderId.

    * ``order_id``: orders with id >= it (combined with the time bounds when given).
    * only ``start_ms``: the window [start, start + 24h]; only ``end_ms``: [end - 24h, end].
    * with a time bound or ``order_id``: the first ``limit`` matching orders;
      with neither: the most recent ``limit`` orders.
    """
    if start_ms is None and end_ms is not None:
        start_ms = end_ms - DAY_MS
    if end_ms is None and start_ms is not None:
        end_ms = start_ms + DAY_MS
    lo = start_ms if start_ms is not None else ACCOUNT_START_MS
    hi = min(now_ms, end_ms if end_ms is not None else now_ms)
    if order_id is not None:
        lo = max(lo, _hour_of_id(order_id))
    reverse = order_id is None and start_ms is None
    out: list[dict] = []
    for o in _iter_orders(symbol, seed, lo, hi, reverse):
        if order_id is not None and o["orderId"] < order_id:
            continue
        out.append(o)
        if len(out) >= limit:
            break
    if reverse:
        out.reverse()
    return out


def orders_between(symbol: str, start_ms: int, end_ms: int, seed: int = 0, now_ms: Optional[int] = None) -> list[dict]:
    """Every order with ``start_ms <= time <= end_ms`` (and ``time <= now``), ascending, no limit.

    The reference for tests: what a complete paginated fetch of that window must return.
    """
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    return [dict(o) for o in _iter_orders(symbol, seed, start_ms, min(end_ms, now_ms), False)]
