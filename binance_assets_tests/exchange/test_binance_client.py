"""``BinanceResource`` called directly against a real emulator process over HTTP.

The weight limit Binance advertises, the deadline of a whole request, a pair that stopped
trading, the signed endpoints (orders that settle) and python-binance's requests reaching any
base URL and Binance's clock. No Dagster run: the resource is built and called as the assets do.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import requests

from binance_assets.binance.client import (
    BinanceCredentialsMissing,
    BinanceError,
    BinanceResource,
)
from binance_assets.binance.transport import BinanceAuth
from binance_emulator.process import EmulatorProcess

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SYMBOL = "BTCUSDT"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MARCH = int(datetime(2025, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)
FINAL = {"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"}
OPEN = {"NEW", "PARTIALLY_FILLED", "PENDING_NEW"}


@pytest.fixture(autouse=True)
def no_weight_limit_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resource's default comes from BINANCE_WEIGHT_LIMIT: tests start without it."""
    monkeypatch.delenv("BINANCE_WEIGHT_LIMIT", raising=False)


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(api_key=KEY, api_secret=SECRET) as process:
        yield process


@pytest.fixture
def emulator(shared_emulator: EmulatorProcess) -> EmulatorProcess:
    """The module's emulator with clean stats, weights and faults."""
    shared_emulator.reset()
    return shared_emulator


def resource(emulator: EmulatorProcess, **options) -> BinanceResource:
    """The resource as a run builds it, with fast retries (first backoff 50 ms, deadline 1 s)."""
    settings = {"backoff_seconds": 0.05, "timeout_seconds": 1.0, **options}
    return BinanceResource(api_url=emulator.url, api_key=KEY, api_secret=SECRET, **settings)


def used_minutes(emulator: EmulatorProcess) -> list[int]:
    return [minute["weight"] for minute in emulator.stats()["weight_per_minute"] if minute["weight"]]


# ---- the weight limit ---------------------------------------------------------------------------


def test_weight_limit_is_the_one_exchange_info_advertises(caplog: pytest.LogCaptureFixture) -> None:
    """An exchange that allows 300 a minute (binance.us allows 1,200, where the resource, assuming
    6,000, peaked at 1,181 and got a 429): with no limit configured, 6 days of orders (18 requests
    of weight 20: 380 weight with exchangeInfo) pause at 80 % of 300. The budget is reached after
    ≈ 1 s of requests, well inside the 5 s left of the emulator's minute (63 requests against 1,200
    needed 3.7 s, and a loaded machine ran past the minute before reaching the budget)."""
    caplog.set_level(logging.INFO)
    with EmulatorProcess(api_key=KEY, api_secret=SECRET, weight_limit=300) as emulator:
        emulator.end_minute_in(5)
        binance = resource(emulator)
        binance.require_trading(SYMBOL, MARCH, MARCH + 6 * DAY_MS)
        pages = list(binance.all_orders(SYMBOL, MARCH, MARCH + 6 * DAY_MS))
        stats, minutes = emulator.stats(), used_minutes(emulator)

    assert len(pages) == 18
    assert stats["status_429"] == 0
    assert max(minutes) <= 240 and sum(minutes) == 20 + 18 * 20
    assert stats["requests"]["/api/v3/exchangeInfo"] == 1, "asked once per run, by require_trading"
    assert binance.stats.as_metadata()["binance_weight_limit_1m"] == 300
    assert binance.stats.as_metadata()["binance_weight_limit_from"] == "exchangeInfo"
    assert "reached the budget 240/min (limit 300 from exchangeInfo); pausing" in caplog.text


