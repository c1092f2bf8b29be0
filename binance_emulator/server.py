"""The HTTP server: routing, parameter validation, request weight, bans, faults and admin endpoints.

Binance behaviour reproduced here (see DESIGN.md, "Binance facts"):

* Every ``/api`` answer carries ``X-MBX-USED-WEIGHT-1M`` and ``X-MBX-USED-WEIGHT`` (weight used by
  the client IP in the current UTC minute of the server clock, this request included) and
  ``Content-Type: application/json;charset=UTF-8``. Weights: ping/time 1, klines 2,
  exchangeInfo 20, allOrders 20. Failed requests (bad parameters, bad signature) cost weight too.
* A request that would take the minute over ``--weight-limit`` gets HTTP 429, -1003, with
  ``Retry-After`` = seconds to the next minute, and costs nothing. After 6 such 429s in one
  minute (the first plus 5 more), the next over-limit request bans the IP: HTTP 418,
  ``Retry-After: 120``, and every request of that IP gets 418 until the ban ends.
* ``/data/...`` (bulk archive) and ``/_emulator/...`` (admin) cost no weight.
* Served symbols: BTCUSDT, BTCUSDC, BTCFDUSD and BTCUSD (see :data:`PAIRS`), each its own
  candles, orders and archive; the ``unknown_symbol`` and ``symbol_status`` faults take one off the
  market or change its exchangeInfo status, and any fault can target one symbol.

Admin endpoints (not Binance): ``GET /_emulator/stats``, ``GET``/``POST /_emulator/faults``
(body format in :mod:`binance_emulator.faults`), ``POST /_emulator/reset`` (clears stats,
weights, bans, faults and fault clock skew).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import unquote_plus

from binance_emulator import account, archive, errors, faults, market, signing
from binance_emulator.errors import ApiError

JSON_TYPE = "application/json;charset=UTF-8"
# BTC against USD: binance.com's three pairs and binance.us's one, each its own market.
PAIRS = ("BTCUSDT", "BTCUSDC", "BTCFDUSD", "BTCUSD")
_SYMBOL_FORMAT = re.compile(r"^[A-Z0-9\-_.]{1,20}$")
_INT_FORMAT = re.compile(r"^[0-9]{1,20}$")
_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "EUR", "BTC")


@dataclass
class Config:
    """Command-line settings."""

    host: str = "127.0.0.1"
    port: int = 0
    api_key: Optional[str] = None
    api_secret: Optional[str] = None
    seed: int = 0
    weight_limit: int = 6000
    clock_offset_ms: int = 0
    symbol: str = "BTCUSDT"
    faults: list = field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        """Served symbols: the four BTC–USD pairs, plus ``--symbol`` when it is another.

        ``--symbol`` once chose the one served pair; it is kept so old command lines still work.
        """
        return list(PAIRS) + ([self.symbol] if self.symbol not in PAIRS else [])


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE
    drop: bool = False


class RateLimiter:
    """Per-IP request weight per UTC minute, 429 counting and 418 bans."""

    BAN_MS = 120_000
    REJECTIONS_BEFORE_BAN = 6

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._used: dict[tuple[str, int], int] = defaultdict(int)
        self._rejected: dict[tuple[str, int], int] = defaultdict(int)
        self._banned_until: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._used.clear()
            self._rejected.clear()
            self._banned_until.clear()

    def used(self, ip: str, now_ms: int) -> int:
        with self._lock:
            return self._used.get((ip, now_ms // 60_000), 0)

    def charge(self, ip: str, weight: int, now_ms: int) -> tuple[int, Optional[ApiError]]:
        """Add ``weight``; returns (weight used this minute, the 429/418 error if refused)."""
        minute = now_ms // 60_000
        key = (ip, minute)
        with self._lock:
            until = self._banned_until.get(ip, 0)
            if until > now_ms:
                return self._used[key], errors.banned(until, max(1, -(-(until - now_ms) // 1000)))
            if self._used[key] + weight > self.limit:
                self._rejected[key] += 1
                if self._rejected[key] > self.REJECTIONS_BEFORE_BAN:
                    until = now_ms + self.BAN_MS
                    self._banned_until[ip] = until
                    return self._used[key], errors.banned(until, self.BAN_MS // 1000)
                retry = max(1, -(-((minute + 1) * 60_000 - now_ms) // 1000))
                return self._used[key], errors.too_much_weight(self.limit, retry)
            self._used[key] += weight
            return self._used[key], None


class Stats:
    """Counters for ``GET /_emulator/stats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: dict[str, int] = defaultdict(int)
            self.statuses: dict[int, int] = defaultdict(int)
            self.weight_per_minute: dict[int, int] = defaultdict(int)

    def record(self, path: str, status: int, weight: int, now_ms: int) -> None:
        with self._lock:
            self.requests[path] += 1
            self.statuses[status] += 1
            if weight:
                self.weight_per_minute[now_ms - now_ms % 60_000] += weight

    def snapshot(self) -> dict:
        with self._lock:
            per_minute = [{"minute": m, "weight": w} for m, w in sorted(self.weight_per_minute.items())]
            return {
                "requests": dict(self.requests),
                "requests_total": sum(self.requests.values()),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "weight_per_minute": per_minute,
                "max_weight_per_minute": max((p["weight"] for p in per_minute), default=0),
                "status_429": self.statuses.get(429, 0),
                "status_418": self.statuses.get(418, 0),
            }


