"""Fault injection: make the emulator misbehave on purpose, the ways the real API and networks do.

A *fault* applies to requests whose path starts with its ``path`` (``""`` or ``"*"``: every
``/api`` and ``/data`` path; admin paths under ``/_emulator/`` are never faulted). With ``count``
it is spent after that many matching requests; without, it stays until replaced or reset.
With ``symbol`` (any kind but ``clock_skew``), it only matches requests naming that symbol -- the
``symbol`` parameter, a name in exchangeInfo's ``symbols`` list, or the symbol of an archive
path -- so one pair can fail while the others work; requests naming no symbol (ping, time,
exchangeInfo without one) are never hit by it.

Set faults at run time with ``POST /_emulator/faults`` (the list **replaces** the current one;
``{"faults": []}`` clears it; ``GET /_emulator/faults`` shows what is left)::

    {"faults": [
        {"kind": "429", "path": "/api/v3/klines", "count": 2, "retry_after": 1},
        {"kind": "5xx", "path": "/api/v3/klines", "count": 1, "status": 503, "body": "html"},
        {"kind": "slow", "path": "/api/v3/allOrders", "count": 1, "seconds": 3},
        {"kind": "bad_number", "path": "/api/v3/klines", "count": 1, "field": 2},
        {"kind": "5xx", "path": "/api/v3/klines", "symbol": "BTCUSDC"},
        {"kind": "unknown_symbol", "symbol": "BTCUSD"},
        {"kind": "symbol_status", "symbol": "BTCFDUSD", "status": "HALT"},
        {"kind": "set_value", "path": "/api/v3/klines", "count": 1, "minute": 1740787200000,
         "field": 2, "value": "1.00000000"},
        {"kind": "rest_gap", "path": "/api/v3/klines", "minute": 1740787200000, "span": 3},
        {"kind": "empty", "path": "/api/v3/klines", "count": 1},
        {"kind": "trickle", "path": "/data/", "count": 1, "rate": 500},
        {"kind": "unpublished", "period": "2025-03-01", "symbol": "BTCUSDT"},
        {"kind": "clock_skew", "ms": -3000}
    ]}

or on the command line with ``--fault KIND:PATH:COUNT[:ARG][:KEY=VALUE...]`` (repeatable; COUNT
``*`` or empty means unlimited; ARG is the kind's main argument, in brackets below; any other key
as KEY=VALUE), e.g. ``--fault 429:/api/v3/klines:2:1``, ``--fault slow:/api/v3/allOrders:*:0.5``,
``--fault 5xx:/api/v3/klines:*:503:symbol=BTCUSDC``, ``--fault unknown_symbol:::BTCUSD``,
``--fault symbol_status:::BTCFDUSD:status=HALT``, ``--fault rest_gap:/api/v3/klines:*:1740787200000:span=3``
(``minute`` may be a comma-separated list), ``--fault trickle::1:200`` or
``--fault unpublished:::2025-03``.

Kinds and their keys:

====================  ===========================================================================
``429``               HTTP 429, code -1003, ``Retry-After`` = [``retry_after``] seconds (default 1).
                      Injected: it does not start a ban by itself.
``418``               HTTP 418, code -1003 "IP banned until ...", ``Retry-After`` =
                      [``retry_after``] (default 120). Only the matching requests get it.
``5xx``               HTTP [``status``] (default 503); ``body``: ``"json"`` (default, Binance's
                      -1001 body) or ``"html"`` (a proxy error page).
``html``              An HTML page with HTTP [``status``] (default 200) instead of JSON.
``drop``              Close the connection without any response.
``slow``              Sleep [``seconds``] (default 2) then answer normally.
``truncate``          Normal status 200 and headers, but the body cut in half (Content-Length
                      matches the cut body, so the client sees bad JSON).
``missing_field``     Drop a field from one row: klines row index [``field``] (default 4, close),
                      or for allOrders the key ``field`` (default "price").
``bad_number``        Set a number to "abc": klines index [``field``] (default 1, open) or
                      allOrders key (default "price").
``wrong_field_count`` One row gets an extra field (klines: 13 fields; allOrders: extra key).
``duplicate_rows``    Repeat [``rows``] rows (default 1) right after themselves.
``set_value``         Set one well-formed but implausible value: [``value``] (default
                      "-1.00000000") into klines index ``field`` (default 5, volume) or the
                      allOrders key ``field`` (default "executedQty"); for the quality checks.
                      ``minute`` / ``order_id`` pick the row (see below), e.g.
                      ``{"kind": "set_value", "minute": T, "field": 2, "value": "1.00000000"}``.
``misorder``          Move the page's last row to index [``at``] (default the middle,
                      ``len // 2``; clamped so the row does move): rows out of order.
``reverse``           The page's rows in reverse order.
``empty``             HTTP 200 with ``[]`` instead of the rows (with ``count``: only the first
                      matching requests).
``conflicting_duplicate``  Insert right after the target row a row with the same identity and
                      other values: klines the same open time with close + 1.00 (high raised to
                      it if needed) and twice the volume; allOrders the same orderId with
                      another status (FILLED, or CANCELED when it was FILLED), its executedQty,
                      cummulativeQuoteQty and ``updateTime + 1``.
``off_minute``        Klines only: the target row's open and close times shifted by [``ms``]
                      (default 30000, i.e. 30 s): a row not on the minute.
``rest_gap``          Klines only: REST answers lack the minutes opening at [``minute``] (an open
                      time in ms, or a list of them) and the ``span - 1`` minutes after each
                      (``span`` default 1), while the archive keeps them (REST lost data the
                      archive has). They are skipped as the page is selected, as a real gap is:
                      a page is still filled with the minutes after them; intervals other than
                      1m are aggregated without them. Without ``count`` it holds until reset
                      (with ``count``, give ``path`` /api/v3/klines: any matching request spends it).
``trickle``           Send the status line and headers at once, then the body at [``rate``]
                      bytes per second (default 100), in pieces every 0.1 s: a client's
                      per-read timeout never fires while the whole download takes far longer
                      than its timeout. For /api and /data (archive) paths alike, combines with
                      every other kind.
``unpublished``       Archive only (/data paths): the file of [``period``] ("2025-03" is the
                      monthly file, "2025-03-01" the daily one; no period: every file) and its
                      ``.CHECKSUM`` answer 404 NoSuchKey, as a file Binance has not uploaded
                      yet. With ``symbol`` for one pair; without ``count`` it holds until reset.
``outside_window``    Add one row whose open time (allOrders: ``time``) is outside the asked
                      window: after ``endTime`` if given, else before ``startTime``, else one
                      minute / hour in the future.
``clock_skew``        Shift the server clock by [``ms``] (may be negative) from now on, on top
                      of ``--clock-offset-ms``; path and count are ignored. Reset clears it.
``unknown_symbol``    [``symbol``] is not served, as Binance treats a delisted or unknown pair:
                      every /api request naming it answers HTTP 400 -1121 "Invalid symbol."
                      (after the usual weight and signature checks), exchangeInfo without a
                      symbol omits it, and its archive files are 404. Path and count are ignored:
                      it holds until replaced or reset.
``symbol_status``     exchangeInfo reports ``status`` (default "BREAK"; one of Binance's
                      PRE_TRADING, TRADING, POST_TRADING, END_OF_DAY, HALT, AUCTION_MATCH,
                      BREAK) for [``symbol``]; klines, orders and archive still answer, as for a
                      halted pair on Binance. Path and count are ignored, as for unknown_symbol.
====================  ===========================================================================

The target row of a kind that changes one row (missing_field, bad_number, wrong_field_count,
set_value, duplicate_rows, conflicting_duplicate, off_minute) is the middle one (index
``len(rows) // 2``, never the first or last), or with ``minute`` (klines: that open time in ms)
or ``order_id`` (order lists: that orderId) the row so identified; a page without it is left
as it is (the fault is spent all the same).
Data kinds act only on 200 answers of /api/v3/klines, /api/v3/allOrders and /api/v3/openOrders
(``off_minute`` on klines only), in the order listed; a matching request spends the fault
either way. Answer kinds (429, 418, 5xx, html, drop, unpublished) replace the answer
and use no request weight; at most one applies per request (the first in the list); ``slow``,
``truncate``, ``trickle`` and data kinds combine with each other.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Collection, Optional

from binance_emulator import archive

ANSWER_KINDS = frozenset({"429", "418", "5xx", "html", "drop", "unpublished"})
DATA_KINDS = frozenset(
    {"missing_field", "bad_number", "wrong_field_count", "duplicate_rows", "outside_window", "set_value",
     "misorder", "reverse", "empty", "conflicting_duplicate", "off_minute"}
)
STATE_KINDS = frozenset({"unknown_symbol", "symbol_status"})
"""Kinds that change what the market is rather than one answer: never spent, read by the server."""
KINDS = ANSWER_KINDS | DATA_KINDS | STATE_KINDS | {"slow", "truncate", "trickle", "rest_gap", "clock_skew"}
SYMBOL_STATUSES = ("PRE_TRADING", "TRADING", "POST_TRADING", "END_OF_DAY", "HALT", "AUCTION_MATCH", "BREAK")
"""Binance's spot symbol statuses (exchangeInfo ``status``)."""
_ARG_KEY = {
    "429": "retry_after",
    "418": "retry_after",
    "5xx": "status",
    "html": "status",
    "slow": "seconds",
    "missing_field": "field",
    "bad_number": "field",
    "duplicate_rows": "rows",
    "set_value": "value",
    "misorder": "at",
    "off_minute": "ms",
    "rest_gap": "minute",
    "trickle": "rate",
    "unpublished": "period",
    "clock_skew": "ms",
    "unknown_symbol": "symbol",
    "symbol_status": "symbol",
}
_INT_KEYS = frozenset({"retry_after", "rows", "ms", "span", "order_id", "at", "rate"})


