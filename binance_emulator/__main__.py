"""Command line: ``python -m binance_emulator --host 127.0.0.1 --port PORT [options]``.

Prints ``listening on http://HOST:PORT`` (flushed) once the socket is bound; ``--port 0`` picks a
free port and prints the real one. Serves BTCUSDT, BTCUSDC, BTCFDUSD and BTCUSD.

A malformed ``--api-key``, or ``--api-key`` without a ``--api-secret``, stops it at once (exit 2):
started, it could only answer every signed request with an error, far from the cause. So does a
malformed ``--fault`` or ``--outage``.

``--outage START_MS:END_MS`` (repeatable): an exchange outage; no symbol has a candle in a minute
overlapping ``[START_MS, END_MS)``, in REST and the archive alike (``POST /_emulator/outages``
adds one at run time). Endpoints, admin endpoints and fault kinds are listed below.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Optional

from binance_emulator import faults, server
from binance_emulator.faults import Fault
from binance_emulator.server import Config, make_server


API_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{64}")


def credentials_problem(api_key: Optional[str], api_secret: Optional[str]) -> Optional[str]:
    """Why these credentials cannot work, or None. Only the key's first 4 characters are shown."""
    if api_key is None:
        return None
    if not API_KEY_FORMAT.fullmatch(api_key):
        return (f"argument --api-key: {api_key[:4]!r}... ({len(api_key)} characters) is not a Binance API key: "
                "a key is 64 letters and digits, and Binance answers any other with -2014 'API-key format invalid.'")
    if not api_secret:
        return "argument --api-secret: required and not empty with --api-key (every signature is checked with it)"
    return None


def parse_outage(text: str) -> tuple[int, int]:
    """``START_MS:END_MS`` as a window, start before end (argparse shows the ValueError)."""
    start, sep, end = text.partition(":")
    if not (sep and start.isdigit() and end.isdigit() and int(start) < int(end)):
        raise ValueError(f"--outage wants START_MS:END_MS with START_MS < END_MS, got {text!r}")
    return int(start), int(end)


def parse_args(argv: Optional[list[str]] = None) -> Config:
    p = argparse.ArgumentParser(
        prog="python -m binance_emulator", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Endpoints and admin endpoints (binance_emulator.server):\n" + server.__doc__
        + "\nFaults (binance_emulator.faults):\n" + faults.__doc__,
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--api-key", default=None,
                   help="the only valid X-MBX-APIKEY, 64 letters and digits like Binance's "
                        "(signed endpoints answer -2015 without)")
    p.add_argument("--api-secret", default=None, help="HMAC secret for signatures")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic candles and orders")
    p.add_argument("--weight-limit", type=int, default=6000,
                   help="REQUEST_WEIGHT per minute per IP: enforced, and what exchangeInfo's rateLimits say")
    p.add_argument("--clock-offset-ms", type=int, default=0,
                   help="server clock skew (may be negative): time, serverTime, signed timestamps, the open "
                        "candle, order states and archive availability all follow it")
    p.add_argument("--symbol", default="BTCUSDT",
                   help="one more served symbol (BTCUSDT, BTCUSDC, BTCFDUSD and BTCUSD always are); "
                        "kept for old command lines")
    p.add_argument("--fault", action="append", default=[], metavar="KIND:PATH:COUNT[:ARG][:KEY=VALUE...]",
                   help="inject a fault (repeatable); kinds below")
    p.add_argument("--outage", action="append", default=[], metavar="START_MS:END_MS",
                   help="exchange outage (repeatable): no symbol has candles in minutes overlapping "
                        "[START_MS, END_MS), REST and archive alike")
    a = p.parse_args(argv)
    problem = credentials_problem(a.api_key, a.api_secret)
    if problem:
        p.error(problem)
    try:
        specs = [Fault.from_cli(text) for text in a.fault]
    except ValueError as exc:
        p.error(f"argument --fault: {exc}")
    try:
        outages = [parse_outage(text) for text in a.outage]
    except ValueError as exc:
        p.error(f"argument --outage: {exc}")
    return Config(
        host=a.host, port=a.port, api_key=a.api_key, api_secret=a.api_secret, seed=a.seed,
        weight_limit=a.weight_limit, clock_offset_ms=a.clock_offset_ms, symbol=a.symbol, faults=specs,
        outages=outages,
    )


def main(argv: Optional[list[str]] = None) -> int:
    config = parse_args(argv)
    server = make_server(config)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
