"""Tests of the emulator's data as the lake's completeness checks meet it: gaps (pair, exchange,
outage, REST-only), archive revisions and unpublished files, the data faults, slow bodies and the
server clock, over real HTTP."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import time
import urllib.error
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import requests
from binance.client import Client

from binance_emulator import account, archive, faults, market
from binance_emulator.process import EmulatorProcess
from binance_emulator.tests.test_emulator_orders import KEY, SECRET, day_ago, now_ms

PAIRS = ("BTCUSDT", "BTCUSDC", "BTCFDUSD", "BTCUSD")
SYMBOL = "BTCUSDT"
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
DECIMAL8 = re.compile(r"^\d+\.\d{8}$")


def klines(url: str, symbol: str = SYMBOL, **params: object) -> list:
    r = requests.get(url + "/api/v3/klines", params={"symbol": symbol, "interval": "1m", **params}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def day_opens(url: str, symbol: str, day: int) -> list[int]:
    """Open times of every REST candle of a day (two pages)."""
    rows = klines(url, symbol, startTime=day, endTime=day + DAY - 1, limit=1000)
    rows += klines(url, symbol, startTime=rows[-1][0] + 1, endTime=day + DAY - 1, limit=1000)
    return [r[0] for r in rows]


def period_of(ms: int, freq: str = "daily") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d" if freq == "daily" else "%Y-%m")


def archive_get(url: str, symbol: str, freq: str, period: str) -> tuple[requests.Response, requests.Response]:
    path = archive.file_path(freq, symbol, period)
    return requests.get(url + path, timeout=30), requests.get(url + path + ".CHECKSUM", timeout=30)


def csv_lines(zip_body: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(zip_body)) as zf:
        return zf.read(zf.namelist()[0]).decode().splitlines()


def archive_opens(url: str, symbol: str, day: int) -> list[int]:
    """Open times (ms) of a daily archive file's rows."""
    z, _ = archive_get(url, symbol, "daily", period_of(day))
    assert z.status_code == 200
    return [int(line.split(",")[0]) // 1000 for line in csv_lines(z.content)]


# ---- gaps ---------------------------------------------------------------------------------------


def test_exchange_gap_is_missing_on_every_pair_in_rest_and_archive(fresh: EmulatorProcess) -> None:
    day = day_ago(1)
    gap = next(t for t in range(day, day - 365 * DAY, -MINUTE) if market.exchange_gap(t, 0))
    gap_day = gap - gap % DAY
    for pair in PAIRS:
        missing = market.missing_minutes(pair, gap_day, gap_day + DAY - 1, 0)
        assert missing[gap] == "exchange" and market.is_missing(pair, gap, 0)
        assert all(cause == ("exchange" if market.exchange_gap(t, 0) else "pair") for t, cause in missing.items())
        expected = [t for t in range(gap_day, gap_day + DAY, MINUTE) if t not in missing]
        assert day_opens(fresh.url, pair, gap_day) == expected, pair
        assert archive_opens(fresh.url, pair, gap_day) == expected, pair
    rare = sum(market.exchange_gap(t, 0) for t in range(day - 100 * DAY, day, MINUTE))
    assert 3 <= rare <= 15, "about one minute in 20,000 (7 in 100 days)"


def test_outages_from_the_command_line_and_at_run_time() -> None:
    day = day_ago(2)
    cli = (day + 10 * HOUR + 30_000, day + 10 * HOUR + 3 * MINUTE)  # overlaps 10:00, 10:01, 10:02
    with EmulatorProcess(outages=[cli]) as emu:
        lost = {day + 10 * HOUR + i * MINUTE for i in range(3)}
        assert {t for t, c in market.missing_minutes(SYMBOL, day, day + DAY - 1, 0, [cli]).items()
                if c == "exchange" and t in lost} == lost
        for pair in PAIRS:
            missing = market.missing_minutes(pair, day, day + DAY - 1, 0, [cli])
            expected = [t for t in range(day, day + DAY, MINUTE) if t not in missing]
            assert day_opens(emu.url, pair, day) == expected
            assert archive_opens(emu.url, pair, day) == expected
            assert not lost & set(expected)
        assert emu.outages() == [{"start": cli[0], "end": cli[1], "source": "cli"}]
        hour = day + 15 * HOUR
        before = archive_get(emu.url, "BTCUSDC", "daily", period_of(day))[0].content
        assert emu.add_outage(hour, hour + HOUR)[-1] == {"start": hour, "end": hour + HOUR, "source": "admin"}
        assert klines(emu.url, "BTCUSDC", startTime=hour, endTime=hour + HOUR - 1) == []
        assert [r[0] for r in klines(emu.url, "BTCUSDC", startTime=hour - MINUTE, limit=2)][-1] >= hour + HOUR
        z, c = archive_get(emu.url, "BTCUSDC", "daily", period_of(day))
        assert z.content != before and c.text.split()[0] == hashlib.sha256(z.content).hexdigest()
        assert not [t for t in archive_opens(emu.url, "BTCUSDC", day) if hour <= t < hour + HOUR]
        hourly = klines(emu.url, "BTCUSDC", interval="1h", startTime=hour - HOUR, limit=2)
        assert [r[0] for r in hourly] == [hour - HOUR, hour + HOUR], "aggregated intervals skip it too"
        emu.reset()
        assert emu.outages() == [{"start": cli[0], "end": cli[1], "source": "cli"}], "--outage stays"
        assert archive_get(emu.url, "BTCUSDC", "daily", period_of(day))[0].content == before
        with pytest.raises(urllib.error.HTTPError) as exc:
            emu.add_outage(hour, hour)
        assert exc.value.code == 400


def test_rest_gap_fault_drops_minutes_from_rest_only(fresh: EmulatorProcess) -> None:
    day = day_ago(3)
    first = next(t for t in range(day + 5 * HOUR, day + DAY, MINUTE)
                 if not any(market.is_missing(SYMBOL, t + i * MINUTE, 0) for i in range(3)))
    clean = [t for t in range(day + 5 * HOUR, day + DAY, MINUTE) if not market.is_missing(SYMBOL, t, 0)]
    fresh.set_faults([{"kind": "rest_gap", "path": "/api/v3/klines", "minute": first, "span": 2},
                      {"kind": "rest_gap", "minute": [first + 2 * MINUTE], "symbol": SYMBOL}])
    gappy = [r[0] for r in klines(fresh.url, startTime=day + 5 * HOUR, limit=1000)]
    assert gappy == [t for t in clean if t not in {first, first + MINUTE, first + 2 * MINUTE}][:1000], \
        "skipped while selecting: the page is still full"
    assert first in archive_opens(fresh.url, SYMBOL, day), "the archive keeps them"
    other = [r[0] for r in klines(fresh.url, "BTCUSDC", startTime=first, endTime=first + 2 * MINUTE)]
    assert first not in other and (first + 2 * MINUTE in other or market.is_missing("BTCUSDC", first + 2 * MINUTE, 0))
    assert fresh.faults()["faults"][0]["minute"] == first, "without count it holds"
    with pytest.raises(urllib.error.HTTPError):
        fresh.set_faults([{"kind": "rest_gap"}])  # which minute?


# ---- archive revisions and unpublished files ----------------------------------------------------


def test_archive_revision_republishes_both_files_and_rest_follows(fresh: EmulatorProcess) -> None:
    month_start = day_ago(0) - (datetime.now(timezone.utc).day - 1) * DAY
    minute = next(t for t in range(month_start - DAY + 5 * HOUR, month_start, MINUTE)
                  if not market.is_missing(SYMBOL, t, 0))
    files = [("monthly", period_of(minute, "monthly")), ("daily", period_of(minute))]
    before = {f: archive_get(fresh.url, SYMBOL, *f) for f in files}
    assert all(z.status_code == 200 for z, _ in before.values())
    row = klines(fresh.url, startTime=minute, limit=1)[0]

    listed = fresh.revise_archive(SYMBOL, minute, 4, "12345.67000000", period=files[1][1])["revisions"]
    assert listed == [{"symbol": SYMBOL, "minute": minute, "field": 4, "value": "12345.67000000",
                       "files": [archive.file_path(freq, SYMBOL, p) for freq, p in files]}]
    fresh.revise_archive(SYMBOL, minute, 5, "0.5")
    fresh.revise_archive(SYMBOL, minute, 8, 7)
    for f in files:
        z, c = archive_get(fresh.url, SYMBOL, *f)
        assert z.content != before[f][0].content and c.text != before[f][1].text
        assert c.text == f"{hashlib.sha256(z.content).hexdigest()}  {SYMBOL}-1m-{f[1]}.zip\n"
        old, new = csv_lines(before[f][0].content), csv_lines(z.content)
        changed = [(a, b) for a, b in zip(old, new) if a != b]
        assert len(old) == len(new) and len(changed) == 1, f
        fields = changed[0][1].split(",")
        assert int(fields[0]) // 1000 == minute and fields[4] == "12345.67000000"
        assert fields[5] == "0.50000000" and fields[8] == "7" and fields[1:4] == changed[0][0].split(",")[1:4]
    revised = klines(fresh.url, startTime=minute, limit=1)[0]
    assert revised == row[:4] + ["12345.67000000", "0.50000000"] + row[6:8] + [7] + row[9:]
    c = Client(ping=False)  # python-binance reads the same
    c.API_URL = fresh.url + "/api"
    assert c.get_klines(symbol=SYMBOL, interval="1m", startTime=minute, limit=1)[0] == revised
    assert fresh.archive_revisions()[-1]["value"] == 7
    other = archive_get(fresh.url, "BTCUSDC", *files[1])[0].content
    assert other == archive_get(fresh.url, "BTCUSDC", *files[1])[0].content, "other pairs untouched"
    fresh.reset()
    assert fresh.archive_revisions() == []
    assert archive_get(fresh.url, SYMBOL, *files[1])[0].content == before[files[1]][0].content


@pytest.mark.parametrize("change, error", [
    ({"field": 0}, "field must be one of"),
    ({"field": 6}, "field must be one of"),
    ({"field": 2, "value": "1.001"}, "multiple of 0.01"),
    ({"field": 5, "value": "1.123456789"}, "at most 8 decimals"),
    ({"field": 8, "value": "1.5"}, "an integer"),
    ({"minute_shift": 1}, "multiple of 60000"),
    ({"period": "2020-01-01"}, "does not cover"),
    ({"symbol": "ETHUSDT"}, "symbol must be one of"),
    ({"future": True}, "no closed candle"),
    ({"gap": True}, "no closed candle"),
], ids=["time field", "close time", "sub-tick price", "9 decimals", "fractional trades", "off the minute",
        "other period", "other symbol", "open candle", "missing minute"])
def test_archive_revision_refuses_what_binance_could_not_publish(fresh: EmulatorProcess, change: dict,
                                                                 error: str) -> None:
    day = day_ago(2)
    minute = next(t for t in range(day, day + DAY, MINUTE) if not market.is_missing(SYMBOL, t, 0))
    if change.pop("gap", False):
        minute = next(t for t in range(day, day + DAY, MINUTE) if market.is_missing(SYMBOL, t, 0))
    if change.pop("future", False):
        now = now_ms()
        minute = now - now % MINUTE
    minute += change.pop("minute_shift", 0)
    body = {"symbol": SYMBOL, "minute": minute, "field": 4, "value": "100.00000000", **change}
    r = requests.post(fresh.url + "/_emulator/archive_revisions", json=body, timeout=10)
    assert r.status_code == 400 and error in r.json()["error"], r.text
    assert fresh.archive_revisions() == []


def test_unpublished_fault_hides_one_period(fresh: EmulatorProcess) -> None:
    day = day_ago(2)
    fresh.set_faults([{"kind": "unpublished", "period": period_of(day), "symbol": "BTCUSDC"}])
    z, c = archive_get(fresh.url, "BTCUSDC", "daily", period_of(day))
    assert (z.status_code, c.status_code) == (404, 404) and b"<Code>NoSuchKey</Code>" in z.content
    assert archive_get(fresh.url, SYMBOL, "daily", period_of(day))[0].status_code == 200
    assert archive_get(fresh.url, "BTCUSDC", "daily", period_of(day - DAY))[0].status_code == 200
    assert klines(fresh.url, "BTCUSDC", startTime=day, limit=2), "REST is not the archive"
    fresh.set_faults([{"kind": "unpublished", "period": period_of(day - 40 * DAY, "monthly")}])
    for pair in PAIRS:
        assert archive_get(fresh.url, pair, "monthly", period_of(day - 40 * DAY, "monthly"))[0].status_code == 404
    assert archive_get(fresh.url, SYMBOL, "daily", period_of(day - 40 * DAY))[0].status_code == 200
    fresh.set_faults([])
    assert archive_get(fresh.url, "BTCUSDC", "daily", period_of(day))[0].status_code == 200


# ---- data faults --------------------------------------------------------------------------------


def test_set_value_at_a_chosen_minute_and_order(fresh: EmulatorProcess) -> None:
    start = day_ago(1) + 2 * HOUR
    clean = klines(fresh.url, startTime=start, limit=20)
    target = clean[3][0]
    later = klines(fresh.url, startTime=target + MINUTE, limit=5)
    fresh.set_faults([
        {"kind": "set_value", "path": "/api/v3/klines", "minute": target, "field": 2, "value": "1.00000000"},
        {"kind": "set_value", "path": "/api/v3/klines", "minute": target, "field": 3, "value": "-1.00000000"},
    ])
    bad = klines(fresh.url, startTime=start, limit=20)
    assert bad[3][2:4] == ["1.00000000", "-1.00000000"]
    assert bad[:3] + bad[4:] == clean[:3] + clean[4:] and bad[3][:2] == clean[3][:2]
    assert klines(fresh.url, startTime=target + MINUTE, limit=5) == later, "a page without the minute is untouched"
    c = Client(KEY, SECRET, ping=False)
    c.API_URL = fresh.url + "/api"
    window = {"symbol": SYMBOL, "startTime": start, "endTime": start + HOUR}
    orders = c.get_all_orders(**window)
    fresh.set_faults([{"kind": "set_value", "path": "/api/v3/allOrders", "order_id": orders[1]["orderId"],
                       "field": "price", "value": "-5.00000000"}])
    changed = c.get_all_orders(**window)
    assert changed[1]["price"] == "-5.00000000" and changed[:1] + changed[2:] == orders[:1] + orders[2:]


def test_row_order_and_empty_faults(fresh: EmulatorProcess) -> None:
    start = day_ago(1) + 4 * HOUR
    clean = klines(fresh.url, startTime=start, limit=9)
    cases = [
        ({"kind": "misorder"}, clean[:4] + [clean[8]] + clean[4:8]),
        ({"kind": "misorder", "at": 1}, clean[:1] + [clean[8]] + clean[1:8]),
        ({"kind": "reverse"}, clean[::-1]),
        ({"kind": "empty"}, []),
    ]
    for spec, expected in cases:
        fresh.set_faults([{**spec, "path": "/api/v3/klines", "count": 1}])
        assert klines(fresh.url, startTime=start, limit=9) == expected, spec
        assert klines(fresh.url, startTime=start, limit=9) == clean, "count 1: the next answer is clean"
    c = Client(KEY, SECRET, ping=False)
    c.API_URL = fresh.url + "/api"
    window = {"symbol": SYMBOL, "startTime": start, "endTime": start + HOUR}
    orders = c.get_all_orders(**window)
    fresh.set_faults([{"kind": "reverse", "path": "/api/v3/allOrders", "count": 1},
                      {"kind": "empty", "path": "/api/v3/openOrders", "count": 1}])
    assert c.get_all_orders(**window) == orders[::-1]
    assert c.get_open_orders(symbol=SYMBOL) == []
    assert fresh.stats()["faults_applied"] == 6


def test_conflicting_duplicate_and_off_minute(fresh: EmulatorProcess) -> None:
    start = day_ago(1) + 6 * HOUR
    clean = klines(fresh.url, startTime=start, limit=7)
    fresh.set_faults([{"kind": "conflicting_duplicate", "path": "/api/v3/klines", "count": 1}])
    dup = klines(fresh.url, startTime=start, limit=7)
    assert len(dup) == 8 and dup[:4] + dup[5:] == clean and dup[4][0] == dup[3][0] == clean[3][0]
    assert dup[4][4] != dup[3][4] and dup[4][5] != dup[3][5]
    assert float(dup[4][4]) == float(clean[3][4]) + 1 and float(dup[4][2]) >= float(dup[4][4])
    assert all(DECIMAL8.match(v) for v in dup[4][1:6])
    fresh.set_faults([{"kind": "off_minute", "path": "/api/v3/klines", "count": 1},
                      {"kind": "off_minute", "path": "/api/v3/klines", "count": 1, "minute": clean[1][0],
                       "ms": 15_000}])
    off = klines(fresh.url, startTime=start, limit=7)
    assert (off[3][0], off[3][6]) == (clean[3][0] + 30_000, clean[3][6] + 30_000)
    assert (off[1][0], off[1][6]) == (clean[1][0] + 15_000, clean[1][6] + 15_000)
    assert off[3][1:6] == clean[3][1:6]
    c = Client(KEY, SECRET, ping=False)
    c.API_URL = fresh.url + "/api"
    window = {"symbol": SYMBOL, "startTime": start - 2 * HOUR, "endTime": start}
    orders = c.get_all_orders(**window)
    fresh.set_faults([{"kind": "conflicting_duplicate", "path": "/api/v3/allOrders", "count": 1}])
    got = c.get_all_orders(**window)
    mid = len(orders) // 2
    assert got[:mid + 1] + got[mid + 2:] == orders
    assert got[mid + 1]["orderId"] == orders[mid]["orderId"] and got[mid + 1]["status"] != orders[mid]["status"]


def test_fault_keys_on_the_command_line() -> None:
    day = day_ago(2)
    t = next(m for m in range(day + HOUR, day + DAY, MINUTE)
             if not any(market.is_missing(SYMBOL, m + i * MINUTE, 0) for i in range(4)))
    specs = [f"rest_gap:/api/v3/klines:*:{t},{t + MINUTE}",
             f"set_value:/api/v3/klines:*:2.00000000:minute={t + 2 * MINUTE}:field=4",
             f"unpublished:::{period_of(day)}", "off_minute:/api/v3/klines:1:20000:minute=" + str(t + 3 * MINUTE)]
    with EmulatorProcess(faults=specs) as emu:
        rows = klines(emu.url, startTime=t, limit=4)
        assert [r[0] for r in rows] == [t + 2 * MINUTE, t + 3 * MINUTE + 20_000, t + 4 * MINUTE, t + 5 * MINUTE] \
            or market.is_missing(SYMBOL, t + 4 * MINUTE, 0) or market.is_missing(SYMBOL, t + 5 * MINUTE, 0)
        assert rows[0][4] == "2.00000000"
        assert [r[0] for r in klines(emu.url, startTime=t, limit=4)][1] == t + 3 * MINUTE, "off_minute: count 1"
        assert archive_get(emu.url, SYMBOL, "daily", period_of(day))[0].status_code == 404
    for bad in ("rest_gap:/api/v3/klines:*", "set_value::1:x:minute=1,2", "trickle::1:0"):
        run = subprocess.run([sys.executable, "-m", "binance_emulator", "--fault", bad], capture_output=True,
                             text=True, timeout=30)
        assert run.returncode == 2 and "argument --fault" in run.stderr, bad


# ---- slow bodies --------------------------------------------------------------------------------


def test_trickle_outlasts_a_timeout_that_never_fires(fresh: EmulatorProcess) -> None:
    """REST and archive bodies at a few hundred bytes per second: each read gets data within the
    client's 1 s timeout, the whole download takes longer than it."""
    start = day_ago(1)
    rest_body = requests.get(fresh.url + "/api/v3/klines", timeout=10,
                             params={"symbol": SYMBOL, "interval": "1m", "startTime": start, "limit": 3}).content
    zip_path = archive.file_path("daily", SYMBOL, period_of(start - DAY))
    zip_body = requests.get(fresh.url + zip_path, timeout=30).content
    rate_rest, rate_zip = len(rest_body) // 2 + 1, len(zip_body) // 2 + 1  # about 2 s each
    fresh.set_faults([{"kind": "trickle", "path": "/api/v3/klines", "count": 1, "rate": rate_rest},
                      {"kind": "trickle", "path": "/data/", "count": 1, "rate": rate_zip}])

    def timed(url: str, **params: object) -> tuple[float, requests.Response]:
        t0 = time.monotonic()
        resp = requests.get(url, params=params, timeout=1.0)
        return time.monotonic() - t0, resp

    with ThreadPoolExecutor(2) as pool:
        rest = pool.submit(timed, fresh.url + "/api/v3/klines", symbol=SYMBOL, interval="1m", startTime=start, limit=3)
        data = pool.submit(timed, fresh.url + zip_path)
        (rest_s, rest_resp), (zip_s, zip_resp) = rest.result(), data.result()
    assert rest_resp.status_code == 200 and rest_resp.content == rest_body and rest_s > 1.5
    assert zip_resp.status_code == 200 and zip_resp.content == zip_body and zip_s > 1.5
    assert "X-MBX-USED-WEIGHT-1M" in rest_resp.headers
    t0 = time.monotonic()
    assert requests.get(fresh.url + zip_path, timeout=1.0).content == zip_body and time.monotonic() - t0 < 1.0


# ---- one server clock ---------------------------------------------------------------------------


def test_clock_skew_moves_time_open_candle_and_archive(fresh: EmulatorProcess) -> None:
    today = day_ago(0)
    assert archive_get(fresh.url, SYMBOL, "daily", period_of(today))[0].status_code == 404
    skew = today + DAY + 5 * MINUTE - now_ms()  # five minutes into tomorrow
    fresh.set_faults([], clock_skew_ms=skew)
    server_time = requests.get(fresh.url + "/api/v3/time", timeout=10).json()["serverTime"]
    info_time = requests.get(fresh.url + "/api/v3/exchangeInfo", timeout=10).json()["serverTime"]
    assert abs(server_time - (today + DAY + 5 * MINUTE)) < 5_000 and 0 <= info_time - server_time < 5_000
    z, c = archive_get(fresh.url, SYMBOL, "daily", period_of(today))
    assert z.status_code == 200 and c.status_code == 200, "today's file exists once the server's day is over"
    rows = klines(fresh.url, limit=3)
    server_time = requests.get(fresh.url + "/api/v3/time", timeout=10).json()["serverTime"]
    current = server_time - server_time % MINUTE
    assert rows[-1][0] <= current
    if rows[-1][0] == current:
        assert rows[-1][6] == current + MINUTE - 1 and rows[-1][6] > server_time - 2_000, "still open"
        assert rows[-1] != market.minute_rows(SYMBOL, current, current, 0, now_ms=current + MINUTE)[0]
    fresh.set_faults([], clock_skew_ms=-DAY)
    assert archive_get(fresh.url, SYMBOL, "daily", period_of(today - DAY))[0].status_code == 404
    assert klines(fresh.url, limit=1)[-1][0] <= now_ms() - DAY


# ---- documentation ------------------------------------------------------------------------------


def test_help_documents_every_flag_kind_endpoint_and_admin_endpoint() -> None:
    text = subprocess.run([sys.executable, "-m", "binance_emulator", "--help"], capture_output=True, text=True,
                          timeout=30).stdout
    for word in ("--outage", "--weight-limit", "--clock-offset-ms", "/api/v3/openOrders", "/api/v3/order",
                 "-2013", "/_emulator/archive_revisions", "/_emulator/outages", "/_emulator/reset",
                 *sorted(faults.KINDS)):
        assert word in text, word
    for kind in faults.KINDS:
        assert f"``{kind}``" in faults.__doc__, kind
    assert "missing_minutes" in market.__doc__ and "settles_at" in account.__doc__