@dataclass
class Fault:
    """One fault spec (see the module docstring for the meaning of each key)."""

    kind: str
    path: str = ""
    count: Optional[int] = None
    symbol: Optional[str] = None
    retry_after: Optional[int] = None
    status: Optional[int | str] = None
    body: str = "json"
    seconds: float = 2.0
    field: Optional[Any] = None
    rows: int = 1
    ms: int = 0
    value: Any = "-1.00000000"
    minute: Optional[int | list[int]] = None
    span: int = 1
    order_id: Optional[int] = None
    at: Optional[int] = None
    rate: int = 100
    period: Optional[str] = None

    def matches(self, path: str, symbols: Collection[str] = ()) -> bool:
        """True for a request to ``path`` naming ``symbols`` (see the module docstring)."""
        if self.symbol is not None and self.symbol not in symbols:
            return False
        if self.kind == "unpublished":
            parsed = archive.parse(path)
            if parsed is None or (self.period is not None and parsed[2] != self.period):
                return False
        return self.path in ("", "*") or path.startswith(self.path)

    def minutes(self) -> frozenset[int]:
        """The open times ``rest_gap`` drops: each ``minute`` and the ``span - 1`` after it."""
        firsts = self.minute if isinstance(self.minute, list) else [self.minute]
        return frozenset(m + i * 60_000 for m in firsts if m is not None for i in range(max(1, self.span)))

    @classmethod
    def from_dict(cls, d: dict) -> "Fault":
        """Build from the JSON form; unknown kinds or keys raise ValueError."""
        d = dict(d)
        kind = str(d.pop("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(KINDS)}")
        known = set(cls.__dataclass_fields__) - {"kind"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)} for kind {kind!r}")
        f = cls(kind=kind, **d)
        if f.count is not None:
            f.count = int(f.count)
        f._check()
        return f

    def _check(self) -> None:
        """Refuse specs that would silently do nothing or the wrong thing; fill defaults."""
        if self.kind == "clock_skew" and self.symbol is not None:
            raise ValueError("clock_skew moves the whole server clock: it takes no 'symbol'")
        minutes = self.minute if isinstance(self.minute, list) else [self.minute]
        if not all(m is None or (isinstance(m, int) and not isinstance(m, bool)) for m in minutes):
            raise ValueError(f"'minute' is an open time in ms (or, for rest_gap, a list of them), got {self.minute!r}")
        if isinstance(self.minute, list) and self.kind != "rest_gap":
            raise ValueError(f"fault kind {self.kind!r} targets one row: 'minute' is one open time")
        if self.kind == "rest_gap" and self.minute in (None, []):
            raise ValueError("fault kind 'rest_gap' needs a 'minute' (an open time in ms, or a list)")
        if self.kind == "trickle" and int(self.rate) < 1:
            raise ValueError("trickle 'rate' is bytes per second, at least 1")
        if self.kind not in STATE_KINDS:
            return
        if not self.symbol:
            raise ValueError(f"fault kind {self.kind!r} needs a 'symbol'")
        self.count = None  # a market state is never spent
        if self.kind == "symbol_status":
            self.status = self.status or "BREAK"
            if self.status not in SYMBOL_STATUSES:
                raise ValueError(f"symbol_status 'status' must be one of {list(SYMBOL_STATUSES)}, "
                                 f"got {self.status!r}")

    @classmethod
    def from_cli(cls, text: str) -> "Fault":
        """Parse ``KIND:PATH:COUNT[:ARG][:KEY=VALUE...]`` (COUNT ``*`` or empty = unlimited)."""
        parts = text.split(":")
        if len(parts) < 3:
            raise ValueError(f"--fault wants KIND:PATH:COUNT[:ARG][:KEY=VALUE...], got {text!r}")
        kind, path, count, extras = parts[0], parts[1], parts[2], parts[3:]
        d: dict[str, Any] = {"kind": kind, "path": path}
        if count not in ("*", ""):
            d["count"] = int(count)
        if extras and "=" not in extras[0]:
            key = _ARG_KEY.get(kind)
            if key is None:
                raise ValueError(f"fault kind {kind!r} takes no argument")
            d[key] = _cli_value(kind, key, extras.pop(0))
        for extra in extras:
            key, eq, value = extra.partition("=")
            if not eq:
                raise ValueError(f"--fault {text!r}: after ARG come KEY=VALUE parts, got {extra!r}")
            d[key] = _cli_value(kind, key, value)
        return cls.from_dict(d)

    def to_dict(self) -> dict:
        return asdict(self)


