"""Tests of the emulator's four BTC-USD pairs and its per-symbol faults, over real HTTP.

Each pair must be its own market (candles, orders, archive), close to BTCUSDT as arbitrage keeps
real dollar pairs, and tests must be able to break one pair while the others keep working.
"""

from __future__ import annotations

import hashlib
import io
import json
import urllib.error
import zipfile
from datetime import datetime, timezone

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from binance_emulator import account, market
from binance_emulator.process import EmulatorProcess
from binance_emulator.tests.test_emulator_orders import KEY, SECRET, day_ago

PAIRS = ("BTCUSDT", "BTCUSDC", "BTCFDUSD", "BTCUSD")
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000


def client(url: str) -> Client:
    """python-binance pointed at the emulator, with its credentials (signed calls work)."""
    c = Client(KEY, SECRET, ping=False)
    c.API_URL = url + "/api"
    return c


def klines(url: str, symbol: str, **params: object) -> requests.Response:
    return requests.get(url + "/api/v3/klines", params={"symbol": symbol, "interval": "1m", **params}, timeout=10)


def archive_url(url: str, symbol: str, day_ms: int) -> str:
    period = datetime.fromtimestamp(day_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")
    return f"{url}/data/spot/daily/klines/{symbol}/1m/{symbol}-1m-{period}.zip"


def exchange_symbols(url: str, **params: str) -> dict[str, str]:
    """exchangeInfo's symbols and their status."""
    info = requests.get(url + "/api/v3/exchangeInfo", params=params, timeout=10).json()
    return {s["symbol"]: s["status"] for s in info["symbols"]}


def assert_invalid_symbol(resp: requests.Response) -> None:
    assert (resp.status_code, resp.json()) == (400, {"code": -1121, "msg": "Invalid symbol."})


# ---- every pair is its own market ---------------------------------------------------------------


def test_exchange_info_lists_every_pair_trading(fresh: EmulatorProcess) -> None:
    assert exchange_symbols(fresh.url) == {pair: "TRADING" for pair in PAIRS}
    for pair in PAIRS:
        assert exchange_symbols(fresh.url, symbol=pair) == {pair: "TRADING"}


def test_each_pair_has_its_own_candles_close_to_btcusdt(fresh: EmulatorProcess) -> None:
    """Dollar pairs track each other within a fraction of a percent, but are never the same."""
    start = day_ago(2) + 18 * HOUR  # the window crosses midnight
    rows = {pair: client(fresh.url).get_klines(symbol=pair, interval="1m", startTime=start, limit=1000)
            for pair in PAIRS}
    for pair, got in rows.items():
        assert got == market.minute_rows(pair, start, got[-1][0], seed=0), pair
        assert len(got) > 990
        assert all(b[1] == a[4] for a, b in zip(got, got[1:]) if b[0] == a[0] + MINUTE), "open = last close"
    closes = {pair: {r[0]: float(r[4]) for r in got} for pair, got in rows.items()}
    reference = closes["BTCUSDT"]
    for pair in PAIRS[1:]:
        common = [t for t in closes[pair] if t in reference]
        ratios = [closes[pair][t] / reference[t] for t in common]
        assert all(abs(r - 1) < 0.005 for r in ratios), (pair, min(ratios), max(ratios))
        assert sum(r != 1 for r in ratios) > 0.95 * len(ratios), pair
    volumes = {pair: sum(float(r[5]) for r in got) for pair, got in rows.items()}
    assert len(set(volumes.values())) == 4, volumes
    assert max(volumes, key=volumes.__getitem__) == "BTCUSDT", "BTCUSDT is the deepest market"


def test_each_pair_has_its_own_orders(fresh: EmulatorProcess) -> None:
    start = day_ago(1) + 3 * HOUR
    end = start + 2 * HOUR - 1
    times = {}
    for pair in PAIRS:
        orders = client(fresh.url).get_all_orders(symbol=pair, startTime=start, endTime=end, limit=1000)
        assert orders == account.orders_between(pair, start, end, seed=0), pair
        assert orders and {o["symbol"] for o in orders} == {pair}
        limit_prices = [float(o["price"]) for o in orders if o["type"] == "LIMIT"]
        candle = float(market.minute_rows(pair, start, start + 10 * MINUTE)[0][1])
        assert all(abs(p / candle - 1) < 0.05 for p in limit_prices), pair  # near the pair's market
        times[pair] = tuple(o["time"] for o in orders)
    assert len(set(times.values())) == 4, "each pair has its own orders"


def test_each_pair_has_its_own_archive(fresh: EmulatorProcess) -> None:
    day = day_ago(2)
    contents = {}
    for pair in PAIRS:
        z = requests.get(archive_url(fresh.url, pair, day), timeout=30)
        c = requests.get(archive_url(fresh.url, pair, day) + ".CHECKSUM", timeout=30)
        assert z.status_code == 200 and c.status_code == 200, pair
        name = archive_url(fresh.url, pair, day).rsplit("/", 1)[1]
        assert c.text == f"{hashlib.sha256(z.content).hexdigest()}  {name}\n"
        with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
            text = zf.read(name.replace(".zip", ".csv")).decode()
        first = text.splitlines()[0].split(",")
        rest = market.minute_rows(pair, day, day + DAY - 1, seed=0)
        assert len(text.splitlines()) == len(rest)
        assert int(first[0]) == rest[0][0] * 1000 and first[1:6] == rest[0][1:6], pair
        contents[pair] = text
    assert len(set(contents.values())) == 4


# ---- per-symbol faults --------------------------------------------------------------------------


def test_unknown_symbol_fault_removes_one_pair_only(fresh: EmulatorProcess) -> None:
    fresh.set_faults([{"kind": "unknown_symbol", "symbol": "BTCUSDC"}])
    assert_invalid_symbol(klines(fresh.url, "BTCUSDC", limit=1))
    assert_invalid_symbol(requests.get(fresh.url + "/api/v3/exchangeInfo", params={"symbol": "BTCUSDC"}, timeout=10))
    assert_invalid_symbol(requests.get(fresh.url + "/api/v3/exchangeInfo",
                                       params={"symbols": json.dumps(["BTCUSDT", "BTCUSDC"])}, timeout=10))
    with pytest.raises(BinanceAPIException) as exc:
        client(fresh.url).get_all_orders(symbol="BTCUSDC", limit=1)
    assert (exc.value.status_code, exc.value.code) == (400, -1121)
    assert requests.get(archive_url(fresh.url, "BTCUSDC", day_ago(2)), timeout=30).status_code == 404
    assert exchange_symbols(fresh.url) == {"BTCUSDT": "TRADING", "BTCFDUSD": "TRADING", "BTCUSD": "TRADING"}
    # the other pairs still work, REST, signed and archive
    assert klines(fresh.url, "BTCUSDT", limit=1).status_code == 200
    assert len(client(fresh.url).get_all_orders(symbol="BTCUSDT", limit=1)) == 1
    assert requests.get(archive_url(fresh.url, "BTCUSD", day_ago(2)), timeout=30).status_code == 200
    assert fresh.faults()["faults"][0]["symbol"] == "BTCUSDC", "a market state is never spent"
    fresh.set_faults([])
    assert klines(fresh.url, "BTCUSDC", limit=1).status_code == 200


def test_symbol_status_fault_shows_in_exchange_info(fresh: EmulatorProcess) -> None:
    fresh.set_faults([{"kind": "symbol_status", "symbol": "BTCFDUSD", "status": "HALT"},
                      {"kind": "symbol_status", "symbol": "BTCUSD"}])
    assert exchange_symbols(fresh.url) == {
        "BTCUSDT": "TRADING", "BTCUSDC": "TRADING", "BTCFDUSD": "HALT", "BTCUSD": "BREAK"}
    assert exchange_symbols(fresh.url, symbol="BTCFDUSD") == {"BTCFDUSD": "HALT"}
    halted = klines(fresh.url, "BTCFDUSD", limit=3)
    assert halted.status_code == 200 and len(halted.json()) == 3, "a halted pair's candles still answer"


def test_fault_with_symbol_hits_that_symbol_only(fresh: EmulatorProcess) -> None:
    fresh.set_faults([{"kind": "5xx", "path": "/api/v3/klines", "symbol": "BTCUSDC", "count": 1}])
    assert klines(fresh.url, "BTCUSDT", limit=1).status_code == 200
    assert fresh.faults()["faults"][0]["count"] == 1, "another symbol does not spend it"
    assert klines(fresh.url, "BTCUSDC", limit=1).status_code == 503
    assert klines(fresh.url, "BTCUSDC", limit=1).status_code == 200

    start = day_ago(1)
    fresh.set_faults([{"kind": "bad_number", "path": "/api/v3/klines", "symbol": "BTCUSD"}])
    assert "abc" not in klines(fresh.url, "BTCUSDT", startTime=start, limit=9).text
    assert "abc" in [r[1] for r in klines(fresh.url, "BTCUSD", startTime=start, limit=9).json()]

    fresh.set_faults([{"kind": "429", "symbol": "BTCUSDC"}, {"kind": "5xx", "path": "/data/", "symbol": "BTCFDUSD"}])
    assert klines(fresh.url, "BTCUSDC", limit=1).status_code == 429
    with pytest.raises(BinanceAPIException) as exc:
        client(fresh.url).get_all_orders(symbol="BTCUSDC", limit=1)
    assert exc.value.status_code == 429
    assert len(client(fresh.url).get_all_orders(symbol="BTCUSD", limit=1)) == 1
    assert requests.get(fresh.url + "/api/v3/exchangeInfo", timeout=10).status_code == 200, "names no symbol"
    assert requests.get(fresh.url + "/api/v3/exchangeInfo",
                        params={"symbols": json.dumps(["BTCUSDT", "BTCUSDC"])}, timeout=10).status_code == 429
    assert requests.get(archive_url(fresh.url, "BTCFDUSD", day_ago(2)), timeout=30).status_code == 503
    assert requests.get(archive_url(fresh.url, "BTCUSDT", day_ago(2)), timeout=30).status_code == 200


def test_symbol_faults_on_the_command_line_and_old_symbol_option() -> None:
    """``--fault`` takes the new kinds and ``symbol=``; ``--symbol`` still adds a served symbol."""
    faults = ["unknown_symbol:::BTCUSD", "symbol_status:::BTCFDUSD:status=HALT",
              "5xx:/api/v3/klines:*:502:symbol=BTCUSDC"]
    with EmulatorProcess(symbol="ETHUSDT", faults=faults) as emu:
        assert exchange_symbols(emu.url) == {
            "BTCUSDT": "TRADING", "BTCUSDC": "TRADING", "BTCFDUSD": "HALT", "ETHUSDT": "TRADING"}
        assert_invalid_symbol(klines(emu.url, "BTCUSD", limit=1))
        assert klines(emu.url, "BTCUSDC", limit=1).status_code == 502
        assert klines(emu.url, "BTCUSDT", limit=1).status_code == 200


@pytest.mark.parametrize("spec", [
    {"kind": "unknown_symbol"},
    {"kind": "symbol_status", "symbol": "BTCUSDT", "status": "SLEEPING"},
    {"kind": "clock_skew", "ms": 1000, "symbol": "BTCUSDT"},
], ids=["no symbol", "bad status", "clock skew per symbol"])
def test_meaningless_symbol_faults_are_refused(fresh: EmulatorProcess, spec: dict) -> None:
    with pytest.raises(urllib.error.HTTPError) as exc:
        fresh.set_faults([spec])
    assert exc.value.code == 400
    assert fresh.faults()["faults"] == []