@pytest.mark.parametrize("variable, config, expected", [("100", None, 100), ("100", 40, 40)])
def test_configured_limit_wins(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, variable: str, config: int | None, expected: int
) -> None:
    """BINANCE_WEIGHT_LIMIT overrides exchangeInfo's 6,000, and run config overrides both; a
    configured limit needs no exchangeInfo, and the throttle keeps to it."""
    monkeypatch.setenv("BINANCE_WEIGHT_LIMIT", variable)
    emulator.end_minute_in(3)
    binance = resource(emulator, **({} if config is None else {"weight_limit": config}))
    assert binance.weight_limit == expected

    for _ in range(expected * 8 // 10 // 6 + 1):  # openOrders weighs 6: one call over the budget
        binance.open_orders(SYMBOL)

    assert "/api/v3/exchangeInfo" not in emulator.stats()["requests"]
    assert emulator.stats()["status_429"] == 0
    assert max(used_minutes(emulator)) <= expected * 0.8 and len(used_minutes(emulator)) == 2
    assert binance.stats.as_metadata()["binance_weight_limit_1m"] == expected
    assert binance.stats.as_metadata()["binance_weight_limit_from"] == "config"


def test_a_429_still_waits_retry_after(emulator: EmulatorProcess) -> None:
    emulator.set_faults([{"kind": "429", "path": "/api/v3/klines", "count": 1, "retry_after": 1}])
    binance = resource(emulator)
    started = time.monotonic()
    rows = [row for page in binance.klines(SYMBOL, MARCH, MARCH + HOUR_MS) for row in page.rows]
    assert len(rows) == 60 and binance.stats.retries == 1
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop"},
        {"kind": "truncate"},
        {"kind": "html", "status": 200},
        {"kind": "5xx", "status": 502, "body": "html"},
        {"kind": "5xx", "status": 503},
    ],
    ids=lambda fault: f"{fault['kind']}-{fault.get('status', '')}",
)
def test_transient_failures_are_retried(emulator: EmulatorProcess, fault: dict) -> None:
    emulator.set_faults([{**fault, "path": "/api/v3/klines", "count": 1}])
    binance = resource(emulator)
    assert sum(len(page.rows) for page in binance.klines(SYMBOL, MARCH, MARCH + HOUR_MS)) == 60
    assert binance.stats.retries == 1 and emulator.faults()["faults"] == []


def test_a_ban_stops_at_once_with_its_end(emulator: EmulatorProcess) -> None:
    emulator.set_faults([{"kind": "418", "path": "/api/v3/klines", "retry_after": 300}])
    with pytest.raises(BinanceError, match=r"banned until .* \(Retry-After 300s\)"):
        list(resource(emulator, backoff_seconds=5).klines(SYMBOL, MARCH, MARCH + HOUR_MS))
    assert emulator.stats()["requests"]["/api/v3/klines"] == 1


# ---- deadlines ----------------------------------------------------------------------------------


