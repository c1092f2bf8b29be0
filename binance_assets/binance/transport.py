"""HTTP below the Binance resource and the archive, through documented extension points only.

* A deadline for a whole request: requests' timeout applies to each socket read, so a body
  trickled a few bytes at a time never times out (104 s against a 10 s timeout). urllib3's
  ``Timeout(total=...)`` bounds connect plus headers; a response hook reads the body while a
  watchdog shuts the socket down at the deadline (``HTTPResponse.shutdown()``) and raises
  ``DeadlineExceeded``, a ``requests.Timeout``, retried as any timeout is.
* ``BinanceAuth`` (a requests auth, reaching python-binance through its documented
  ``requests_params``) sends its requests to ``api_url`` and re-signs signed ones with Binance's
  clock: python-binance documents neither a base URL nor a clock offset.
"""

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
    """``requests`` arguments that bound a whole request to ``seconds``; ``hooks`` see each
    response's headers before the body is read."""
    return {"timeout": Timeout(total=seconds), "hooks": {"response": [*hooks, _body_within(seconds)]}}


def _body_within(seconds: float) -> Hook:
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
    """Sends a request python-binance built to ``api_url``; a signed one gets ``timestamp`` from
    ``clock_ms`` (Binance's clock) and a new HMAC-SHA256 signature of its query string."""

    def __init__(self, api_url: str, secret: str | None, clock_ms: Callable[[], int]) -> None:
        self._base, self._secret, self._clock_ms = api_url.rstrip("/"), secret, clock_ms

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
    """The JSON of an answer python-binance has no method for, or the exception it would raise."""
    from binance.exceptions import BinanceAPIException, BinanceRequestException

    if not 200 <= response.status_code < 300:
        raise BinanceAPIException(response, response.status_code, response.text)
    try:
        return response.json()
    except ValueError:
        raise BinanceRequestException(f"Invalid Response: {response.text[:200]}") from None
