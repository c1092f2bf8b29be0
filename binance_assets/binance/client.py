"""The Binance resource: python-binance (public methods only) plus what it lacks: bounded retries
with backoff for transient failures (429 with ``Retry-After``, 5xx, deadlines, dropped
connections), a stop on a 418 ban, a pause before the per-minute weight passes its budget, and a
measured server-clock offset for signed calls. ``transport`` holds the HTTP side."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import requests
from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field, PrivateAttr

if TYPE_CHECKING:  # python-binance costs ≈ 0.4 s to import: only the steps that call Binance pay it
    from binance.client import Client
    from binance.exceptions import BinanceAPIException

from binance_assets.binance.transport import BinanceAuth, DeadlineExceeded, binance_json, deadline_params
from binance_assets.datasets.contract import Page
from binance_assets.partitions import DAY_MS, MINUTE_MS
from binance_assets.settings import from_env, secret

PAGE_LIMIT = 1000
CLOCK_SKEW_CODE = -1021
INVALID_SYMBOL_CODE = -1121
# Documented weights of the endpoints used here (openOrders: with a symbol); others count 1.
REQUEST_WEIGHT = {"klines": 2, "allOrders": 20, "openOrders": 6, "order": 4, "time": 1, "exchangeInfo": 20}
FALLBACK_WEIGHT_LIMIT = 1200
RECENT_MS = DAY_MS  # a range ending this close to Binance's clock needs a pair that trades now
TRANSIENT_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class BinanceError(Exception):
    """Binance refused a request, or kept failing after every retry."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class BinanceBanned(BinanceError):
    """HTTP 418: the IP is banned; retrying would only extend the ban."""


class BinanceCredentialsMissing(BinanceError):
    """A signed endpoint was called without an API key and secret."""


