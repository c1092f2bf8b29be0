"""A deterministic trading account: the orders of GET /api/v3/allOrders, openOrders and order.

Orders are a pure function of ``(seed, symbol, hour)``, generated one UTC hour at a time, and
an order's *state* (status, executedQty, cummulativeQuoteQty, updateTime, isWorking,
workingTime) is a pure function of the order and the server clock ``now``. Any query (by orderId,
by time window, most recent, open orders, one order) sees the same orders in the same state.

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
* ``clientOrderId`` is ``web_`` or ``x-`` then 22 letters and digits whose last 8 are the orderId
  in base 62, so ``GET /api/v3/order?origClientOrderId=`` finds any order.
* The types LIMIT, MARKET, LIMIT_MAKER, STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT, both sides;
  executedQty <= origQty; prices follow the candles of :mod:`binance_emulator.market`.

**Lifecycle** (each order's own seeded draws, :func:`settles_at`, :func:`order_state`):

* An order is placed at ``time`` and reaches its final status (FILLED, CANCELED, EXPIRED or
  REJECTED) at ``settles_at``; from then on it never changes. Before that it is *open*: NEW,
  PARTIALLY_FILLED or PENDING_NEW, and openOrders lists it.
* The status drawn at placement (:data:`_PLACED`): REJECTED 6 %, FILLED 24 %, CANCELED 12 %,
  EXPIRED 5 %, NEW 27 %, PARTIALLY_FILLED 23 %, PENDING_NEW 3 %.
* REJECTED orders are final at once (``settles_at == time``).
* *Quick* orders (drawn FILLED, CANCELED or EXPIRED, and every MARKET, IOC or FOK order drawn
  open, which becomes FILLED) settle 1 ms..10 min after placement (MARKET: 1..50 ms); until
  then they are NEW with nothing executed.
* *Resting* orders (drawn NEW, PARTIALLY_FILLED -- part filled at once -- or PENDING_NEW) settle
  after a delay drawn log-uniformly from 1 minute to 8 hours, or (one resting order in 20)
  uniformly from 1 to 4 days (:data:`MAX_OPEN_MS`), into FILLED (executedQty = origQty),
  CANCELED or EXPIRED (executedQty as filled so far). Half of the PARTIALLY_FILLED ones fill
  more first, at a moment between 20 % and 80 % of the delay (``updateTime`` moves there).
* ``updateTime`` is the last change at or before now (``time`` while nothing happened yet), so it
  never lies in the future. Stop orders (STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT) and PENDING_NEW
  orders are not working (``isWorking`` false, ``workingTime`` -1) until they trigger: at once
  for a PARTIALLY_FILLED placement, else when they settle having filled; other orders work from
  ``time``; REJECTED orders never do (``workingTime`` stays ``time``, as before).
* Hence the mix seen by an export 5 minutes after an order's hour: about 16 % still open (NEW
  ~9 %, PARTIALLY_FILLED ~6 %, PENDING_NEW ~1 %), the rest final (FILLED ~55 %, CANCELED ~17 %,
  EXPIRED ~7 %, REJECTED ~6 %); an hour later ~10 % are open, a day later ~2 %, after
  :data:`MAX_OPEN_MS` none.

Field set: the 20 fields Binance documents for allOrders (symbol ... selfTradePreventionMode), in
Binance's order; openOrders and order answer the same objects. The conditional fields of
Binance's order responses (trailingDelta, strategyId, preventedMatchId, usedSor, workingFloor,
pegPriceType, expiryReason...) belong to orders using those features, which this account never
places, so they never appear.
"""

from __future__ import annotations

import functools
import math
import random
import time
from dataclasses import dataclass
from typing import Iterator, Optional

from binance_emulator import market

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
ACCOUNT_START_MS = 1_577_836_800_000  # 2020-01-01 00:00 UTC
BUSY_HOUR_UTC = 13
ORDER_ID_BASE = 1_000_000
IDS_PER_HOUR = 4_000
MAX_OPEN_MS = 4 * DAY_MS
"""No order stays open longer: openOrders only looks this far back."""
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED", "PENDING_NEW")
"""Statuses that can still change (what openOrders lists)."""

_PLACED = [  # status drawn at placement; the open ones are the resting orders
    ("REJECTED", 6),
    ("FILLED", 24),
    ("CANCELED", 12),
    ("EXPIRED", 5),
    ("NEW", 27),
    ("PARTIALLY_FILLED", 23),
    ("PENDING_NEW", 3),
]
_SETTLED = {  # final status of a resting order, by its placement status
    "NEW": [("FILLED", 55), ("CANCELED", 35), ("EXPIRED", 10)],
    "PARTIALLY_FILLED": [("FILLED", 60), ("CANCELED", 30), ("EXPIRED", 10)],
    "PENDING_NEW": [("FILLED", 50), ("CANCELED", 50)],
}
_TYPES = [
    ("LIMIT", 50),
    ("MARKET", 20),
    ("LIMIT_MAKER", 10),
    ("STOP_LOSS_LIMIT", 10),
    ("TAKE_PROFIT_LIMIT", 10),
]
_STOP_TYPES = ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_CHARS = 8  # the clientOrderId's tail: the orderId in base 62


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


