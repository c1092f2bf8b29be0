"""Tests of orders that change over time: GET /api/v3/openOrders, GET /api/v3/order, the
lifecycle rules of :mod:`binance_emulator.account`, their weights and the server clock, over real
HTTP with python-binance."""

from __future__ import annotations

from typing import Callable

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from binance_emulator import account
from binance_emulator.process import EmulatorProcess
from binance_emulator.tests.test_emulator_orders import KEY, ORDER_FIELDS, SECRET, day_ago, now_ms, signed_get

SYMBOL = "BTCUSDT"
PAIRS = ("BTCUSDT", "BTCUSDC", "BTCFDUSD", "BTCUSD")
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
FINAL = {"FILLED", "CANCELED", "EXPIRED", "REJECTED"}


def client(url: str, offset_ms: int = 0) -> Client:
    """python-binance against the emulator; ``offset_ms`` follows a skewed server clock."""
    c = Client(KEY, SECRET, ping=False)
    c.API_URL = url + "/api"
    c.timestamp_offset = offset_ms
    return c


def as_of_server(fetch: Callable[[], object], expected: Callable[[int], object]) -> tuple[object, object]:
    """``(got, expected)`` with the expectation computed at the server's time of the request.

    The emulator's clock is this host's; an order may change state between the clock read and
    the request, so a request that straddles a change is tried again (at most 3 times).
    """
    for _attempt in range(3):
        before = now_ms()
        got = fetch()
        after = now_ms()
        want = expected(before)
        if want == expected(after):
            break
    return got, want


def open_order_settling_soon(symbol: str = SYMBOL) -> dict:
    """An order open now that settles between 2 s and 4 days from now (the earliest one)."""
    now = now_ms()
    candidates = [o for o in account.open_orders(symbol, 0, now)
                  if account.settles_at(symbol, o["orderId"], 0) > now + 2_000]
    return min(candidates, key=lambda o: account.settles_at(symbol, o["orderId"], 0))


# ---- the lifecycle rules (pure functions tests rely on) -----------------------------------------


