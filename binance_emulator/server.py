"""The HTTP server: routing, parameter validation, request weight, bans, faults and admin endpoints.

Binance behaviour reproduced here (see DESIGN.md, "Binance facts"):

* Endpoints: ``GET /api/v3/ping``, ``/api/v3/time``, ``/api/v3/exchangeInfo``, ``/api/v3/klines``
  and the signed (USER_DATA, see :mod:`.signing`) ``/api/v3/allOrders``, ``/api/v3/openOrders``
  and ``/api/v3/order``; the bulk archive under ``/data/`` (:mod:`.archive`).
* ``openOrders``: ``symbol`` optional (without it: every served symbol); the orders open now
  (NEW, PARTIALLY_FILLED, PENDING_NEW), ascending by orderId, no limit. ``order``: ``symbol``
  and ``orderId`` or ``origClientOrderId`` (both: they must name the same order); that order
  now; none of the two -> -1102 "Param 'origClientOrderId' or 'orderId' must be sent, but both
  were empty/null!"; an order the account does not have (yet) -> HTTP 400 -2013 "Order does not
  exist.". Order states follow the server clock (:mod:`.account`).
* Every ``/api`` answer carries ``X-MBX-USED-WEIGHT-1M`` and ``X-MBX-USED-WEIGHT`` (weight used by
  the client IP in the current UTC minute of the server clock, this request included) and
  ``Content-Type: application/json;charset=UTF-8``. Weights: ping/time 1, klines 2,
  exchangeInfo 20, allOrders 20, openOrders 6 with ``symbol`` and 80 without, order 4. Failed
  requests (bad parameters, bad signature) cost weight too.
* ``--weight-limit`` is both what exchangeInfo's ``rateLimits`` REQUEST_WEIGHT/MINUTE says and
  what is enforced.
* One server clock (wall clock + ``--clock-offset-ms`` + the ``clock_skew`` fault) decides
  ``/api/v3/time``, exchangeInfo ``serverTime``, signed timestamps, which candle is still open,
  order states, archive availability and the weight minute.
* A request that would take the minute over ``--weight-limit`` gets HTTP 429, -1003, with
  ``Retry-After`` = seconds to the next minute, and costs nothing. After 6 such 429s in one
  minute (the first plus 5 more), the next over-limit request bans the IP: HTTP 418,
  ``Retry-After: 120``, and every request of that IP gets 418 until the ban ends.
* ``/data/...`` (bulk archive) and ``/_emulator/...`` (admin) cost no weight.
* Served symbols: BTCUSDT, BTCUSDC, BTCFDUSD and BTCUSD (see :data:`PAIRS`), each its own
  candles, orders and archive; the ``unknown_symbol`` and ``symbol_status`` faults take one off the
  market or change its exchangeInfo status, and any fault can target one symbol.

Admin endpoints (not Binance; JSON in and out, 400 ``{"error": ...}`` for a bad body):

* ``GET /_emulator/stats``; ``GET``/``POST /_emulator/faults`` (body format in
  :mod:`binance_emulator.faults`).
* ``POST /_emulator/archive_revisions`` ``{"symbol": "BTCUSDT", "minute": <open time ms>,
  "field": <kline index 1-5 or 7-10>, "value": "<decimal string>", "period": "2025-03" or
  "2025-03-01" (optional: checked to cover the minute)}``: Binance re-uploaded the files
  covering that closed minute with one value corrected; REST and both archive files (monthly and
  daily: new zip bytes, new checksum) serve the new value from then on. Prices are multiples
  of 0.01, volumes have at most 8 decimals, trades (8) are an integer. A later revision of the
  same field replaces it. Answers and ``GET`` list ``{"revisions": [{"symbol", "minute",
  "field", "value", "files": [monthly zip path, daily zip path]}]}``.
* ``POST /_emulator/outages`` ``{"start": ms, "end": ms}``: adds an outage window like
  ``--outage`` (no symbol has a candle in a minute overlapping ``[start, end)``, REST and
  archive alike); answers and ``GET`` list ``{"outages": [{"start", "end", "source": "cli" or
  "admin"}]}``.
* ``POST /_emulator/reset``: clears stats, weights, bans, faults, fault clock skew, archive
  revisions and admin outages (``--outage`` windows stay).
"""