def _parse_query(raw: str) -> dict[str, str]:
    """Query parameters; a repeated name is Binance's -1101."""
    params: dict[str, str] = {}
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = unquote_plus(name)
        if name in params:
            raise errors.duplicate_param()
        params[name] = unquote_plus(value)
    return params


def _named_symbols(path: str, raw_query: str) -> frozenset[str]:
    """The symbols a request names, which a fault's ``symbol`` key is matched against: the
    ``symbol`` parameter, exchangeInfo's ``symbols`` list, or the symbol of an archive path.

    Lenient on purpose: a malformed query names nothing here and gets its Binance error later.
    """
    if path.startswith("/data/"):
        parsed = archive.parse(path)
        return frozenset([parsed[1]]) if parsed else frozenset()
    try:
        params = _parse_query(raw_query)
        listed = json.loads(params.get("symbols") or "[]")
    except (ApiError, ValueError):
        return frozenset()
    names = {params.get("symbol", "")}
    if isinstance(listed, list):
        names.update(n for n in listed if isinstance(n, str))
    return frozenset(names - {""})


def _int_param(params: dict[str, str], name: str) -> Optional[int]:
    text = params.get(name)
    if text is None or text == "":
        return None
    if not _INT_FORMAT.match(text):
        raise errors.illegal_chars(name, "^[0-9]{1,20}$")
    return int(text)


def _limit(params: dict[str, str], default: int = 500, maximum: int = 1000) -> int:
    value = _int_param(params, "limit")
    if value is None:
        return default
    if value < 1 or value > maximum:
        raise errors.invalid_value("limit")
    return value


