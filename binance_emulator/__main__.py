"""Command line: ``python -m binance_emulator --host 127.0.0.1 --port PORT [options]``.

Prints ``listening on http://HOST:PORT`` (flushed) once the socket is bound; ``--port 0`` picks a
free port and prints the real one.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Optional

from binance_emulator.faults import Fault
from binance_emulator.server import Config, make_server


API_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{64}")


def parse_args(argv: Optional[list[str]] = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m binance_emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--api-key", default=None, help="the only valid X-MBX-APIKEY (signed endpoints answer -2015 without)")
    p.add_argument("--api-secret", default=None, help="HMAC secret for signatures")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic candles and orders")
    p.add_argument("--weight-limit", type=int, default=6000, help="REQUEST_WEIGHT per minute per IP")
    p.add_argument("--clock-offset-ms", type=int, default=0, help="server clock skew (may be negative)")
    p.add_argument("--symbol", default="BTCUSDT", help="one more served symbol (BTCUSDT, BTCUSDC, BTCFDUSD and BTCUSD always are)")
    p.add_argument("--fault", action="append", default=[], metavar="KIND:PATH:COUNT[:ARG]",
                   help="inject a fault (repeatable); see binance_emulator.faults")
    a = p.parse_args(argv)
    if a.api_key is not None and not API_KEY_FORMAT.fullmatch(a.api_key):
        p.error(f"--api-key {a.api_key[:4]}…: a Binance API key is 64 letters and digits "
                f"(Binance answers any other with -2014 'API-key format invalid')")
    try:
        faults = [Fault.from_cli(text) for text in a.fault]
    except ValueError as exc:
        p.error(str(exc))
    return Config(
        host=a.host, port=a.port, api_key=a.api_key, api_secret=a.api_secret, seed=a.seed,
        weight_limit=a.weight_limit, clock_offset_ms=a.clock_offset_ms, symbol=a.symbol, faults=faults,
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
