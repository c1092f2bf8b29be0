"""Tests of the emulator's signed GET /api/v3/allOrders, over real HTTP with real clients."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Optional
from urllib.parse import urlencode

import ccxt
import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from binance_emulator import account
from binance_emulator.process import EmulatorProcess

KEY = ("emulatorKey123" * 5)[:64]  # Binance keys are 64 letters and digits
SECRET = "emulatorSecret456"
SYMBOL = "BTCUSDT"
HOUR = 3_600_000
DAY = 86_400_000
ORDER_FIELDS = [
    "symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty", "executedQty",
    "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "stopPrice", "icebergQty", "time",
    "updateTime", "isWorking", "workingTime", "origQuoteOrderQty", "selfTradePreventionMode",
]


def now_ms() -> int:
    return int(time.time() * 1000)


def today_ms() -> int:
    """00:00 UTC today (ms), from one reading of the clock."""
    now = now_ms()
    return now - now % DAY


def day_ago(days: int) -> int:
    """00:00 UTC of ``days`` days before today (ms)."""
    return today_ms() - days * DAY


def signed_get(url: str, params: dict, key: Optional[str] = KEY, secret: str = SECRET,
               signature: Optional[str] = None, path: str = "/api/v3/allOrders",
               offset_ms: int = 0) -> requests.Response:
    """GET a signed endpoint (allOrders by default) as Binance documents (HMAC-SHA256 of the query),
    stamped when sent with the server's clock (ours plus ``offset_ms``, for a skewed emulator)."""
    params = dict(params)
    params.setdefault("timestamp", now_ms() + offset_ms)
    query = urlencode(params)
    sig = signature or hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    headers = {"X-MBX-APIKEY": key} if key is not None else {}
    return requests.get(f"{url}{path}?{query}&signature={sig}", headers=headers, timeout=30)


def python_binance(url: str) -> Client:
    client = Client(KEY, SECRET, ping=False)
    client.API_URL = url + "/api"
    return client


def test_python_binance_get_all_orders(emulator: EmulatorProcess) -> None:
    client = python_binance(emulator.url)
    start = today_ms() - DAY + 2 * HOUR
    orders = client.get_all_orders(symbol=SYMBOL, startTime=start, endTime=start + 3 * HOUR - 1, limit=1000)
    assert orders == account.orders_between(SYMBOL, start, start + 3 * HOUR - 1, seed=0)
    assert 30 <= len(orders) <= 90
    for o in orders:
        assert list(o) == ORDER_FIELDS
        assert float(o["executedQty"]) <= float(o["origQty"])
        assert start <= o["time"] <= o["updateTime"]
    recent = client.get_all_orders(symbol=SYMBOL, limit=7)
    assert len(recent) == 7 and recent[-1]["time"] <= now_ms()
    assert recent == account.orders_between(SYMBOL, recent[0]["time"], now_ms(), seed=0)[:7]


def test_order_variety_and_ids(emulator: EmulatorProcess) -> None:
    day = today_ms() - 2 * DAY
    orders = account.orders_between(SYMBOL, day, day + DAY - 1, seed=0)
    final = {"FILLED", "CANCELED", "EXPIRED", "REJECTED"}
    assert final <= {o["status"] for o in orders} <= final | set(account.OPEN_STATUSES)
    exported = account.orders_between(SYMBOL, day, day + DAY - 1, seed=0, now_ms=day + DAY + 5 * 60_000)
    assert {o["status"] for o in exported} == final | set(account.OPEN_STATUSES)
    assert {o["type"] for o in orders} == {"LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"}
    assert {o["side"] for o in orders} == {"BUY", "SELL"}
    ids = [o["orderId"] for o in orders]
    times = [o["time"] for o in orders]
    assert ids == sorted(set(ids)) and times == sorted(set(times))
    for o in orders:
        price = float(o["price"])
        assert o["type"] == "MARKET" and price == 0 or 10_000 < price < 1_000_000
        if o["status"] == "FILLED":
            assert o["executedQty"] == o["origQty"]


def test_ccxt_fetch_orders(emulator: EmulatorProcess) -> None:
    exchange = ccxt.binance({
        "apiKey": KEY,
        "secret": SECRET,
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
    })
    api = dict(exchange.urls["api"])
    for name in api:  # nothing may reach the real hosts
        api[name] = emulator.url + "/unreachable/" + name
    api.update(public=emulator.url + "/api/v3", private=emulator.url + "/api/v3", v1=emulator.url + "/api/v1")
    exchange.urls["api"] = api
    exchange.load_markets()
    assert "BTC/USDT" in exchange.markets and "BTC/USD" in exchange.markets
    since = today_ms() - DAY + 5 * HOUR
    orders = exchange.fetch_orders("BTC/USDT", since=since, limit=50, params={"until": since + HOUR - 1})
    expected = account.orders_between(SYMBOL, since, since + HOUR - 1, seed=0)
    assert [o["id"] for o in orders] == [str(o["orderId"]) for o in expected]
    assert all(o["symbol"] == "BTC/USDT" for o in orders)
    assert {o["info"]["orderId"] for o in orders} == {o["orderId"] for o in expected}