from __future__ import annotations

import dataclasses
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
    outages: list[tuple[int, int]] = field(default_factory=list)

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
    trickle_rate: int = 0  # bytes per second of the body (``trickle`` fault); 0: at once


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


def _open_orders_weight(raw_query: str) -> int:
    """openOrders costs 6 for one symbol, 80 for all of them (read leniently, before validation)."""
    return 6 if _named_symbols("/api/v3/openOrders", raw_query) else 80


def _admin_json(status: int, doc: object) -> Response:
    return Response(status, json.dumps(doc).encode(), content_type="application/json")


_Route = tuple[int | Callable[[str], int], Callable[[dict[str, str], str, dict[str, str], market.Edits], bytes]]
"""A Binance endpoint: its weight (or how to tell it from the raw query) and its handler."""
_LIST_PATHS = ("/api/v3/klines", "/api/v3/allOrders", "/api/v3/openOrders")
"""Endpoints answering a JSON list, which the data faults act on."""


class Emulator:
    """The application: turns a request into a :class:`Response`. Thread-safe."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.limiter = RateLimiter(config.weight_limit)
        self.stats = Stats()
        self.faults = faults.FaultBook()
        self.faults.replace(list(config.faults))
        self._edits_lock = threading.Lock()
        self._admin_outages: list[tuple[int, int]] = []
        self._revisions: dict[tuple[str, int, int], int] = {}  # (symbol, minute, field) -> units
        self.edits = market.Edits(outages=tuple(config.outages))
        self._routes: dict[str, _Route] = {
            "/api/v3/ping": (1, self._ping),
            "/api/v3/time": (1, self._time),
            "/api/v3/exchangeInfo": (20, self._exchange_info),
            "/api/v3/klines": (2, self._klines),
            "/api/v3/allOrders": (20, self._all_orders),
            "/api/v3/openOrders": (_open_orders_weight, self._open_orders),
            "/api/v3/order": (4, self._order),
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
        weight = 0
        if answer is not None:
            resp = self._fault_answer(answer, self.limiter.used(ip, self.now_ms()), path)
        elif path.startswith("/data/"):
            resp = self._archive(path)
        else:
            gone = frozenset().union(*(f.minutes() for f in applied if f.kind == "rest_gap"))
            view = dataclasses.replace(self.edits, gone=gone) if gone else self.edits
            resp, weight = self._api(method, path, raw_query, headers, ip, view)
        if answer is None and resp.status == 200:
            data_faults = [f for f in applied if f.kind in faults.DATA_KINDS]
            if data_faults and path in _LIST_PATHS:
                rows = json.loads(resp.body)
                params = _parse_query(raw_query)
                for f in data_faults:
                    rows = faults.corrupt(f, rows, path, params, self.now_ms())
                resp.body = faults.dumps(rows)
            if any(f.kind == "truncate" for f in applied):
                resp.body = faults.truncate(resp.body)
        resp.trickle_rate = next((int(f.rate) for f in applied if f.kind == "trickle"), 0)
        self.stats.record(path, 0 if resp.drop else resp.status, weight, self.now_ms())
        return resp

    def _api(self, method: str, path: str, raw_query: str, headers: dict[str, str], ip: str,
             view: market.Edits) -> tuple[Response, int]:
        """Answer a Binance endpoint; ``view``: the market as this request sees it (edits, plus the
        minutes a ``rest_gap`` fault takes from it)."""
        route = self._routes.get(path)
        now = self.now_ms()
        if route is None or method not in ("GET", "HEAD"):
            used = self.limiter.used(ip, now)
            err = ApiError(404, -1000, "An unknown error occurred while processing the request.")
            return self._error(err, used), 0
        weight, fn = route
        if callable(weight):
            weight = weight(raw_query)
        used, refused = self.limiter.charge(ip, weight, now)
        if refused is not None:
            return self._error(refused, used), 0
        try:
            params = _parse_query(raw_query)
            body = fn(params, raw_query, headers, view)
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

    def _fault_answer(self, f: faults.Fault, used: int, path: str) -> Response:
        """The replacement answer of an answer-kind fault (``used``: the IP's weight so far)."""
        if f.kind == "drop":
            return Response(0, b"", drop=True)
        if f.kind == "unpublished":
            return Response(404, archive.not_found_body(path), content_type="application/xml")
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
            return _admin_json(200, snap)
        if path == "/_emulator/faults" and method == "GET":
            return _admin_json(200, {"faults": self.faults.describe(), "clock_skew_ms": self.faults.clock_skew_ms})
        if path == "/_emulator/archive_revisions" and method == "GET":
            return _admin_json(200, self._revision_list())
        if path == "/_emulator/outages" and method == "GET":
            return _admin_json(200, self._outage_list())
        if path == "/_emulator/reset" and method == "POST":
            self.faults.clear()
            self.stats.reset()
            self.limiter.reset()
            with self._edits_lock:
                self._admin_outages.clear()
                self._revisions.clear()
                self._rebuild_edits()
            return _admin_json(200, {})
        posts = {
            "/_emulator/faults": self._set_faults,
            "/_emulator/archive_revisions": self._add_revision,
            "/_emulator/outages": self._add_outage,
        }
        if method == "POST" and path in posts:
            try:
                doc = json.loads(body or b"{}")
                if not isinstance(doc, dict):
                    raise ValueError("the body must be a JSON object")
                return _admin_json(200, posts[path](doc))
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                return _admin_json(400, {"error": str(exc)})
        return _admin_json(404, {"error": "unknown admin endpoint"})

    def _set_faults(self, doc: dict) -> dict:
        specs = [faults.Fault.from_dict(d) for d in doc.get("faults", [])]
        if "clock_skew_ms" in doc:
            specs.append(faults.Fault(kind="clock_skew", ms=int(doc["clock_skew_ms"])))
        self.faults.replace(specs)
        return {"faults": self.faults.describe()}

    def _rebuild_edits(self) -> None:
        """Publish the current outages and revisions as one immutable :class:`market.Edits`
        (call with ``_edits_lock`` held); requests read ``self.edits`` without a lock."""
        revisions = tuple((sym, minute, fld, units) for (sym, minute, fld), units in sorted(self._revisions.items()))
        self.edits = market.Edits(tuple(self.config.outages) + tuple(self._admin_outages), revisions)

    def _add_outage(self, doc: dict) -> dict:
        start, end = doc["start"], doc["end"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or start >= end:
            raise ValueError(f"an outage is {{'start': ms, 'end': ms}} with start < end, got {doc!r}")
        with self._edits_lock:
            self._admin_outages.append((start, end))
            self._rebuild_edits()
        return self._outage_list()

    def _outage_list(self) -> dict:
        with self._edits_lock:
            listed = [(o, "cli") for o in self.config.outages] + [(o, "admin") for o in self._admin_outages]
        return {"outages": [{"start": s, "end": e, "source": src} for (s, e), src in listed]}

    def _add_revision(self, doc: dict) -> dict:
        symbol, minute, fld = doc.get("symbol"), doc.get("minute"), doc.get("field")
        if symbol not in self.config.symbols:
            raise ValueError(f"symbol must be one of {self.config.symbols}, got {symbol!r}")
        if not isinstance(minute, int) or isinstance(minute, bool) or minute % market.MINUTE_MS:
            raise ValueError(f"minute must be a candle's open time in ms (a multiple of 60000), got {minute!r}")
        units = market.field_units(fld, doc.get("value"))
        covering = [period for _freq, period in archive.periods_of(minute)]
        if doc.get("period") is not None and doc["period"] not in covering:
            raise ValueError(f"period {doc['period']!r} does not cover minute {minute} (its files: {covering})")
        now = self.now_ms()
        if minute + market.MINUTE_MS > now or not market.minute_rows(symbol, minute, minute, self.config.seed,
                                                                      now, self.edits):
            raise ValueError(f"{symbol} has no closed candle at minute {minute} to revise")
        with self._edits_lock:
            self._revisions[(symbol, minute, fld)] = units
            self._rebuild_edits()
        return self._revision_list()

    def _revision_list(self) -> dict:
        revisions = self.edits.revisions
        return {"revisions": [
            {"symbol": sym, "minute": minute, "field": fld, "value": market.field_text(fld, units),
             "files": [archive.file_path(freq, sym, period) for freq, period in archive.periods_of(minute)]}
            for sym, minute, fld, units in revisions
        ]}

    # ---- bulk archive ---------------------------------------------------------------------------

    def _archive(self, path: str) -> Response:
        parsed = archive.parse(path)
        if parsed is None or parsed[1] not in self.served():
            return Response(404, archive.not_found_body(path), content_type="application/xml")
        freq, symbol, period, is_checksum = parsed
        if not archive.available(freq, symbol, period, self.now_ms()):
            return Response(404, archive.not_found_body(path), content_type="application/xml")
        seed, edits = self.config.seed, self.edits
        if is_checksum:
            return Response(200, archive.checksum_text(symbol, freq, period, seed, edits),
                            content_type="application/octet-stream")
        return Response(200, archive.zip_bytes(symbol, freq, period, seed, edits), content_type="application/zip")

    # ---- Binance endpoints ----------------------------------------------------------------------

    def _ping(self, params: dict[str, str], raw: str, headers: dict[str, str], view: market.Edits) -> bytes:
        return b"{}"

    def _time(self, params: dict[str, str], raw: str, headers: dict[str, str], view: market.Edits) -> bytes:
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

    def _signed(self, params: dict[str, str], raw: str, headers: dict[str, str]) -> None:
        """The USER_DATA checks, in Binance's order (see :mod:`.signing`)."""
        signing.check_api_key(headers.get("x-mbx-apikey"), self.config.api_key)
        signing.check_signed(raw, params, self.config.api_secret, self.now_ms())

    def _klines(self, params: dict[str, str], raw: str, headers: dict[str, str], view: market.Edits) -> bytes:
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
        rows = market.klines_json(symbol, self.config.seed, self.now_ms(), interval, start, end, limit, view)
        return ("[" + ",".join(rows) + "]").encode()

    def _all_orders(self, params: dict[str, str], raw: str, headers: dict[str, str], view: market.Edits) -> bytes:
        self._signed(params, raw, headers)
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
        return faults.dumps(orders)

    def _open_orders(self, params: dict[str, str], raw: str, headers: dict[str, str], view: market.Edits) -> bytes:
        self._signed(params, raw, headers)
        symbols = [self._symbol(params)] if params.get("symbol") else self.served()
        now = self.now_ms()
        orders = [o for s in symbols for o in account.open_orders(s, self.config.seed, now)]
        orders.sort(key=lambda o: (o["orderId"], o["symbol"]))
        return faults.dumps(orders)

    def _order(self, params: dict[str, str], raw: str, headers: dict[str, str], view: market.Edits) -> bytes:
        self._signed(params, raw, headers)
        symbol = self._symbol(params)
        order_id = _int_param(params, "orderId")
        client_id = params.get("origClientOrderId", "")
        if order_id is None and client_id == "":
            raise errors.either_mandatory("origClientOrderId", "orderId")
        if order_id is None:
            order_id = account.id_of_client_id(client_id)
        state = account.order_state(symbol, order_id, self.config.seed, self.now_ms()) if order_id else None
        if state is None or (client_id and state["clientOrderId"] != client_id):
            raise errors.no_such_order()
        return faults.dumps(state)

    def _exchange_info(self, params: dict[str, str], raw: str, headers: dict[str, str], view: market.Edits) -> bytes:
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
        if method == "HEAD":
            return
        if resp.trickle_rate:
            self._trickle(resp.body, resp.trickle_rate)
        else:
            self.wfile.write(resp.body)

    def _trickle(self, body: bytes, rate: int) -> None:
        """Send ``body`` at ``rate`` bytes per second, a piece every 0.1 s, so each read of the
        client gets data well within any per-read timeout while the whole takes long."""
        piece = max(1, rate // 10)
        try:
            for i in range(0, len(body), piece):
                self.wfile.write(body[i : i + piece])
                time.sleep(len(body[i : i + piece]) / rate)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up

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
