"""HTTP below the Binance resource and the archive, through documented extension points only.

* A deadline for a whole request. requests applies its timeout to each socket read, so a body
  trickled a few bytes at a time never times out (104 s against a 10 s timeout). Here urllib3's
  ``Timeout(total=...)`` bounds connect plus headers, and a response hook reads the body while a
  watchdog shuts the socket down at the deadline (urllib3's ``HTTPResponse.shutdown()``, made
  for interrupting a read from another thread). A request past its deadline raises
  ``DeadlineExceeded``, a ``requests.Timeout``, so it is retried as any timeout is.
* ``BinanceAuth``, a requests auth callable (requests lets one change the prepared request):
  python-binance builds every request for its own hosts and stamps signed ones with the host's
  clock; this sends them to ``api_url`` and re-signs signed ones with Binance's clock, because
  python-binance documents neither a base URL nor a clock offset (``requests_params``, which it
  documents, is how this reaches its requests).
* ``binance_json``: an answer read as python-binance reads it, raising its exceptions, for the
  calls python-binance has no public method for.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from urllib3.util import Timeout

Hook = Callable[..., Any]
SIGNED_FIELDS = ("timestamp", "signature")


class DeadlineExceeded(requests.Timeout):
    """A request was abandoned at its deadline (connect, headers and body together)."""


def deadline_params(seconds: float, *hooks: Hook) -> dict[str, Any]:
    """Keyword arguments of ``requests`` (and python-binance's ``requests_params``) that bound a
    whole request to ``seconds``; ``hooks`` see each response first (its headers, before the body)."""
    return {"timeout": Timeout(total=seconds), "hooks": {"response": [*hooks, _body_within(seconds)]}}


def _body_within(seconds: float) -> Hook:
    """A response hook reading the body before the deadline that began when the request was sent."""

    def read_body(response: requests.Response, **_: Any) -> None:
        started = time.monotonic() - response.elapsed.total_seconds()
        watchdog = _Watchdog(response, started + seconds - time.monotonic())
        try:
            response.content  # noqa: B018 - reads and keeps the body
        finally:
            if watchdog.stop():  # even a body that "ended": a shut socket reads as its end
                response.close()
                raise DeadlineExceeded(
                    f"{response.url.split('?')[0]} abandoned after {time.monotonic() - started:.1f}s "
                    f"(deadline {seconds:g}s for connect, headers and body)",
                    response=response,
                )

    return read_body


class _Watchdog:
    """Shuts a response's socket down when ``seconds`` have passed, unless the body was read."""

    def __init__(self, response: requests.Response, seconds: float) -> None:
        self._response, self._lock, self._done, self._cut = response, threading.Lock(), False, False
        self._timer = threading.Timer(max(0.0, seconds), self._shut)
        self._timer.daemon = True
        self._timer.start()

    def _shut(self) -> None:
        with self._lock:
            if self._done:
                return
            try:
                self._response.raw.shutdown()  # urllib3 >= 2.3: wakes the read blocked on it
            except (RuntimeError, ValueError, OSError):  # read to its end, back in the pool
                return
            self._cut = True

    def stop(self) -> bool:
        """Stop watching; True when the deadline cut the body short."""
        with self._lock:
            self._done = True
        self._timer.cancel()
        return self._cut


class BinanceAuth(requests.auth.AuthBase):
    """Sends a request python-binance built to ``api_url``; a signed one (it carries
    ``signature``) gets ``timestamp`` from ``clock_ms`` (Binance's clock) and a new HMAC-SHA256
    signature of its query string, as Binance documents."""

    def __init__(self, api_url: str, secret: str | None, clock_ms: Callable[[], int]) -> None:
        self._base = api_url.rstrip("/")
        self._secret = secret
        self._clock_ms = clock_ms

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path, _, query = request.path_url.partition("?")
        if self._secret and "signature=" in query:
            query = self.sign(query)
        request.url = self._base + path + (f"?{query}" if query else "")
        return request

    def sign(self, query: str) -> str:
        fields = [field for field in query.split("&") if field.partition("=")[0] not in SIGNED_FIELDS]
        unsigned = "&".join([*fields, f"timestamp={self._clock_ms()}"])
        signature = hmac.new(self._secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
        return f"{unsigned}&signature={signature}"

    def __repr__(self) -> str:  # never the secret
        return f"BinanceAuth({self._base})"


def binance_json(response: requests.Response) -> Any:
    """The JSON of a Binance answer, or python-binance's exception for it, as its client raises."""
    from binance.exceptions import BinanceAPIException, BinanceRequestException

    if not 200 <= response.status_code < 300:
        raise BinanceAPIException(response, response.status_code, response.text)
    try:
        return response.json()
    except ValueError:
        raise BinanceRequestException(f"Invalid Response: {response.text[:200]}") from None
