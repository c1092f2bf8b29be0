"""Checks of SIGNED (USER_DATA) requests, in the order Binance applies them.

1. ``X-MBX-APIKEY`` header: absent or malformed -> -2014 "API-key format invalid." (HTTP 401);
   not the emulator's key (or no key configured) -> -2015 (HTTP 401).
2. Mandatory ``timestamp`` and ``signature`` -> -1102 (HTTP 400); non-numeric -> -1100.
3. ``recvWindow`` (default 5000) above 60000 -> -1131 (HTTP 400).
4. ``signature`` must be the hex HMAC-SHA256, keyed with the secret, of the raw query string with
   the ``signature`` parameter removed -> else -1022 (HTTP 400).
5. Accepted only if ``timestamp < serverTime + 1000`` and ``serverTime - timestamp <= recvWindow``
   -> else -1021 (HTTP 400).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Optional

from binance_emulator.errors import ApiError, illegal_chars, mandatory

DEFAULT_RECV_WINDOW = 5000.0
MAX_RECV_WINDOW = 60000.0
_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{1,128}$")
_NUMBER = re.compile(r"^[0-9]{1,20}$")
_DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,3})?$")


def unsigned_payload(raw_query: str) -> str:
    """The raw query string without its ``signature=...`` part: what the client signed."""
    return "&".join(p for p in raw_query.split("&") if p and not p.startswith("signature="))


def sign(raw_query: str, secret: str) -> str:
    """Hex HMAC-SHA256 of ``raw_query`` with ``secret`` (what clients send as ``signature``)."""
    return hmac.new(secret.encode(), raw_query.encode(), hashlib.sha256).hexdigest()


def check_api_key(header_key: Optional[str], api_key: Optional[str]) -> None:
    """Step 1: the API key header."""
    if header_key is None or not _KEY_FORMAT.match(header_key):
        raise ApiError(401, -2014, "API-key format invalid.")
    if api_key is None or not hmac.compare_digest(header_key, api_key):
        raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")


def check_signed(
    raw_query: str,
    params: dict[str, str],
    api_secret: Optional[str],
    server_ms: int,
) -> None:
    """Steps 2-5 (the key was already accepted by :func:`check_api_key`)."""
    ts_text = params.get("timestamp", "")
    if ts_text == "":
        raise mandatory("timestamp")
    if not _NUMBER.match(ts_text):
        raise illegal_chars("timestamp", "^[0-9]{1,20}$")
    sig = params.get("signature", "")
    if sig == "":
        raise mandatory("signature")
    recv_text = params.get("recvWindow")
    recv = DEFAULT_RECV_WINDOW
    if recv_text is not None:
        if not _DECIMAL.match(recv_text):
            raise illegal_chars("recvWindow", "^[0-9]{1,20}(\\.[0-9]{1,3})?$")
        recv = float(recv_text)
    if recv > MAX_RECV_WINDOW:
        raise ApiError(400, -1131, "recvWindow must be less than 60000")
    expected = sign(unsigned_payload(raw_query), api_secret or "")
    if api_secret is None or not hmac.compare_digest(expected, sig.lower()):
        raise ApiError(400, -1022, "Signature for this request is not valid.")
    ts = int(ts_text)
    if not (ts < server_ms + 1000 and server_ms - ts <= recv):
        raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