def test_signature_and_key_errors(emulator: EmulatorProcess) -> None:
    url = emulator.url
    ok = signed_get(url, {"symbol": SYMBOL, "limit": 1})
    assert ok.status_code == 200 and len(ok.json()) == 1
    cases = [
        (signed_get(url, {"symbol": SYMBOL}, signature="0" * 64), 400, -1022,
         "Signature for this request is not valid."),
        (signed_get(url, {"symbol": SYMBOL}, secret="wrong"), 400, -1022, "Signature for this request is not valid."),
        (signed_get(url, {"symbol": SYMBOL}, key="someoneElse"), 401, -2015,
         "Invalid API-key, IP, or permissions for action."),
        (signed_get(url, {"symbol": SYMBOL}, key=None), 401, -2014, "API-key format invalid."),
        (signed_get(url, {"symbol": SYMBOL, "timestamp": now_ms() - 10_000}), 400, -1021,
         "Timestamp for this request is outside of the recvWindow."),
        (signed_get(url, {"symbol": SYMBOL, "timestamp": now_ms() + 5_000}), 400, -1021,
         "Timestamp for this request is outside of the recvWindow."),
        (signed_get(url, {"symbol": SYMBOL, "recvWindow": 60_001}), 400, -1131, "recvWindow must be less than 60000"),
        (signed_get(url, {}), 400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
        (signed_get(url, {"symbol": "ETHUSDT"}), 400, -1121, "Invalid symbol."),
        (signed_get(url, {"symbol": SYMBOL, "startTime": now_ms() - DAY - 1, "endTime": now_ms()}), 400, -1127,
         "More than 24 hours between startTime and endTime."),
        (signed_get(url, {"symbol": SYMBOL, "limit": 1001}), 400, -1130,
         "Data sent for parameter 'limit' is not valid."),
    ]
    for resp, status, code, msg in cases:
        assert (resp.status_code, resp.json()) == (status, {"code": code, "msg": msg})
    # a stale timestamp is accepted inside a larger recvWindow
    assert signed_get(url, {"symbol": SYMBOL, "limit": 1, "timestamp": now_ms() - 10_000,
                            "recvWindow": 20_000}).status_code == 200
    assert int(ok.headers["X-MBX-USED-WEIGHT-1M"]) >= 20


def test_python_binance_errors(emulator: EmulatorProcess) -> None:
    client = Client("wrongKey", SECRET, ping=False)
    client.API_URL = emulator.url + "/api"
    with pytest.raises(BinanceAPIException) as exc:
        client.get_all_orders(symbol=SYMBOL)
    assert (exc.value.status_code, exc.value.code) == (401, -2015)
    client = python_binance(emulator.url)
    client.timestamp_offset = -30_000  # python-binance sends recvWindow=10000
    with pytest.raises(BinanceAPIException) as exc:
        client.get_all_orders(symbol=SYMBOL)
    assert exc.value.code == -1021


def test_no_credentials_configured() -> None:
    with EmulatorProcess() as emu:
        r = signed_get(emu.url, {"symbol": SYMBOL})
        assert (r.status_code, r.json()["code"]) == (401, -2015)


def test_busy_hour_pages_by_order_id(emulator: EmulatorProcess) -> None:
    busy = account.busy_hour(today_ms() - DAY)
    expected = account.orders_between(SYMBOL, busy, busy + HOUR - 1, seed=0)
    assert len(expected) > 1000
    client = python_binance(emulator.url)
    got: list[dict] = []
    params = {"symbol": SYMBOL, "startTime": busy, "endTime": busy + HOUR - 1, "limit": 1000}
    while True:
        page = client.get_all_orders(**params)
        got.extend(page)
        if len(page) < 1000:
            break
        params["orderId"] = page[-1]["orderId"] + 1
    ids = [o["orderId"] for o in got]
    assert len(ids) == len(set(ids)) == len(expected)
    assert got == expected
    # orderId alone: ids >= it, ascending
    from_id = signed_get(emulator.url, {"symbol": SYMBOL, "orderId": ids[500], "limit": 10}).json()
    assert [o["orderId"] for o in from_id] == ids[500:510]