def _base62(n: int) -> str:
    out = ""
    for _ in range(_ID_CHARS):
        n, r = divmod(n, 62)
        out = _ALPHABET[r] + out
    return out


def id_of_client_id(client_order_id: str) -> Optional[int]:
    """The orderId a clientOrderId of this account encodes (its last 8 characters), or None."""
    tail = client_order_id[-_ID_CHARS:]
    if len(tail) < _ID_CHARS or any(c not in _ALPHABET for c in tail):
        return None
    n = 0
    for c in tail:
        n = n * 62 + _ALPHABET.index(c)
    return n


@dataclass(frozen=True)
class _Order:
    """One order's placement and its whole lifecycle (see the module docstring)."""

    fixed: dict  # the fields that never change, Binance's field names
    opening: str  # status while open
    final: str
    settles_at: int
    executed: tuple[float, float, float]  # at placement, after the extra fill, once final
    grows_at: Optional[int]  # the extra fill of a PARTIALLY_FILLED order, if any
    works_from: Optional[int]  # when it starts working (None: never)
    fill_price: float

    def state(self, now_ms: int) -> dict:
        """The order as Binance reports it at ``now_ms`` (>= its time): the 20 fields, in order."""
        t = self.fixed["time"]
        if now_ms >= self.settles_at:
            status, executed, update = self.final, self.executed[2], self.settles_at
        elif self.grows_at is not None and now_ms >= self.grows_at:
            status, executed, update = "PARTIALLY_FILLED", self.executed[1], self.grows_at
        else:
            status, executed, update = self.opening, self.executed[0], t
        working = self.works_from is not None and now_ms >= self.works_from
        f = self.fixed
        return {
            "symbol": f["symbol"], "orderId": f["orderId"], "orderListId": -1,
            "clientOrderId": f["clientOrderId"], "price": f["price"], "origQty": f["origQty"],
            "executedQty": _fmt8(executed), "cummulativeQuoteQty": _fmt8(round(executed * self.fill_price, 8)),
            "status": status, "timeInForce": f["timeInForce"], "type": f["type"], "side": f["side"],
            "stopPrice": f["stopPrice"], "icebergQty": _fmt8(0.0), "time": t, "updateTime": update,
            "isWorking": working and status != "REJECTED",
            "workingTime": self.works_from if working else (t if status == "REJECTED" else -1),
            "origQuoteOrderQty": _fmt8(0.0), "selfTradePreventionMode": "EXPIRE_MAKER",
        }


@functools.lru_cache(maxsize=1024)
def _hour(symbol: str, hour_ms: int, seed: int) -> tuple[_Order, ...]:
    """All orders of one hour (ignoring now), ascending by orderId and time."""
    n = order_count(symbol, hour_ms, seed)
    if n == 0:
        return ()
    rng = random.Random(f"orders:{seed}:{symbol}:{hour_ms}")
    offsets = sorted(rng.sample(range(HOUR_MS), n))
    first_id = ORDER_ID_BASE + (hour_ms - ACCOUNT_START_MS) // HOUR_MS * IDS_PER_HOUR
    return tuple(_order(rng, symbol, seed, first_id + k, hour_ms + off) for k, off in enumerate(offsets))


def _resting_ms(rng: random.Random) -> int:
    """How long a resting order stays open: 1 min..8 h log-uniform, or (1 in 20) 1..4 days."""
    if rng.random() < 0.05:
        return rng.randrange(DAY_MS, MAX_OPEN_MS)
    return int(math.exp(rng.uniform(math.log(60_000), math.log(8 * HOUR_MS))))