@dataclass
class CallStats:
    """What this resource cost Binance: reported in run metadata."""

    requests: int = 0
    retries: int = 0
    weight_used: int = 0
    max_weight_seen: int = 0
    weight_limit: int | None = None  # the per-minute limit the throttle works to
    weight_limit_source: str = ""  # "config" (run config or BINANCE_WEIGHT_LIMIT) or "exchangeInfo"
    requests_by_endpoint: dict[str, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        limit = {"binance_weight_limit_1m": self.weight_limit, "binance_weight_limit_from": self.weight_limit_source}
        return {
            "binance_requests": self.requests, "binance_retries": self.retries, "binance_weight_used_1m": self.weight_used,
            "binance_max_weight_1m": self.max_weight_seen, **(limit if self.weight_limit else {}),
        }


class BinanceResource(ConfigurableResource):
    """Binance spot REST API (binance.com, binance.us, the spot testnet, or the emulator)."""

    api_url: str = Field(default_factory=from_env("api_url"), description="REST base URL without /api. "
                         "Default: BINANCE_API_URL, else https://api.binance.com.")
    api_key: str | None = Field(default_factory=secret("BINANCE_API_KEY"), repr=False,
                                description="API key, needed for orders only. Default: BINANCE_API_KEY.")
    api_secret: str | None = Field(default_factory=secret("BINANCE_API_SECRET"), repr=False,
                                   description="API secret, needed for orders only. Default: BINANCE_API_SECRET.")
    timeout_seconds: float = Field(default=10.0,
                                   description="Deadline of every HTTP request: connect, headers and the whole body.")
    max_attempts: int = Field(default=6, description="Attempts per request before giving up.")
    backoff_seconds: float = Field(default=1.0, description="First retry delay; doubles per attempt, with jitter, up to 60 s.")
    weight_limit: int | None = Field(
        default_factory=from_env("weight_limit"), description="Binance REQUEST_WEIGHT per minute per IP. "
        "Default: BINANCE_WEIGHT_LIMIT, else the limit exchangeInfo advertises (asked once per run).",
    )
    weight_budget: float = Field(default=0.8, description="Fraction of the weight limit this process may use in a "
                                 "minute before it pauses.")

    _client: Any = PrivateAttr(default=None)  # binance.client.Client, built on first use
    _offset_ms: int | None = PrivateAttr(default=None)  # Binance's clock minus ours; None: not measured
    _stats: CallStats = PrivateAttr(default_factory=CallStats)
    _weight_minute: int | None = PrivateAttr(default=None)
    _statuses: dict[str, str | None] = PrivateAttr(default_factory=dict)  # exchangeInfo status per pair

    @property
    def stats(self) -> CallStats:
        return self._stats

    @property
    def client(self) -> Client:
        if self._client is None:
            from binance.client import Client

            auth = BinanceAuth(self.api_url, self.api_secret, self._clock_estimate_ms)
            self._client = Client(
                self.api_key, self.api_secret, ping=False, requests_params={"auth": auth, **self._http()}
            )
        return self._client

    def _http(self) -> dict[str, Any]:
        return deadline_params(self.timeout_seconds, self._record_weight)

    # -- the pair ----------------------------------------------------------------------------

    def require_trading(self, symbol: str, start_ms: int | None = None, end_ms: int | None = None) -> str:
        """``symbol``'s status, checked for the range about to be fetched. An unknown symbol fails;
        a pair that is not TRADING fails when the range ends within the last 24 hours (those hours
        would be stored empty without saying why); older hours are history, fetched with a warning."""
        status = self._status(symbol)
        if status == "TRADING":
            return status
        where = f"{symbol} is not trading on {self.api_url}: status {status}"
        if end_ms is None or end_ms > self.server_time_ms() - RECENT_MS:
            raise BinanceError(f"{where}; its last 24 hours cannot be fetched (older hours can)")
        get_dagster_logger().warning(f"{where}; fetching its history, which ended over 24 hours ago")
        return status

    def _status(self, symbol: str) -> str:
        """exchangeInfo's status of ``symbol``, asked once per run; the weight limit comes with it."""
        if symbol not in self._statuses:
            try:
                info = self._call("exchangeInfo", self._exchange_info, symbol=symbol)
            except BinanceError as error:
                if error.code == INVALID_SYMBOL_CODE:
                    raise BinanceError(f"{symbol} is not a symbol of {self.api_url}: {error}", error.code) from None
                raise
            if self._stats.weight_limit is None and self.weight_limit is None:
                self._stats.weight_limit, self._stats.weight_limit_source = advertised_weight_limit(info), "exchangeInfo"
            listed = (s.get("status") for s in info.get("symbols", []) if s.get("symbol") == symbol)
            self._statuses[symbol] = next(listed, None)
        if (status := self._statuses[symbol]) is None:
            raise BinanceError(f"{symbol} is not a symbol of {self.api_url}: exchangeInfo does not list it")
        return status

    def _exchange_info(self, symbol: str) -> dict[str, Any]:
        """python-binance's ``get_exchange_info`` takes no symbol: it returns every pair
        (megabytes on binance.com) for the same weight."""
        url = f"{self.api_url.rstrip('/')}/api/v3/exchangeInfo"
        sent_ms = time.time() * 1000
        info = binance_json(requests.get(url, params={"symbol": symbol}, **self._http()))
        if self._offset_ms is None and isinstance(info.get("serverTime"), int):
            # Binance's clock comes with the run's first request: the throttle's minute is
            # Binance's from the start, not ours until something asks /api/v3/time.
            self._measure_offset(info["serverTime"], sent_ms)
        return info

    def _before_data(self, symbol: str, signed: bool = False) -> None:
        """Credentials for a signed endpoint, and the weight limit before a pair's first request."""
        if signed:
            self.require_credentials()
        if self.weight_limit is None and self._stats.weight_limit is None:
            self._status(symbol)

    # -- data --------------------------------------------------------------------------------

    def klines(self, symbol: str, start_ms: int, end_ms: int) -> Iterator[Page]:
        """1m klines with open time in [start_ms, end_ms), closed candles only, in 1000-row pages
        across hour boundaries (N hours cost ceil(60·N/1000) requests)."""
        self._before_data(symbol)
        cursor = start_ms
        while cursor < end_ms:
            params = dict(symbol=symbol, interval="1m", startTime=cursor, endTime=end_ms - 1, limit=PAGE_LIMIT)
            asked_at = self.server_time_ms()
            page = self._call("klines", self.client.get_klines, **params)
            now = self.server_time_ms()
            closed = [row for row in page if _is_closed(row, now)]
            yield Page(closed, {"endpoint": "/api/v3/klines", **params}, asked_at)
            if len(page) < PAGE_LIMIT or len(closed) < len(page):
                return
            cursor = page[-1][0] + MINUTE_MS

    def all_orders(self, symbol: str, start_ms: int, end_ms: int) -> Iterator[Page]:
        """The account's orders with ``time`` in [start_ms, end_ms), in pages of up to 1000: in
        windows of 24 hours (Binance's maximum), a full page continued by ``orderId``."""
        self._before_data(symbol, signed=True)
        for window_start in range(start_ms, end_ms, DAY_MS):
            window_end = min(window_start + DAY_MS, end_ms)
            params: dict[str, Any] = dict(symbol=symbol, startTime=window_start, endTime=window_end - 1, limit=PAGE_LIMIT)
            while True:
                asked_at = self.server_time_ms()
                page = self._signed("allOrders", self.client.get_all_orders, **params)
                inside = [order for order in page if _time_of(order) < window_end]
                yield Page(inside, {"endpoint": "/api/v3/allOrders", **params}, asked_at)
                if len(page) < PAGE_LIMIT or len(inside) < len(page):
                    break
                params = dict(symbol=symbol, orderId=page[-1]["orderId"] + 1, limit=PAGE_LIMIT)

    def open_orders(self, symbol: str) -> list[dict[str, Any]]:
        """The account's orders on ``symbol`` that are open now: those whose status can change."""
        self.require_credentials()  # one request: a sensor's check needs no weight limit and no clock sync first
        return self._signed("openOrders", self.client.get_open_orders, symbol=symbol)

    def order(self, symbol: str, order_id: int) -> dict[str, Any]:
        self.require_credentials()
        return self._signed("order", self.client.get_order, symbol=symbol, orderId=order_id)

    def require_credentials(self) -> None:
        names = (("BINANCE_API_KEY", self.api_key), ("BINANCE_API_SECRET", self.api_secret))
        if missing := [name for name, value in names if not value]:
            raise BinanceCredentialsMissing(
                f"Binance orders need credentials: set {' and '.join(missing)} (a read-only API key is enough)"
            )

    def masked_api_key(self) -> str:
        return f"…{self.api_key[-4:]}" if self.api_key else "(none)"

    # -- clock -------------------------------------------------------------------------------

    def server_time_ms(self) -> int:
        if self._offset_ms is None:
            self.sync_clock()
        return self._clock_estimate_ms()

    @property
    def clock_offset_ms(self) -> int | None:
        """Binance's clock minus ours as last measured. A sensor keeps it between ticks
        (``use_clock_offset``) so that a tick costs no ``/api/v3/time``."""
        return self._offset_ms

    def use_clock_offset(self, offset_ms: int | None) -> None:
        self._offset_ms = offset_ms

    def _clock_estimate_ms(self) -> int:
        """Without syncing: the throttle and the signing run inside the sync's own request."""
        return int(time.time() * 1000 + (self._offset_ms or 0))

    def sync_clock(self) -> int:
        """Measure the offset to ``/api/v3/time`` (midpoint of the round trip)."""
        sent_ms = time.time() * 1000
        return self._measure_offset(self._call("time", self.client.get_server_time)["serverTime"], sent_ms)

    def _measure_offset(self, server_ms: int, sent_ms: float) -> int:
        """Binance's clock minus ours, taking ``server_ms`` as read at the round trip's midpoint."""
        self._offset_ms = int(server_ms - (sent_ms + time.time() * 1000) / 2)
        get_dagster_logger().debug(f"Binance clock offset {self._offset_ms} ms")
        return self._offset_ms

    # -- transport ---------------------------------------------------------------------------

    def _signed(self, name: str, call: Callable[..., Any], **params: Any) -> Any:
        """A signed call stamped with Binance's clock as measured so far; on -1021 (timestamp
        outside recvWindow) the clock is measured and the call tried once more. Measuring only
        then keeps a sensor's check at one request when the clocks agree."""
        try:
            return self._call(name, call, **params)
        except BinanceError as error:
            if error.code != CLOCK_SKEW_CODE:
                raise
            get_dagster_logger().warning(f"Binance {name}: timestamp outside recvWindow; resyncing clock")
            self.sync_clock()
            return self._call(name, call, **params)

    def _call(self, name: str, call: Callable[..., Any], **params: Any) -> Any:
        """One logical request with bounded retries of transient failures."""
        from binance.exceptions import BinanceAPIException, BinanceRequestException

        for attempt in range(1, self.max_attempts + 1):
            self._throttle(REQUEST_WEIGHT.get(name, 1))
            started = time.monotonic()
            try:
                self._stats.requests += 1
                self._stats.requests_by_endpoint[name] = self._stats.requests_by_endpoint.get(name, 0) + 1
                return call(**params)
            except BinanceAPIException as error:
                delay, cause = self._transient_delay(name, error, attempt)
                if delay is None:
                    raise BinanceError(
                        f"Binance {name} {_describe(params)} rejected: HTTP {error.status_code}, "
                        f"code {error.code}: {error.message}",
                        code=error.code,
                    ) from None
            except (*TRANSIENT_ERRORS, BinanceRequestException) as error:
                delay, cause = self._backoff(attempt), f"{type(error).__name__}: {_short(error)}"
                if not isinstance(error, DeadlineExceeded):  # its message has the time already
                    cause += f", after {time.monotonic() - started:.1f}s"
            if attempt == self.max_attempts:
                raise BinanceError(f"Binance {name} {_describe(params)} failed {attempt} times; last cause: {cause}")
            self._stats.retries += 1
            get_dagster_logger().warning(
                f"Binance {name} {_describe(params)} attempt {attempt}/{self.max_attempts} "
                f"failed ({cause}); retrying in {delay:.1f}s"
            )
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _transient_delay(self, name: str, error: BinanceAPIException, attempt: int) -> tuple[float | None, str]:
        """How long to wait before retrying ``error``, or None when retrying cannot help."""
        status = error.status_code
        if status == 418:
            raise BinanceBanned(f"Binance banned this IP ({name}): {_ban_end(error)}; stopping") from None
        if status == 429:
            retry_after = _retry_after(error.response)
            wait = retry_after if retry_after is not None else self._backoff(attempt)
            return wait, f"HTTP 429 rate limited, Retry-After {retry_after}"
        if status >= 500:
            return self._backoff(attempt), f"HTTP {status}"
        if error.code == 0:  # no JSON error body: a proxy or gateway page, not Binance itself
            return self._backoff(attempt), f"HTTP {status} without a Binance error body"
        return None, ""

    def _backoff(self, attempt: int) -> float:
        return min(60.0, self.backoff_seconds * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    def _record_weight(self, response: requests.Response, **_: Any) -> None:
        """Response hook: the weight Binance says this IP used in the current minute."""
        used = response.headers.get("X-MBX-USED-WEIGHT-1M")
        if used is not None and used.isdigit():
            self._stats.weight_used = int(used)
            self._stats.max_weight_seen = max(self._stats.max_weight_seen, int(used))
            self._weight_minute = self._clock_estimate_ms() // MINUTE_MS

    def _throttle(self, weight: int) -> None:
        """Pause until the next minute when a request of ``weight`` would take this minute's
        weight over the budget, so the budget is a ceiling, not a trigger."""
        limit = self.weight_limit or self._stats.weight_limit
        if limit is None:
            return  # only the exchangeInfo (and /time) that tell the limit come before it
        if self.weight_limit is not None:
            self._stats.weight_limit, self._stats.weight_limit_source = limit, "config"
        budget = limit * self.weight_budget
        now_ms = self._clock_estimate_ms()
        if self._weight_minute != now_ms // MINUTE_MS or self._stats.weight_used + weight <= budget:
            return  # Binance counts weight per minute: a new minute starts from zero
        wait = (MINUTE_MS - now_ms % MINUTE_MS) / 1000 + 0.05
        get_dagster_logger().info(
            f"Binance weight {self._stats.weight_used} reached the budget {budget:.0f}/min "
            f"(limit {limit} from {self._stats.weight_limit_source}); pausing {wait:.1f}s"
        )
        time.sleep(wait)
        self._stats.weight_used = 0


def advertised_weight_limit(info: dict[str, Any]) -> int:
    """REQUEST_WEIGHT per minute from exchangeInfo's ``rateLimits``; when it lists none, the
    lowest limit Binance runs (binance.us's), with a warning."""
    for limit in info.get("rateLimits") or []:
        if (limit.get("rateLimitType"), limit.get("interval"), limit.get("intervalNum")) == ("REQUEST_WEIGHT", "MINUTE", 1):
            return int(limit["limit"])
    get_dagster_logger().warning(f"exchangeInfo advertises no REQUEST_WEIGHT per minute; assuming {FALLBACK_WEIGHT_LIMIT}")
    return FALLBACK_WEIGHT_LIMIT


def _is_closed(row: Any, now_ms: int) -> bool:
    """Malformed rows count as closed: kept for the validation downstream to name."""
    try:
        return int(row[6]) < now_ms
    except (TypeError, ValueError, IndexError, KeyError):
        return True


def _time_of(order: Any) -> int:
    """Malformed orders sort first, so the validation downstream names them."""
    try:
        return int(order["time"])
    except (TypeError, ValueError, KeyError):
        return 0


def _retry_after(response: requests.Response | None) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _ban_end(error: BinanceAPIException) -> str:
    retry_after = _retry_after(error.response)
    if retry_after is None:
        return error.message or "no end given"
    end = datetime.fromtimestamp(time.time() + retry_after, tz=timezone.utc)
    return f"banned until {end:%Y-%m-%dT%H:%M:%SZ} (Retry-After {retry_after:.0f}s): {error.message}"


def _describe(params: dict[str, Any]) -> str:
    """Request parameters as they may be logged (signed calls add their signature later)."""
    return "(" + ", ".join(f"{key}={value}" for key, value in params.items()) + ")"


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 200 else text[:200] + "…"