def _cli_value(kind: str, key: str, text: str) -> Any:
    """A command-line text as the JSON form carries it: numbers for the numeric keys."""
    if key in _INT_KEYS or (key == "status" and kind != "symbol_status"):
        return int(text)
    if key == "seconds":
        return float(text)
    if key in ("field", "value"):  # a klines index, or an allOrders key / any value
        return int(text) if text.lstrip("-").isdigit() else text
    if key == "minute":  # one open time, or (rest_gap) a comma-separated list
        return [int(t) for t in text.split(",")] if "," in text else int(text)
    return text


class FaultBook:
    """The current faults, shared by all request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.clock_skew_ms = 0
        self.applied = 0

    def replace(self, faults: list[Fault]) -> None:
        """Install ``faults`` instead of the current ones; ``clock_skew`` kinds apply at once."""
        with self._lock:
            self._faults = []
            for f in faults:
                if f.kind == "clock_skew":
                    self.clock_skew_ms = int(f.ms)
                else:
                    self._faults.append(f)

    def clear(self) -> None:
        with self._lock:
            self._faults = []
            self.clock_skew_ms = 0
            self.applied = 0

    def describe(self) -> list[dict]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def take(self, path: str, symbols: Collection[str] = ()) -> list[Fault]:
        """The faults for one request to ``path`` naming ``symbols``, spending their counts.

        At most one answer kind is returned (the first matching one); state kinds never are
        (see :meth:`unknown_symbols` and :meth:`symbol_statuses`).
        """
        out: list[Fault] = []
        with self._lock:
            answered = False
            for f in self._faults:
                if f.kind in STATE_KINDS or not f.matches(path, symbols) or (f.count is not None and f.count <= 0):
                    continue
                if f.kind in ANSWER_KINDS:
                    if answered:
                        continue
                    answered = True
                if f.count is not None:
                    f.count -= 1
                out.append(f)
            self._faults = [f for f in self._faults if f.count is None or f.count > 0]
            self.applied += len(out)
        return out


    def unknown_symbols(self) -> frozenset[str]:
        """Symbols an ``unknown_symbol`` fault removes from the market."""
        with self._lock:
            return frozenset(f.symbol for f in self._faults if f.kind == "unknown_symbol" and f.symbol)

    def symbol_statuses(self) -> dict[str, str]:
        """exchangeInfo ``status`` per symbol set by ``symbol_status`` faults (the last one wins)."""
        with self._lock:
            return {f.symbol: str(f.status) for f in self._faults if f.kind == "symbol_status" and f.symbol}


# ---- what each fault does to an answer --------------------------------------------------------

_HTML_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>CloudFront</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_REASONS = {200: "OK", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def html_page(status: int) -> bytes:
    """An HTML error page like a CDN/proxy returns."""
    return _HTML_PAGE.format(status=status, reason=_REASONS.get(status, "Error")).encode()


def truncate(body: bytes) -> bytes:
    """The first half of ``body`` (at least one byte removed)."""
    return body[: max(0, len(body) // 2)] if len(body) > 1 else b""


def _target(fault: Fault, rows: list, klines: bool) -> Optional[int]:
    """Index of the row a one-row fault changes: the middle one, or the one ``minute`` (klines) /
    ``order_id`` (orders) names; None when the page does not hold it."""
    if klines and isinstance(fault.minute, int):
        return next((i for i, r in enumerate(rows) if r and r[0] == fault.minute), None)
    if not klines and fault.order_id is not None:
        return next((i for i, r in enumerate(rows) if r.get("orderId") == fault.order_id), None)
    return len(rows) // 2


def _conflicting(row: Any, klines: bool) -> Any:
    """A row with the same identity as ``row`` (open time / orderId) and other values."""
    other = copy.deepcopy(row)
    if klines:
        close = Decimal(row[4]) + 1
        other[2] = str(max(Decimal(row[2]), close))
        other[4] = str(close)
        other[5] = str(Decimal(row[5]) * 2)
    else:
        filled = row.get("status") != "FILLED"
        other["status"] = "FILLED" if filled else "CANCELED"
        other["executedQty"] = row.get("origQty") if filled else "0.00000000"
        other["cummulativeQuoteQty"] = row.get("cummulativeQuoteQty") if filled else "0.00000000"
        other["updateTime"] = int(row.get("updateTime", 0)) + 1
    return other


def corrupt(fault: Fault, rows: list, endpoint: str, params: dict[str, str], now_ms: int) -> list:
    """Apply a data fault to the parsed JSON rows of ``endpoint`` (klines or an order list)."""
    klines = endpoint.endswith("/klines")
    kind = fault.kind
    if kind == "outside_window":
        return _outside(copy.deepcopy(rows), klines, params, now_ms)
    if kind == "off_minute" and not klines:
        return rows
    if kind == "empty" or not rows:
        return []
    rows = copy.deepcopy(rows)
    if kind == "reverse":
        return rows[::-1]
    if kind == "misorder":
        at = len(rows) // 2 if fault.at is None else fault.at
        rows.insert(max(0, min(at, len(rows) - 2)), rows.pop())
        return rows
    i = _target(fault, rows, klines)
    if i is None:
        return rows
    if kind == "missing_field":
        if klines:
            del rows[i][fault.field if isinstance(fault.field, int) else 4]
        else:
            rows[i].pop(fault.field if isinstance(fault.field, str) else "price", None)
    elif kind == "bad_number":
        key = (fault.field if isinstance(fault.field, int) else 1) if klines else (
            fault.field if isinstance(fault.field, str) else "price")
        rows[i][key] = "abc"
    elif kind == "wrong_field_count":
        if klines:
            rows[i].append("0")
        else:
            rows[i]["unexpectedField"] = "0"
    elif kind == "set_value":
        key = (fault.field if isinstance(fault.field, int) else 5) if klines else (
            fault.field if isinstance(fault.field, str) else "executedQty")
        rows[i][key] = fault.value
    elif kind == "duplicate_rows":
        picked = rows[i : i + max(1, int(fault.rows))]
        rows[i + len(picked) : i + len(picked)] = copy.deepcopy(picked)
    elif kind == "conflicting_duplicate":
        rows.insert(i + 1, _conflicting(rows[i], klines))
    elif kind == "off_minute":
        shift = fault.ms or 30_000
        rows[i][0] += shift
        rows[i][6] += shift
    return rows


def _outside(rows: list, klines: bool, params: dict[str, str], now_ms: int) -> list:
    step = 60_000 if klines else 3_600_000
    end = params.get("endTime")
    start = params.get("startTime")
    if end and end.isdigit():
        t, at_end = int(end) - int(end) % 60_000 + step, True
    elif start and start.isdigit():
        t, at_end = int(start) - int(start) % 60_000 - step, False
    else:
        t, at_end = now_ms - now_ms % 60_000 + step, True
    if klines:
        template = list(rows[len(rows) // 2]) if rows else [0, "1.00000000", "1.00000000", "1.00000000",
                                                             "1.00000000", "1.00000000", 0, "1.00000000",
                                                             1, "0.50000000", "0.50000000", "0"]
        template[0], template[6] = t, t + 59_999
    else:
        template = dict(rows[len(rows) // 2]) if rows else {"symbol": params.get("symbol", ""), "orderId": 1}
        template.update(time=t, updateTime=t, workingTime=t)
        ids = [r.get("orderId", 0) for r in rows] or [1]
        template["orderId"] = max(ids) + 1 if at_end else min(ids) - 1
    return rows + [template] if at_end else [template] + rows


def dumps(rows: Any) -> bytes:
    """Compact JSON like Binance sends."""
    return json.dumps(rows, separators=(",", ":")).encode()
