"""Tests of the Binance emulator's public market data, limits, archive and faults, over real HTTP."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from binance_emulator import account, market
from binance_emulator.process import EmulatorProcess
from binance_emulator.tests.test_emulator_orders import today_ms

SYMBOL = "BTCUSDT"
MINUTE = 60_000
DAY = 86_400_000
DECIMAL8 = re.compile(r"^\d+\.\d{8}$")


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(seed=0) as emu:
        yield emu


@pytest.fixture()
def fresh(emulator: EmulatorProcess) -> EmulatorProcess:
    """The shared emulator with stats, weights and faults cleared."""
    emulator.reset()
    return emulator


def klines(url: str, **params: object) -> requests.Response:
    params.setdefault("symbol", SYMBOL)
    params.setdefault("interval", "1m")
    return requests.get(url + "/api/v3/klines", params=params, timeout=10)


def test_ping_time_exchange_info(fresh: EmulatorProcess) -> None:
    r = requests.get(fresh.url + "/api/v3/ping", timeout=10)
    assert r.status_code == 200 and r.json() == {}
    assert r.headers["Content-Type"] == "application/json;charset=UTF-8"
    before = int(time.time() * 1000)
    server_time = requests.get(fresh.url + "/api/v3/time", timeout=10).json()["serverTime"]
    assert before - 1000 <= server_time <= int(time.time() * 1000) + 1000
    info = requests.get(fresh.url + "/api/v3/exchangeInfo", timeout=10).json()
    assert info["timezone"] == "UTC"
    weight = [x for x in info["rateLimits"] if x["rateLimitType"] == "REQUEST_WEIGHT"]
    assert weight == [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}]
    by_symbol = {s["symbol"]: s for s in info["symbols"]}
    assert set(by_symbol) == {"BTCUSDT", "BTCUSDC", "BTCFDUSD", "BTCUSD"}
    assert by_symbol["BTCUSDT"]["baseAsset"] == "BTC" and by_symbol["BTCUSDT"]["quoteAsset"] == "USDT"
    assert by_symbol["BTCUSD"]["quoteAsset"] == "USD" and by_symbol["BTCUSD"]["status"] == "TRADING"
    filters = {f["filterType"] for f in by_symbol["BTCUSDT"]["filters"]}
    assert {"PRICE_FILTER", "LOT_SIZE"} <= filters
    one = requests.get(fresh.url + "/api/v3/exchangeInfo", params={"symbol": "ETHUSDT"}, timeout=10)
    assert one.status_code == 400 and one.json()["code"] == -1121
    # weights: ping 1 + time 1 + exchangeInfo 20 + exchangeInfo 20
    assert one.headers["X-MBX-USED-WEIGHT-1M"] == "42"


def test_klines_default_limit_and_open_current_candle(fresh: EmulatorProcess) -> None:
    r = klines(fresh.url)
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 500
    opens = [row[0] for row in rows]
    assert opens == sorted(opens) and len(set(opens)) == 500
    server_time = requests.get(fresh.url + "/api/v3/time", timeout=10).json()["serverTime"]
    current = server_time - server_time % MINUTE
    last_open = rows[-1][0]
    if not market.is_missing(SYMBOL, current, 0) and last_open == current:
        assert rows[-1][6] == current + MINUTE - 1
        assert rows[-1][6] > server_time - 2000  # still open: closes in the future
    assert last_open >= current - 2 * MINUTE
    assert all(row[0] <= server_time for row in rows)


def test_klines_limit_bounds(fresh: EmulatorProcess) -> None:
    start = today_ms() - 3 * DAY
    assert len(klines(fresh.url, startTime=start, limit=1000).json()) == 1000
    for bad, code in ((1001, -1130), (5000, -1130), (0, -1130), ("abc", -1100), (-5, -1100), ("1.5", -1100)):
        r = klines(fresh.url, startTime=start, limit=bad)
        assert r.status_code == 400, bad
        assert r.json()["code"] == code, bad
    assert klines(fresh.url, limit=1001).json() == {
        "code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}


def test_klines_window_and_only_end_time(fresh: EmulatorProcess) -> None:
    start = today_ms() - 2 * DAY + 7 * MINUTE + 123  # not minute-aligned: first open is the next minute
    end = start + 300 * MINUTE
    rows = klines(fresh.url, startTime=start, endTime=end, limit=1000).json()
    expected = [t for t in range(start - start % MINUTE + MINUTE, end + 1, MINUTE) if not market.is_missing(SYMBOL, t, 0)]
    assert [r[0] for r in rows] == expected
    assert all(start <= r[0] <= end for r in rows)
    limited = klines(fresh.url, startTime=start, endTime=end, limit=10).json()
    assert limited == rows[:10]
    only_end = klines(fresh.url, endTime=end, limit=50).json()
    assert len(only_end) == 50 and only_end == rows[-50:]


def test_klines_row_format_and_invariants(fresh: EmulatorProcess) -> None:
    rows = klines(fresh.url, startTime=today_ms() - 5 * DAY, limit=1000).json()
    prev = None
    for row in rows:
        assert len(row) == 12
        assert isinstance(row[0], int) and isinstance(row[6], int) and isinstance(row[8], int)
        assert row[6] == row[0] + MINUTE - 1
        for i in (1, 2, 3, 4, 5, 7, 9, 10):
            assert isinstance(row[i], str) and DECIMAL8.match(row[i]), row
        assert row[11] == "0"
        o, h, l, c = (float(row[i]) for i in (1, 2, 3, 4))
        assert h >= max(o, c) and l <= min(o, c) and l > 0
        assert 1_000 < o < 1_000_000  # BTC-like prices
        vol, quote = float(row[5]), float(row[7])
        assert l * vol * 0.999 <= quote <= h * vol * 1.001
        assert float(row[9]) <= vol and float(row[10]) <= quote
        assert row[8] > 0
        if prev is not None and prev[0] + MINUTE == row[0]:
            assert prev[4] == row[1]  # open = previous close
        prev = row


def test_missing_minute_is_really_missing(fresh: EmulatorProcess) -> None:
    day = today_ms() - 3 * DAY
    gap = next(t for t in range(day, day + DAY, MINUTE) if market.is_missing(SYMBOL, t, 0))
    rows = klines(fresh.url, startTime=gap - 5 * MINUTE, endTime=gap + 5 * MINUTE).json()
    opens = [r[0] for r in rows]
    assert gap not in opens
    assert gap - MINUTE in opens or market.is_missing(SYMBOL, gap - MINUTE, 0)
    assert market.candle(SYMBOL, gap, 0) is None


def test_klines_deterministic_across_windows(fresh: EmulatorProcess) -> None:
    base = today_ms() - 10 * DAY + 3 * MINUTE
    a = klines(fresh.url, startTime=base, limit=1000).json()
    b = klines(fresh.url, startTime=base + 400 * MINUTE, limit=1000).json()
    c = klines(fresh.url, endTime=a[-1][0], limit=1000).json()
    assert c == a
    by_open = {r[0]: r for r in a}
    overlap = [r for r in b if r[0] in by_open]
    assert len(overlap) > 500 and all(by_open[r[0]] == r for r in overlap)
    assert a == market.minute_rows(SYMBOL, base, a[-1][0], seed=0)


def test_klines_other_seed_differs() -> None:
    with EmulatorProcess(seed=7) as other:
        start = today_ms() - DAY
        rows = klines(other.url, startTime=start, limit=5).json()
        assert rows == market.minute_rows(SYMBOL, start, rows[-1][0], seed=7)
        assert rows != market.minute_rows(SYMBOL, start, rows[-1][0], seed=0)


def test_klines_hourly_interval_aggregates_minutes(fresh: EmulatorProcess) -> None:
    hour = today_ms() - 2 * DAY + 5 * 3_600_000
    row = klines(fresh.url, interval="1h", startTime=hour, limit=1).json()[0]
    minutes = market.minute_rows(SYMBOL, hour, hour + 3_600_000 - 1, seed=0)
    assert row[0] == hour and row[6] == hour + 3_600_000 - 1
    assert row[1] == minutes[0][1] and row[4] == minutes[-1][4]
    assert row[2] == max(minutes, key=lambda m: float(m[2]))[2]
    assert row[8] == sum(m[8] for m in minutes)


def test_klines_errors(fresh: EmulatorProcess) -> None:
    cases = [
        ({"symbol": "ETHUSDT"}, -1121, "Invalid symbol."),
        ({"interval": "2m"}, -1120, "Invalid interval."),
        ({"symbol": ""}, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
        ({"interval": ""}, -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."),
    ]
    for params, code, msg in cases:
        r = klines(fresh.url, **params)
        assert r.status_code == 400
        assert r.json() == {"code": code, "msg": msg}
    r = requests.get(fresh.url + "/api/v3/klines", params={"interval": "1m"}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == -1102
    assert klines(fresh.url, symbol="btcusdt").json()["code"] == -1100
    assert klines(fresh.url, startTime=2000, endTime=1000).json()["code"] == -1023
    assert klines(fresh.url, symbol="BTCUSD").status_code == 200


def test_weight_header_increments_by_two(fresh: EmulatorProcess) -> None:
    for _attempt in range(3):  # retry if the UTC minute (the weight window) turns over meanwhile
        seen = [int(klines(fresh.url, limit=1).headers["X-MBX-USED-WEIGHT-1M"]) for _ in range(4)]
        if seen == sorted(seen):
            break
    assert [b - a for a, b in zip(seen, seen[1:])] == [2, 2, 2]
    r = klines(fresh.url, limit=1)
    assert r.headers["X-MBX-USED-WEIGHT"] == r.headers["X-MBX-USED-WEIGHT-1M"]


def test_429_then_418_ban() -> None:
    with EmulatorProcess(weight_limit=10) as emu:
        emu.end_minute_in(50)  # the counters are per minute: the requests below share one
        statuses = [klines(emu.url, limit=1) for _ in range(5)]
        assert [r.status_code for r in statuses] == [200] * 5
        r = klines(emu.url, limit=1)
        assert r.status_code == 429
        assert r.json()["code"] == -1003
        assert r.json()["msg"].startswith("Too much request weight used; current limit is 10 request weight per 1 MINUTE.")
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        answers = [klines(emu.url, limit=1) for _ in range(6)]
        assert [a.status_code for a in answers[:5]] == [429] * 5
        assert answers[5].status_code == 418
        assert answers[5].headers["Retry-After"] == "120"
        assert re.match(r"^Way too much request weight used; IP banned until \d{13}\. ", answers[5].json()["msg"])
        # banned: even cheap requests are refused
        assert requests.get(emu.url + "/api/v3/ping", timeout=10).status_code == 418
        stats = emu.stats()
        assert stats["status_429"] == 6 and stats["status_418"] == 2
        assert stats["max_weight_per_minute"] == 10
        emu.reset()
        assert requests.get(emu.url + "/api/v3/ping", timeout=10).status_code == 200


def test_python_binance_klines(fresh: EmulatorProcess) -> None:
    client = Client(ping=False)
    client.API_URL = fresh.url + "/api"
    start = today_ms() - 4 * DAY
    rows = client.get_klines(symbol=SYMBOL, interval="1m", startTime=start, limit=3)
    assert rows == market.minute_rows(SYMBOL, start, start + 10 * MINUTE, seed=0)[:3]
    end = start + 2500 * MINUTE - 1
    hist = client.get_historical_klines(SYMBOL, Client.KLINE_INTERVAL_1MINUTE, start, end)
    assert len(hist) > 2000
    assert hist == market.minute_rows(SYMBOL, start, end, seed=0)
    with pytest.raises(BinanceAPIException) as exc:
        client.get_klines(symbol="NOPE", interval="1m")
    assert exc.value.code == -1121 and exc.value.status_code == 400


def _archive(url: str, freq: str, period: str) -> tuple[requests.Response, requests.Response]:
    path = f"/data/spot/{freq}/klines/{SYMBOL}/1m/{SYMBOL}-1m-{period}.zip"
    return requests.get(url + path, timeout=30), requests.get(url + path + ".CHECKSUM", timeout=30)


def _csv_rows(zip_body: bytes, name: str) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(zip_body)) as zf:
        assert zf.namelist() == [name]
        text = zf.read(name).decode()
    return [line.split(",") for line in text.splitlines()]


def test_archive_daily_matches_rest_in_microseconds(fresh: EmulatorProcess) -> None:
    day = today_ms() - 2 * DAY
    period = datetime.fromtimestamp(day / 1000, tz=timezone.utc).strftime("%Y-%m-%d")
    z, c = _archive(fresh.url, "daily", period)
    assert z.status_code == 200 and c.status_code == 200
    assert c.text == f"{hashlib.sha256(z.content).hexdigest()}  {SYMBOL}-1m-{period}.zip\n"
    rows = _csv_rows(z.content, f"{SYMBOL}-1m-{period}.csv")
    rest = market.minute_rows(SYMBOL, day, day + DAY - 1, seed=0)
    gaps = sum(market.is_missing(SYMBOL, t, 0) for t in range(day, day + DAY, MINUTE))
    assert len(rows) == len(rest) == 1440 - gaps
    assert day >= 1_735_689_600_000  # 2025+: microseconds
    for csv_row, rest_row in zip(rows, rest):
        assert int(csv_row[0]) == rest_row[0] * 1000 and int(csv_row[6]) == rest_row[6] * 1000 + 999
        assert csv_row[1:6] == rest_row[1:6] and csv_row[7] == rest_row[7] and int(csv_row[8]) == rest_row[8]
    page = klines(fresh.url, startTime=day, limit=10).json()
    assert [int(r[0]) // 1000 for r in rows[:10]] == [p[0] for p in page]
    again, _ = _archive(fresh.url, "daily", period)
    assert again.content == z.content  # deterministic bytes
    assert "X-MBX-USED-WEIGHT-1M" not in z.headers


def test_archive_old_month_in_milliseconds_and_unfinished_periods(fresh: EmulatorProcess) -> None:
    z, c = _archive(fresh.url, "daily", "2024-12-31")
    rows = _csv_rows(z.content, f"{SYMBOL}-1m-2024-12-31.csv")
    assert int(rows[0][0]) == 1_735_603_200_000 and int(rows[0][6]) == 1_735_603_259_999
    today = datetime.now(timezone.utc)
    assert _archive(fresh.url, "daily", today.strftime("%Y-%m-%d"))[0].status_code == 404
    assert _archive(fresh.url, "monthly", today.strftime("%Y-%m"))[0].status_code == 404
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    z, c = _archive(fresh.url, "monthly", last_month)
    assert z.status_code == 200 and c.text.split()[0] == hashlib.sha256(z.content).hexdigest()
    assert _archive(fresh.url, "daily", "2010-01-01")[0].status_code == 404


def test_faults_runtime(fresh: EmulatorProcess) -> None:
    fresh.set_faults([
        {"kind": "429", "path": "/api/v3/klines", "count": 1, "retry_after": 3},
        {"kind": "5xx", "path": "/api/v3/klines", "count": 1, "status": 502, "body": "html"},
    ])
    r = klines(fresh.url, limit=2)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3" and r.json()["code"] == -1003
    r = klines(fresh.url, limit=2)
    assert r.status_code == 502 and r.text.startswith("<html>")
    assert klines(fresh.url, limit=2).status_code == 200  # both spent
    start = today_ms() - DAY
    clean = klines(fresh.url, startTime=start, endTime=start + 9 * MINUTE).json()
    fresh.set_faults([
        {"kind": "bad_number", "path": "/api/v3/klines", "count": 1},
        {"kind": "duplicate_rows", "path": "/api/v3/klines", "count": 1},
    ])
    bad = klines(fresh.url, startTime=start, endTime=start + 9 * MINUTE).json()
    assert len(bad) == len(clean) + 1 and "abc" in [r[1] for r in bad]
    fresh.set_faults([{"kind": "outside_window", "path": "/api/v3/klines", "count": 1}])
    out = klines(fresh.url, startTime=start, endTime=start + 9 * MINUTE).json()
    assert out[-1][0] > start + 9 * MINUTE and out[:-1] == clean
    fresh.set_faults([{"kind": "truncate", "path": "/api/v3/klines", "count": 1}])
    with pytest.raises(ValueError):
        json.loads(klines(fresh.url, limit=5).text)
    fresh.set_faults([{"kind": "drop", "path": "/api/v3/time", "count": 1}])
    with pytest.raises(requests.ConnectionError):
        requests.get(fresh.url + "/api/v3/time", timeout=10)
    fresh.set_faults([], clock_skew_ms=-600_000)
    server_time = requests.get(fresh.url + "/api/v3/time", timeout=10).json()["serverTime"]
    assert abs(server_time - (time.time() * 1000 - 600_000)) < 5_000
    assert fresh.stats()["faults_applied"] == 7
    with pytest.raises(Exception):
        fresh.set_faults([{"kind": "nonsense"}])


def test_fault_cli_flag_and_clock_offset() -> None:
    with EmulatorProcess(faults=["5xx:/api/v3/ping:2:503"], clock_offset_ms=-30_000) as emu:
        r = requests.get(emu.url + "/api/v3/ping", timeout=10)
        assert r.status_code == 503 and r.json()["code"] == -1001
        assert requests.get(emu.url + "/api/v3/ping", timeout=10).status_code == 503
        assert requests.get(emu.url + "/api/v3/ping", timeout=10).status_code == 200
        server_time = requests.get(emu.url + "/api/v3/time", timeout=10).json()["serverTime"]
        assert abs(server_time - (time.time() * 1000 - 30_000)) < 5_000


def test_slow_fault(fresh: EmulatorProcess) -> None:
    fresh.set_faults([{"kind": "slow", "path": "/api/v3/ping", "count": 1, "seconds": 0.5}])
    t0 = time.monotonic()
    assert requests.get(fresh.url + "/api/v3/ping", timeout=10).status_code == 200
    assert time.monotonic() - t0 >= 0.5
    with pytest.raises(requests.Timeout):
        fresh.set_faults([{"kind": "slow", "path": "/api/v3/ping", "count": 1, "seconds": 1.5}])
        requests.get(fresh.url + "/api/v3/ping", timeout=0.3)


def test_account_module_rules() -> None:
    """The documented generator rules other tests rely on."""
    day = today_ms() - 3 * DAY
    busy = account.busy_hour(day)
    assert account.is_busy_hour(busy) and busy == day + 13 * 3_600_000
    assert 1500 <= account.order_count(SYMBOL, busy) <= 2500
    assert 10 <= account.order_count(SYMBOL, busy + 3_600_000) <= 30


def refused_at_start(*args: str) -> str:
    """Run ``python -m binance_emulator ARGS``: it must exit non-zero at once; returns its stderr."""
    run = subprocess.run([sys.executable, "-m", "binance_emulator", "--port", "0", *args],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode != 0, run.stdout
    assert "listening on" not in run.stdout
    return run.stderr


def test_malformed_api_key_is_refused_at_start() -> None:
    """A key Binance would answer with -2014 on every signed request stops the emulator at once."""
    err = refused_at_start("--api-key", "ccxt-key", "--api-secret", "s")
    assert "argument --api-key: 'ccxt'... (8 characters) is not a Binance API key" in err
    assert "64 letters and digits" in err and "-2014" in err
    assert "--api-key" in refused_at_start("--api-key", "a" * 63 + "-", "--api-secret", "s")


@pytest.mark.parametrize("secret", [[], ["--api-secret", ""]], ids=["absent", "empty"])
def test_api_key_without_secret_is_refused_at_start(secret: list[str]) -> None:
    err = refused_at_start("--api-key", "a" * 64, *secret)
    assert "argument --api-secret: required and not empty with --api-key" in err


def test_bad_fault_spec_is_refused_at_start() -> None:
    assert "argument --fault: fault kind 'unknown_symbol' needs a 'symbol'" in refused_at_start(
        "--fault", "unknown_symbol::")
    assert "argument --fault" in refused_at_start("--fault", "5xx:/api/v3/klines:1:503:symbol")
