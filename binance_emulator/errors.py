"""Binance's error answers: ``{"code": N, "msg": "..."}`` with the HTTP status Binance uses.

Messages are Binance's own texts (spot REST error-code list), so client code that matches on them
behaves as against the real API.
"""

from __future__ import annotations

import json


class ApiError(Exception):
    """An error answer: HTTP ``status`` with Binance's JSON body."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}

    def body(self) -> bytes:
        return json.dumps({"code": self.code, "msg": self.msg}, separators=(",", ":")).encode()


def mandatory(name: str) -> ApiError:
    """-1102: a mandatory parameter is absent or empty."""
    return ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal_chars(name: str, legal: str) -> ApiError:
    """-1100: a parameter does not match its format (e.g. a non-integer ``limit``)."""
    return ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def invalid_value(name: str) -> ApiError:
    """-1130: a well-formed parameter with a value out of range (e.g. ``limit`` > 1000)."""
    return ApiError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def bad_symbol() -> ApiError:
    return ApiError(400, -1121, "Invalid symbol.")


def bad_interval() -> ApiError:
    return ApiError(400, -1120, "Invalid interval.")


def start_after_end() -> ApiError:
    return ApiError(400, -1023, "Start time is greater than end time.")


def window_too_long(hours: int = 24) -> ApiError:
    return ApiError(400, -1127, f"More than {hours} hours between startTime and endTime.")


def duplicate_param() -> ApiError:
    return ApiError(400, -1101, "Duplicate values for a parameter detected.")


def too_much_weight(limit: int, retry_after: int) -> ApiError:
    """HTTP 429: the minute's weight would go over the limit."""
    return ApiError(
        429,
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
        {"Retry-After": str(retry_after)},
    )


def banned(until_ms: int, retry_after: int) -> ApiError:
    """HTTP 418: the IP kept sending after 429s and is banned until ``until_ms``."""
    return ApiError(
        418,
        -1003,
        f"Way too much request weight used; IP banned until {until_ms}. "
        "Please use the websocket for live updates to avoid bans.",
        {"Retry-After": str(retry_after)},
    )


def either_mandatory(first: str, second: str) -> ApiError:
    """-1102 as Binance words it when one of two alternative parameters must be sent."""
    return ApiError(400, -1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


def no_such_order() -> ApiError:
    """-2013: GET /api/v3/order for an order the account does not have (yet)."""
    return ApiError(400, -2013, "Order does not exist.")