def _order(rng: random.Random, symbol: str, seed: int, order_id: int, t: int) -> _Order:
    """Draw one order placed at ``t`` and its lifecycle."""
    otype = _pick(rng, _TYPES)
    side = "BUY" if rng.random() < 0.5 else "SELL"
    tif = rng.choice(["GTC", "GTC", "GTC", "IOC", "FOK"]) if otype == "LIMIT" else "GTC"
    placed = _pick(rng, _PLACED)
    if placed in OPEN_STATUSES and (otype == "MARKET" or tif != "GTC"):
        placed = "FILLED"  # market, IOC and FOK orders never rest on the book
    mkt = market.price_cents(symbol, t, seed) / 100.0
    qty = round(rng.choice([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0]) * rng.uniform(1, 3), 5)
    away = rng.uniform(0.0005, 0.02)
    price = 0.0 if otype == "MARKET" else round(mkt * (1 - away if side == "BUY" else 1 + away), 2)
    stop = round(price * (1.001 if side == "BUY" else 0.999), 2) if otype in _STOP_TYPES else 0.0
    grows_at = None
    if placed in OPEN_STATUSES:
        delay = _resting_ms(rng)
        final = _pick(rng, _SETTLED[placed])
        first = round(qty * rng.uniform(0.1, 0.6), 5) if placed == "PARTIALLY_FILLED" else 0.0
        more = first
        if placed == "PARTIALLY_FILLED" and rng.random() < 0.5:
            grows_at = t + max(1, int(delay * rng.uniform(0.2, 0.8)))
            more = round(first + (qty - first) * rng.uniform(0.2, 0.8), 5)
        opening = placed
    else:
        delay = 0 if placed == "REJECTED" else rng.randrange(1, 50 if otype == "MARKET" else 600_000)
        final, opening = placed, "NEW"
        partial = final in ("CANCELED", "EXPIRED") and rng.random() < 0.3
        first, more = 0.0, round(qty * rng.uniform(0.1, 0.9), 5) if partial else 0.0
    settles_at = t + delay
    done = qty if final == "FILLED" else more
    if placed == "PENDING_NEW" or otype in _STOP_TYPES:  # not working until triggered
        works_from = t if placed == "PARTIALLY_FILLED" else settles_at if done > 0 else None
    else:
        works_from = t
    client_id = "".join(rng.choice(_ALPHABET) for _ in range(22 - _ID_CHARS)) + _base62(order_id)
    fixed = {
        "symbol": symbol,
        "orderId": order_id,
        "clientOrderId": ("web_" if rng.random() < 0.5 else "x-") + client_id,
        "price": _fmt8(price),
        "origQty": _fmt8(qty),
        "timeInForce": tif,
        "type": otype,
        "side": side,
        "stopPrice": _fmt8(stop),
        "time": t,
    }
    return _Order(fixed, opening, final, settles_at, (first, more, done), grows_at, works_from,
                  mkt if otype == "MARKET" else price)


def _find(symbol: str, order_id: int, seed: int) -> Optional[_Order]:
    """The order with that id, placed or not yet, or None if there is none."""
    if order_id < ORDER_ID_BASE:
        return None
    k = (order_id - ORDER_ID_BASE) % IDS_PER_HOUR
    orders = _hour(symbol, _hour_of_id(order_id), seed)
    return orders[k] if k < len(orders) else None


def settles_at(symbol: str, order_id: int, seed: int = 0) -> Optional[int]:
    """When the order reaches its final status (ms; its final ``updateTime``), or None if there is
    no such order. Before that moment it is open (NEW, PARTIALLY_FILLED or PENDING_NEW)."""
    order = _find(symbol, order_id, seed)
    return order.settles_at if order else None


def order_state(symbol: str, order_id: int, seed: int = 0, now_ms: Optional[int] = None) -> Optional[dict]:
    """The order as ``GET /api/v3/order`` answers at ``now_ms`` (default: the host clock), or None
    when there is no such order yet (Binance's -2013 "Order does not exist.")."""
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    if _hour_of_id(order_id) > now_ms:  # its hour has not begun: nothing to generate
        return None
    order = _find(symbol, order_id, seed)
    return order.state(now_ms) if order and order.fixed["time"] <= now_ms else None


def open_orders(symbol: str, seed: int, now_ms: int) -> list[dict]:
    """GET /api/v3/openOrders for one symbol: the orders open at ``now_ms``, ascending by orderId."""
    return [o.state(now_ms) for o in _iter_orders(symbol, seed, now_ms - MAX_OPEN_MS, now_ms, False)
            if o.settles_at > now_ms]


def _hour_of_id(order_id: int) -> int:
    return ACCOUNT_START_MS + max(0, order_id - ORDER_ID_BASE) // IDS_PER_HOUR * HOUR_MS


def _iter_orders(symbol: str, seed: int, lo_ms: int, hi_ms: int, reverse: bool) -> Iterator[_Order]:
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
            if lo_ms <= o.fixed["time"] <= hi_ms:
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
    """GET /api/v3/allOrders selection (parameters already validated), ascending by orderId,
    each order in its state at ``now_ms``.

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
        if order_id is not None and o.fixed["orderId"] < order_id:
            continue
        out.append(o.state(now_ms))
        if len(out) >= limit:
            break
    if reverse:
        out.reverse()
    return out


def orders_between(symbol: str, start_ms: int, end_ms: int, seed: int = 0, now_ms: Optional[int] = None) -> list[dict]:
    """Every order with ``start_ms <= time <= end_ms`` (and ``time <= now``), ascending, no limit,
    in its state at ``now_ms`` (default: the host clock; pass the server's when it is skewed).

    The reference for tests: what a complete paginated fetch of that window must return.
    """
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    return [o.state(now_ms) for o in _iter_orders(symbol, seed, start_ms, min(end_ms, now_ms), False)]