class Emulator:
    """The application: turns a request into a :class:`Response`. Thread-safe."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.limiter = RateLimiter(config.weight_limit)
        self.stats = Stats()
        self.faults = faults.FaultBook()
        self.faults.replace(list(config.faults))
        self._routes: dict[str, tuple[int, Callable[[dict[str, str], str, dict[str, str]], bytes]]] = {
            "/api/v3/ping": (1, self._ping),
            "/api/v3/time": (1, self._time),
            "/api/v3/exchangeInfo": (20, self._exchange_info),
            "/api/v3/klines": (2, self._klines),
            "/api/v3/allOrders": (20, self._all_orders),
        }

    def served(self) -> list[str]:
        """The symbols on the market now: the configured ones less any ``unknown_symbol`` fault."""
        unknown = self.faults.unknown_symbols()
        return [s for s in self.config.symbols if s not in unknown]

    def now_ms(self) -> int:
        """The server clock: wall clock + ``--clock-offset-ms`` + any ``clock_skew`` fault."""
        return int(time.time() * 1000) + self.config.clock_offset_ms + self.faults.clock_skew_ms

    # ---- entry point --------------------------------------------------------------------------

    def handle(self, method: str, path: str, raw_query: str, headers: dict[str, str], ip: str, body: bytes) -> Response:
        if path.startswith("/_emulator/"):
            return self._admin(method, path, body)
        faultable = path.startswith("/api/") or path.startswith("/data/")
        applied = self.faults.take(path, _named_symbols(path, raw_query)) if faultable else []
        for f in applied:
            if f.kind == "slow":
                time.sleep(float(f.seconds))
        answer = next((f for f in applied if f.kind in faults.ANSWER_KINDS), None)
        if answer is not None:
            resp = self._fault_answer(answer, self.limiter.used(ip, self.now_ms()))
            self.stats.record(path, 0 if resp.drop else resp.status, 0, self.now_ms())
            return resp
        if path.startswith("/data/"):
            resp = self._archive(path)
            weight = 0
        else:
            resp, weight = self._api(method, path, raw_query, headers, ip)
        if resp.status == 200:
            data_faults = [f for f in applied if f.kind in faults.DATA_KINDS]
            if data_faults and path in ("/api/v3/klines", "/api/v3/allOrders"):
                rows = json.loads(resp.body)
                params = _parse_query(raw_query)
                for f in data_faults:
                    rows = faults.corrupt(f, rows, path, params, self.now_ms())
                resp.body = faults.dumps(rows)
            if any(f.kind == "truncate" for f in applied):
                resp.body = faults.truncate(resp.body)
        self.stats.record(path, resp.status, weight, self.now_ms())
        return resp

    def _api(self, method: str, path: str, raw_query: str, headers: dict[str, str], ip: str) -> tuple[Response, int]:
        route = self._routes.get(path)
        now = self.now_ms()
        if route is None or method not in ("GET", "HEAD"):
            used = self.limiter.used(ip, now)
            err = ApiError(404, -1000, "An unknown error occurred while processing the request.")
            return self._error(err, used), 0
        weight, fn = route
        used, refused = self.limiter.charge(ip, weight, now)
        if refused is not None:
            return self._error(refused, used), 0
        try:
            params = _parse_query(raw_query)
            body = fn(params, raw_query, headers)
        except ApiError as err:
            return self._error(err, used), weight
        return Response(200, body, self._weight_headers(used)), weight

    @staticmethod
    def _weight_headers(used: int) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT": str(used), "X-MBX-USED-WEIGHT-1M": str(used)}

    def _error(self, err: ApiError, used: int) -> Response:
        headers = self._weight_headers(used)
        headers.update(err.headers)
        return Response(err.status, err.body(), headers)

    # ---- faults ---------------------------------------------------------------------------------

    def _fault_answer(self, f: faults.Fault, used: int) -> Response:
        """The replacement answer of an answer-kind fault (``used``: the IP's weight so far)."""
        if f.kind == "drop":
            return Response(0, b"", drop=True)
        if f.kind == "html":
            status = f.status or 200
            return Response(status, faults.html_page(status), content_type="text/html")
        if f.kind == "5xx":
            status = f.status or 503
            if f.body == "html":
                return Response(status, faults.html_page(status), content_type="text/html")
            err = ApiError(status, -1001, "Internal error; unable to process your request. Please try again.")
            return Response(status, err.body(), self._weight_headers(used))
        if f.kind == "429":
            err = errors.too_much_weight(self.config.weight_limit, int(f.retry_after or 1))
        else:  # 418
            retry = int(f.retry_after if f.retry_after is not None else 120)
            err = errors.banned(self.now_ms() + retry * 1000, retry)
        return self._error(err, used)

    # ---- admin ----------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: bytes) -> Response:
        if path == "/_emulator/stats" and method == "GET":
            snap = self.stats.snapshot()
            snap["faults_applied"] = self.faults.applied
            snap["server_time"] = self.now_ms()
            return Response(200, json.dumps(snap).encode(), content_type="application/json")
        if path == "/_emulator/faults" and method == "GET":
            out = {"faults": self.faults.describe(), "clock_skew_ms": self.faults.clock_skew_ms}
            return Response(200, json.dumps(out).encode(), content_type="application/json")
        if path == "/_emulator/faults" and method == "POST":
            try:
                doc = json.loads(body or b"{}")
                specs = [faults.Fault.from_dict(d) for d in doc.get("faults", [])]
                if "clock_skew_ms" in doc:
                    specs.append(faults.Fault(kind="clock_skew", ms=int(doc["clock_skew_ms"])))
            except (ValueError, TypeError, AttributeError) as exc:
                return Response(400, json.dumps({"error": str(exc)}).encode(), content_type="application/json")
            self.faults.replace(specs)
            return Response(200, json.dumps({"faults": self.faults.describe()}).encode(), content_type="application/json")
        if path == "/_emulator/reset" and method == "POST":
            self.faults.clear()
            self.stats.reset()
            self.limiter.reset()
            return Response(200, b"{}", content_type="application/json")
        return Response(404, b'{"error": "unknown admin endpoint"}', content_type="application/json")

    # ---- bulk archive ---------------------------------------------------------------------------

    def _archive(self, path: str) -> Response:
        parsed = archive.parse(path)
        if parsed is None or parsed[1] not in self.served():
            return Response(404, archive.not_found_body(path), content_type="application/xml")
        freq, symbol, period, is_checksum = parsed
        if not archive.available(freq, symbol, period, self.now_ms()):
            return Response(404, archive.not_found_body(path), content_type="application/xml")
        if is_checksum:
            return Response(200, archive.checksum_text(symbol, freq, period, self.config.seed),
                            content_type="application/octet-stream")
        return Response(200, archive.zip_bytes(symbol, freq, period, self.config.seed), content_type="application/zip")

    # ---- Binance endpoints ----------------------------------------------------------------------

    def _ping(self, params: dict[str, str], raw: str, headers: dict[str, str]) -> bytes:
        return b"{}"

    def _time(self, params: dict[str, str], raw: str, headers: dict[str, str]) -> bytes:
        return json.dumps({"serverTime": self.now_ms()}, separators=(",", ":")).encode()

    def _symbol(self, params: dict[str, str]) -> str:
        symbol = params.get("symbol", "")
        if symbol == "":
            raise errors.mandatory("symbol")
        if not _SYMBOL_FORMAT.match(symbol):
            raise errors.illegal_chars("symbol", "^[A-Z0-9-_.]{1,20}$")
        if symbol not in self.served():
            raise errors.bad_symbol()
        return symbol

    def _klines(self, params: dict[str, str], raw: str, headers: dict[str, str]) -> bytes:
        if params.get("symbol", "") == "":
            raise errors.mandatory("symbol")
        if params.get("interval", "") == "":
            raise errors.mandatory("interval")
        symbol = self._symbol(params)
        interval = params["interval"]
        if interval not in market.INTERVAL_MS:
            raise errors.bad_interval()
        limit = _limit(params)
        start = _int_param(params, "startTime")
        end = _int_param(params, "endTime")
        if start is not None and end is not None and start > end:
            raise errors.start_after_end()
        rows = market.klines_json(symbol, self.config.seed, self.now_ms(), interval, start, end, limit)
        return ("[" + ",".join(rows) + "]").encode()

    def _all_orders(self, params: dict[str, str], raw: str, headers: dict[str, str]) -> bytes:
        signing.check_api_key(headers.get("x-mbx-apikey"), self.config.api_key)
        signing.check_signed(raw, params, self.config.api_secret, self.now_ms())
        symbol = self._symbol(params)
        order_id = _int_param(params, "orderId")
        start = _int_param(params, "startTime")
        end = _int_param(params, "endTime")
        if start is not None and end is not None:
            if start > end:
                raise errors.start_after_end()
            if end - start > market.DAY_MS:
                raise errors.window_too_long(24)
        limit = _limit(params)
        orders = account.query(symbol, self.config.seed, self.now_ms(), order_id, start, end, limit)
        return json.dumps(orders, separators=(",", ":")).encode()

    def _exchange_info(self, params: dict[str, str], raw: str, headers: dict[str, str]) -> bytes:
        served = self.served()
        wanted = served
        if params.get("symbol"):
            wanted = [self._symbol(params)]
        elif params.get("symbols"):
            try:
                names = json.loads(params["symbols"])
            except ValueError:
                raise errors.illegal_chars("symbols", '^\\["[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}\\]$')
            for n in names:
                if n not in served:
                    raise errors.bad_symbol()
            wanted = list(names)
        statuses = self.faults.symbol_statuses()
        info = {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": self.config.weight_limit},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": [_symbol_info(s, statuses.get(s, "TRADING")) for s in wanted],
        }
        return json.dumps(info, separators=(",", ":")).encode()


def _symbol_info(symbol: str, status: str = "TRADING") -> dict:
    """One ``symbols`` entry shaped like Binance's spot exchangeInfo (``status``: see faults)."""
    quote = next((q for q in _QUOTES if symbol.endswith(q) and len(symbol) > len(q)), "USDT")
    base = symbol[: -len(quote)] if symbol.endswith(quote) else symbol
    return {
        "symbol": symbol,
        "status": status,
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                       "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "pegInstructionsAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": symbol == "BTCUSDT",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
             "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000",
             "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"] if symbol == "BTCUSDT" else ["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"],
    }


class _Handler(BaseHTTPRequestHandler):
    """Thin adapter from http.server to :class:`Emulator` (keep-alive HTTP/1.1)."""

    protocol_version = "HTTP/1.1"
    server_version = "binance-emulator"
    sys_version = ""
    emulator: Emulator  # set on the subclass by make_server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence access logs
        return

    def _serve(self, method: str) -> None:
        path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        resp = self.emulator.handle(method, path, raw_query, headers, self.client_address[0], body)
        if resp.drop:
            self.close_connection = True
            return
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def make_server(config: Config) -> ThreadingHTTPServer:
    """A bound (not yet serving) HTTP server for ``config``; ``server_address`` has the real port."""
    emulator = Emulator(config)
    handler = type("Handler", (_Handler,), {"emulator": emulator})
    return _Server((config.host, config.port), handler)