def test_a_trickled_body_is_abandoned_at_its_deadline_and_retried(
    emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """An hour of klines (~10 KB) sent at 100 B/s would take 100 s, each read well inside
    a per-read timeout; the whole request has 1 s."""
    binance = resource(emulator)
    binance.require_trading(SYMBOL, MARCH, MARCH + HOUR_MS)
    emulator.set_faults([{"kind": "trickle", "path": "/api/v3/klines", "count": 1, "rate": 100}])

    started = time.monotonic()
    rows = [row for page in binance.klines(SYMBOL, MARCH, MARCH + HOUR_MS) for row in page.rows]
    elapsed = time.monotonic() - started

    assert len(rows) == 60
    assert 1.0 <= elapsed < 2.0, elapsed
    assert binance.stats.retries == 1 and emulator.stats()["requests"]["/api/v3/klines"] == 2
    (warning,) = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert "/api/v3/klines abandoned after 1.0s" in warning and "attempt 1/6" in warning


def test_deadlines_share_the_attempt_budget(emulator: EmulatorProcess) -> None:
    """A body that always trickles fails after max_attempts deadlines, naming the cause."""
    emulator.set_faults([{"kind": "trickle", "path": "/api/v3/klines", "rate": 100}])
    binance = resource(emulator, max_attempts=2, timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(BinanceError, match="failed 2 times; last cause: DeadlineExceeded"):
        list(binance.klines(SYMBOL, MARCH, MARCH + HOUR_MS))
    assert time.monotonic() - started < 1.0 + 1.0  # two deadlines of 0.5 s and the backoff


def test_a_server_that_answers_late_is_bounded_by_the_same_deadline(emulator: EmulatorProcess) -> None:
    """Before the headers: connect and the wait for the answer share the deadline too."""
    binance = resource(emulator, timeout_seconds=0.5)
    binance.require_trading(SYMBOL, MARCH, MARCH + HOUR_MS)
    emulator.set_faults([{"kind": "slow", "path": "/api/v3/klines", "count": 1, "seconds": 3}])
    started = time.monotonic()
    assert sum(len(page.rows) for page in binance.klines(SYMBOL, MARCH, MARCH + HOUR_MS)) == 60
    assert time.monotonic() - started < 1.5 and binance.stats.retries == 1


# ---- a pair that stopped trading ----------------------------------------------------------------


def test_a_pair_on_break_serves_its_history_with_a_warning(
    emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.set_faults([{"kind": "symbol_status", "symbol": SYMBOL, "status": "BREAK"}])
    binance = resource(emulator)

    assert binance.require_trading(SYMBOL, MARCH, MARCH + DAY_MS) == "BREAK"
    assert len([row for page in binance.klines(SYMBOL, MARCH, MARCH + HOUR_MS) for row in page.rows]) == 60
    assert f"{SYMBOL} is not trading on {emulator.url}: status BREAK; fetching its history" in caplog.text

    now = binance.server_time_ms()
    for recent in [(now - 2 * HOUR_MS, now), (now - 2 * DAY_MS, now - DAY_MS + HOUR_MS), (None, None)]:
        with pytest.raises(BinanceError, match=f"{SYMBOL} is not trading on .*: status BREAK; its last 24 hours"):
            binance.require_trading(SYMBOL, *recent)
    assert binance.require_trading(SYMBOL, now - 3 * DAY_MS, now - DAY_MS - HOUR_MS) == "BREAK"
    assert emulator.stats()["requests"]["/api/v3/exchangeInfo"] == 1, "the status is asked once per run"


def test_an_unknown_symbol_fails_by_name_whatever_the_range(emulator: EmulatorProcess) -> None:
    emulator.set_faults([{"kind": "unknown_symbol", "symbol": "BTCUSDC"}])
    binance = resource(emulator)
    with pytest.raises(BinanceError, match=f"BTCUSDC is not a symbol of {emulator.url}") as raised:
        binance.require_trading("BTCUSDC", MARCH, MARCH + HOUR_MS)
    assert raised.value.code == -1121
    with pytest.raises(BinanceError, match="BTCUSDC is not a symbol"):
        list(binance.klines("BTCUSDC", MARCH, MARCH + HOUR_MS))
    assert binance.require_trading(SYMBOL, MARCH, MARCH + HOUR_MS) == "TRADING"


# ---- signed endpoints: orders that settle -------------------------------------------------------


def test_open_orders_and_one_order_as_they_are_now(emulator: EmulatorProcess) -> None:
    binance = resource(emulator)
    open_now = binance.open_orders(SYMBOL)
    assert open_now and {order["status"] for order in open_now} <= OPEN
    assert all(order["symbol"] == SYMBOL for order in open_now)

    one = binance.order(SYMBOL, open_now[0]["orderId"])
    assert one["orderId"] == open_now[0]["orderId"]
    assert one["time"] == open_now[0]["time"] and one["status"] in OPEN | FINAL

    stored = next(iter(binance.all_orders(SYMBOL, MARCH, MARCH + HOUR_MS))).rows[0]
    assert binance.order(SYMBOL, stored["orderId"]) == stored  # settled long ago: final, unchanged
    assert stored["status"] in FINAL

    made = emulator.stats()
    # exchangeInfo brought Binance's clock: no /api/v3/time
    assert binance.stats.requests_by_endpoint == {"exchangeInfo": 1, "openOrders": 1, "order": 2, "allOrders": 1}
    assert sum(minute["weight"] for minute in made["weight_per_minute"]) == 20 + 6 + 2 * 4 + 20


def test_the_first_request_brings_binance_clock(emulator: EmulatorProcess) -> None:
    """exchangeInfo's serverTime sets Binance's clock: with Binance 40 s behind, the throttle's
    minute and the hours' cut-off are Binance's from the first request, with no /api/v3/time."""
    emulator.set_faults([], clock_skew_ms=-40_000)
    binance = resource(emulator)
    binance.require_trading(SYMBOL)
    assert binance.clock_offset_ms is not None and abs(binance.clock_offset_ms + 40_000) < 1_000
    assert abs(binance.server_time_ms() - emulator.stats()["server_time"]) < 1_000
    assert binance.stats.requests_by_endpoint == {"exchangeInfo": 1}


def test_signed_calls_retry_and_use_binance_clock(emulator: EmulatorProcess) -> None:
    """The emulator's clock is 40 s behind ours (recvWindow is 10 s): python-binance alone would
    stamp every request with our clock and be refused with -1021. The resource stamps with our
    clock until Binance refuses once (a sensor's check stays one request when the clocks agree),
    then measures Binance's clock and stamps every later request with it."""
    emulator.set_faults(
        [{"kind": "5xx", "path": "/api/v3/order", "count": 1, "status": 503},
         {"kind": "trickle", "path": "/api/v3/openOrders", "count": 1, "rate": 100}],
        clock_skew_ms=-40_000,
    )
    binance = resource(emulator)
    open_now = binance.open_orders(SYMBOL)
    assert binance.order(SYMBOL, open_now[0]["orderId"])["orderId"] == open_now[0]["orderId"]
    assert binance.stats.retries == 1  # the 503
    assert binance.stats.requests_by_endpoint["time"] == 1, "measured once, when Binance refused"
    assert emulator.stats()["statuses"].get("400", 0) == 1, "one -1021, then never again"


def test_an_order_binance_does_not_know_is_refused(emulator: EmulatorProcess) -> None:
    with pytest.raises(BinanceError, match="code -2013") as raised:
        resource(emulator).order(SYMBOL, 1)
    assert raised.value.code == -2013


def test_signed_calls_need_credentials(emulator: EmulatorProcess) -> None:
    binance = BinanceResource(api_url=emulator.url, api_key=None, api_secret=None)
    for call in (lambda: binance.open_orders(SYMBOL), lambda: binance.order(SYMBOL, 1)):
        with pytest.raises(BinanceCredentialsMissing, match="BINANCE_API_KEY and BINANCE_API_SECRET"):
            call()
    assert emulator.stats()["requests"] == {}


def test_secrets_stay_out_of_errors_and_logs(emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture) -> None:
    """A wrong secret is refused (-1022) and a trickled answer retried: neither the key nor the
    secret appears in what the user is told."""
    caplog.set_level(logging.DEBUG)
    wrong = "x" * 64
    emulator.set_faults([{"kind": "trickle", "path": "/api/v3/allOrders", "count": 1, "rate": 10}])
    binance = BinanceResource(api_url=emulator.url, api_key=KEY, api_secret=wrong, backoff_seconds=0.05, timeout_seconds=1)
    with pytest.raises(BinanceError) as raised:
        list(binance.all_orders(SYMBOL, MARCH, MARCH + HOUR_MS))
    assert raised.value.code == -1022
    told = f"{raised.value}\n{caplog.text}\n{binance.stats.as_metadata()}\n{binance!r}"
    assert "retrying" in told
    assert wrong not in told and KEY not in told and KEY[-4:] == binance.masked_api_key()[-4:]


def test_python_binance_requests_are_rebased_and_signed_with_binance_clock() -> None:
    """What the auth does to a request python-binance prepared for its own host: the base URL
    (a path prefix kept), Binance's clock in ``timestamp``, the signature of what is sent."""
    auth = BinanceAuth("http://proxy.example:8080/binance/", SECRET, lambda: 1_740_787_200_123)
    sent = requests.Request(
        "GET", "https://api.binance.com/api/v3/allOrders?recvWindow=10000&symbol=BTCUSDT&timestamp=1&signature=ab"
    ).prepare()
    unsigned = "recvWindow=10000&symbol=BTCUSDT&timestamp=1740787200123"
    signature = hmac.new(SECRET.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
    assert auth(sent).url == f"http://proxy.example:8080/binance/api/v3/allOrders?{unsigned}&signature={signature}"
    public = requests.Request("GET", "https://api.binance.com/api/v3/klines?symbol=BTCUSDT").prepare()
    assert auth(public).url == "http://proxy.example:8080/binance/api/v3/klines?symbol=BTCUSDT"
    assert SECRET not in repr(auth)