def test_lifecycle_rules() -> None:
    """Every order of a busy day: open until ``settles_at``, final and frozen after, never an
    updateTime in the future, executedQty only grows, FILLED means all of it."""
    day = day_ago(5)
    orders = account.orders_between(SYMBOL, day, day + DAY - 1, seed=0)
    grew = 0
    for o in orders:
        oid, t = o["orderId"], o["time"]
        settle = account.settles_at(SYMBOL, oid, 0)
        assert t <= settle <= t + account.MAX_OPEN_MS
        assert account.order_state(SYMBOL, oid, 0, t - 1) is None, "not placed yet: -2013"
        moments = sorted({t, (t + settle) // 2, max(t, settle - 1), settle, settle + DAY})
        states = [account.order_state(SYMBOL, oid, 0, m) for m in moments]
        executed = [float(s["executedQty"]) for s in states]
        assert executed == sorted(executed) and executed[-1] <= float(o["origQty"])
        grew += len(set(executed[:-1])) > 1
        for m, s in zip(moments, states):
            assert list(s) == ORDER_FIELDS
            assert s["time"] == t and t <= s["updateTime"] <= m
            assert (s["status"] in FINAL) == (m >= settle), (s, m, settle)
            if s["status"] == "FILLED":
                assert s["executedQty"] == s["origQty"]
            if s["status"] == "PENDING_NEW" or (s["type"] in ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
                                               and s["status"] == "NEW"):
                assert (s["isWorking"], s["workingTime"]) == (False, -1)
        assert states[-1] == account.order_state(SYMBOL, oid, 0, settle + 3 * account.MAX_OPEN_MS)
        assert states[-1]["updateTime"] == settle
    assert grew > 10, "some PARTIALLY_FILLED orders fill more before they settle"


def test_status_mix_at_export_time_and_a_day_later() -> None:
    """Exported 5 minutes after their hour, many orders are still open; a day later almost none."""
    day = day_ago(3)
    at_export: list[str] = []
    next_day: list[str] = []
    for hour in range(day, day + DAY, HOUR):
        orders = [o["orderId"] for o in account.orders_between(SYMBOL, hour, hour + HOUR - 1, 0)]
        at_export += [account.order_state(SYMBOL, oid, 0, hour + HOUR + 5 * MINUTE)["status"] for oid in orders]
        next_day += [account.order_state(SYMBOL, oid, 0, hour + HOUR + DAY)["status"] for oid in orders]
    open_share = sum(s in account.OPEN_STATUSES for s in at_export) / len(at_export)
    assert 0.10 <= open_share <= 0.25, open_share
    assert {"NEW", "PARTIALLY_FILLED", "PENDING_NEW"} <= set(at_export)
    assert sum(s in account.OPEN_STATUSES for s in next_day) / len(next_day) < 0.04
    old = account.orders_between(SYMBOL, day - 5 * DAY, day - 4 * DAY)
    assert all(o["status"] in FINAL for o in old), "nothing stays open longer than MAX_OPEN_MS"


# ---- GET /api/v3/openOrders ---------------------------------------------------------------------


def test_open_orders_for_one_symbol(fresh: EmulatorProcess) -> None:
    got, want = as_of_server(lambda: client(fresh.url).get_open_orders(symbol=SYMBOL),
                             lambda now: account.open_orders(SYMBOL, 0, now))
    assert got == want and len(got) > 5
    assert {o["status"] for o in got} <= set(account.OPEN_STATUSES)
    assert [o["orderId"] for o in got] == sorted(o["orderId"] for o in got)
    assert all(list(o) == ORDER_FIELDS and o["symbol"] == SYMBOL for o in got)
    assert min(o["time"] for o in got) >= now_ms() - account.MAX_OPEN_MS
    fresh.reset()
    r = signed_get(fresh.url, {"symbol": SYMBOL}, path="/api/v3/openOrders")
    assert r.status_code == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == "6"


def test_open_orders_without_symbol_lists_every_pair_at_weight_80(fresh: EmulatorProcess) -> None:
    def expected(now: int) -> list[dict]:
        every = [o for pair in PAIRS for o in account.open_orders(pair, 0, now)]
        return sorted(every, key=lambda o: (o["orderId"], o["symbol"]))

    got, want = as_of_server(lambda: signed_get(fresh.url, {}, path="/api/v3/openOrders").json(), expected)
    assert got == want and {o["symbol"] for o in got} == set(PAIRS)
    fresh.reset()
    r = signed_get(fresh.url, {}, path="/api/v3/openOrders")
    assert r.headers["X-MBX-USED-WEIGHT-1M"] == "80"
    fresh.set_faults([{"kind": "unknown_symbol", "symbol": "BTCUSDC"}])
    assert "BTCUSDC" not in {o["symbol"] for o in signed_get(fresh.url, {}, path="/api/v3/openOrders").json()}


@pytest.mark.parametrize("path", ["/api/v3/openOrders", "/api/v3/order"])
def test_signed_like_all_orders(fresh: EmulatorProcess, path: str) -> None:
    params = {"symbol": SYMBOL, "orderId": 1_000_000}
    cases = [
        (signed_get(fresh.url, params, signature="0" * 64, path=path), 400, -1022),
        (signed_get(fresh.url, params, secret="wrong", path=path), 400, -1022),
        (signed_get(fresh.url, params, key="someoneElse", path=path), 401, -2015),
        (signed_get(fresh.url, params, key=None, path=path), 401, -2014),
        (signed_get(fresh.url, {**params, "timestamp": now_ms() - 10_000}, path=path), 400, -1021),
        (signed_get(fresh.url, {**params, "recvWindow": 60_001}, path=path), 400, -1131),
        (signed_get(fresh.url, {**params, "symbol": "ETHUSDT"}, path=path), 400, -1121),
        (signed_get(fresh.url, {**params, "symbol": "btcusdt"}, path=path), 400, -1100),
    ]
    for resp, status, code in cases:
        assert (resp.status_code, resp.json()["code"]) == (status, code), resp.text
    with pytest.raises(BinanceAPIException) as exc:
        client(fresh.url, offset_ms=-30_000)._get(path.rsplit("/", 1)[1], True, data=params)
    assert exc.value.code == -1021


# ---- GET /api/v3/order --------------------------------------------------------------------------


def test_get_order_by_id_and_client_id(fresh: EmulatorProcess) -> None:
    c = client(fresh.url)
    old = account.orders_between(SYMBOL, now_ms() - 2 * DAY, now_ms() - 2 * DAY + 2 * HOUR)
    for o in old[:3] + old[-3:]:
        assert c.get_order(symbol=SYMBOL, orderId=o["orderId"]) == o
        assert c.get_order(symbol=SYMBOL, origClientOrderId=o["clientOrderId"]) == o
        assert c.get_order(symbol=SYMBOL, orderId=o["orderId"], origClientOrderId=o["clientOrderId"]) == o
    soon = open_order_settling_soon()
    got, want = as_of_server(lambda: c.get_order(symbol=SYMBOL, orderId=soon["orderId"]),
                             lambda now: account.order_state(SYMBOL, soon["orderId"], 0, now))
    assert got == want and got["status"] in account.OPEN_STATUSES
    fresh.reset()
    r = signed_get(fresh.url, {"symbol": SYMBOL, "orderId": old[0]["orderId"]}, path="/api/v3/order")
    assert r.status_code == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == "4"


def test_get_order_errors(fresh: EmulatorProcess) -> None:
    c = client(fresh.url)
    last = account.orders_between(SYMBOL, now_ms() - HOUR, now_ms())[-1]
    hour_first_id = last["orderId"] - (last["orderId"] - account.ORDER_ID_BASE) % account.IDS_PER_HOUR
    unknown = [
        {"orderId": hour_first_id + account.IDS_PER_HOUR - 1},  # beyond the hour's orders
        {"orderId": last["orderId"] + account.IDS_PER_HOUR},  # next hour: not placed yet
        {"orderId": 5},  # before the account's first id
        {"origClientOrderId": "web_nothingOfOurs"},
        {"origClientOrderId": "x-" + last["clientOrderId"][2:-1] + "0"},  # decodes to another id
        {"orderId": last["orderId"], "origClientOrderId": "web_" + last["clientOrderId"][-22:-1] + "z"},
    ]
    for params in unknown:
        with pytest.raises(BinanceAPIException) as exc:
            c.get_order(symbol=SYMBOL, **params)
        error = (exc.value.status_code, exc.value.code, exc.value.message)
        assert error == (400, -2013, "Order does not exist."), params
    r = signed_get(fresh.url, {"symbol": SYMBOL}, path="/api/v3/order")
    assert (r.status_code, r.json()) == (400, {
        "code": -1102, "msg": "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"})
    r = signed_get(fresh.url, {"orderId": last["orderId"]}, path="/api/v3/order")
    assert r.json() == {"code": -1102,
                        "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}
    assert signed_get(fresh.url, {"symbol": SYMBOL, "orderId": "12ab"}, path="/api/v3/order").json()["code"] == -1100


# ---- states follow the server clock -------------------------------------------------------------


def test_an_order_settles_when_the_server_clock_passes_its_moment(fresh: EmulatorProcess) -> None:
    """The same order, asked before and after its settle moment (clock_skew), through order,
    openOrders and allOrders: open, then final, and gone from openOrders."""
    soon = open_order_settling_soon()
    oid, settle = soon["orderId"], account.settles_at(SYMBOL, soon["orderId"], 0)
    window = {"symbol": SYMBOL, "startTime": soon["time"], "endTime": soon["time"]}
    before = client(fresh.url).get_order(symbol=SYMBOL, orderId=oid)
    assert before["status"] in account.OPEN_STATUSES
    assert oid in [o["orderId"] for o in client(fresh.url).get_open_orders(symbol=SYMBOL)]
    assert client(fresh.url).get_all_orders(**window)[0]["status"] == before["status"]

    skew = settle - now_ms() + MINUTE
    fresh.set_faults([], clock_skew_ms=skew)
    c = client(fresh.url, offset_ms=skew)  # signed timestamps follow the server clock
    server_now = c.get_server_time()["serverTime"]
    after = c.get_order(symbol=SYMBOL, orderId=oid)
    assert after == account.order_state(SYMBOL, oid, 0, server_now)
    assert after["status"] in FINAL and after["updateTime"] == settle
    assert after["executedQty"] != before["executedQty"] or after["status"] != "FILLED"
    assert oid not in [o["orderId"] for o in c.get_open_orders(symbol=SYMBOL)]
    assert c.get_all_orders(**window) == [after]
    # and back: the clock decides, nothing is remembered
    fresh.set_faults([], clock_skew_ms=0)
    assert client(fresh.url).get_order(symbol=SYMBOL, orderId=oid)["status"] in account.OPEN_STATUSES


def test_clock_offset_moves_order_states() -> None:
    """``--clock-offset-ms`` of minus a day: the orders of the last day are not placed yet."""
    with EmulatorProcess(api_key=KEY, api_secret=SECRET, clock_offset_ms=-DAY) as emu:
        c = client(emu.url, offset_ms=-DAY)
        server_now = c.get_server_time()["serverTime"]
        assert abs(server_now - (now_ms() - DAY)) < 5_000
        recent = account.orders_between(SYMBOL, now_ms() - HOUR, now_ms())[-1]
        with pytest.raises(BinanceAPIException) as exc:
            c.get_order(symbol=SYMBOL, orderId=recent["orderId"])
        assert exc.value.code == -2013
        got, want = as_of_server(lambda: c.get_all_orders(symbol=SYMBOL, limit=5),
                                 lambda now: account.query(SYMBOL, 0, now - DAY, limit=5))
        assert got == want and got[-1]["time"] <= server_now + 1000


# ---- the weight limit, as advertised ------------------------------------------------------------


def test_weight_limit_is_advertised_and_enforced_for_the_new_endpoints() -> None:
    with EmulatorProcess(api_key=KEY, api_secret=SECRET, weight_limit=110) as emu:
        emu.end_minute_in(50)  # the counters are per minute: the requests below share one
        skew = emu.faults()["clock_skew_ms"]  # each request is stamped with the emulator's clock when sent
        info = requests.get(emu.url + "/api/v3/exchangeInfo", timeout=10)
        limits = [x for x in info.json()["rateLimits"] if x["rateLimitType"] == "REQUEST_WEIGHT"]
        assert limits == [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 110}]
        order_id = account.orders_between(SYMBOL, now_ms() - DAY, now_ms())[0]["orderId"]
        one_order = {"symbol": SYMBOL, "orderId": order_id}
        steps = [
            (signed_get(emu.url, {}, path="/api/v3/openOrders", offset_ms=skew), 200, "100"),
            (signed_get(emu.url, {"symbol": SYMBOL}, path="/api/v3/openOrders", offset_ms=skew), 200, "106"),
            (signed_get(emu.url, one_order, path="/api/v3/order", offset_ms=skew), 200, "110"),
            (signed_get(emu.url, one_order, path="/api/v3/order", offset_ms=skew), 429, "110"),
        ]
        assert info.headers["X-MBX-USED-WEIGHT-1M"] == "20"
        for resp, status, used in steps:
            assert (resp.status_code, resp.headers["X-MBX-USED-WEIGHT-1M"]) == (status, used)
        assert "current limit is 110 request weight per 1 MINUTE" in steps[-1][0].json()["msg"]
