"""Run the emulator as a subprocess (for tests, benchmarks and the demo).

    with EmulatorProcess(api_key="k" * 64, api_secret="s", weight_limit=100) as emu:
        requests.get(emu.url + "/api/v3/ping")
        emu.set_faults([{"kind": "429", "path": "/api/v3/klines", "count": 1},
                        {"kind": "unknown_symbol", "symbol": "BTCUSDC"}])
        print(emu.stats()["status_429"])
        emu.add_outage(start_ms, end_ms)            # POST /_emulator/outages
        emu.revise_archive("BTCUSDT", minute_ms, 4, "95000.00000000")  # POST /_emulator/archive_revisions

The key must look like a Binance key (64 letters and digits) or the emulator refuses to start
(:class:`EmulatorStartError` carries its message).

A real process over a real socket, so clients are exercised exactly as against Binance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.request
from typing import Any, Optional, Sequence

START_TIMEOUT_S = 10.0


class EmulatorStartError(RuntimeError):
    """The emulator did not print its ``listening on`` line in time (stderr is in the message)."""


class EmulatorProcess:
    """A running ``python -m binance_emulator``; ``.url`` is ``http://127.0.0.1:PORT``."""

    def __init__(
        self,
        api_key: Optional[str] = None,
        api_secret: Optional[str] = None,
        seed: Optional[int] = None,
        weight_limit: Optional[int] = None,
        clock_offset_ms: Optional[int] = None,
        symbol: Optional[str] = None,
        faults: Sequence[str] = (),
        outages: Sequence[tuple[int, int]] = (),
        extra_args: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Options map onto the command line; ``faults`` are ``KIND:PATH:COUNT[:ARG][:KEY=VALUE...]``
        strings (see :mod:`binance_emulator.faults`), ``outages`` ``(start_ms, end_ms)`` windows
        (``--outage``)."""
        args = ["--host", host, "--port", str(port)]
        for flag, value in (
            ("--api-key", api_key),
            ("--api-secret", api_secret),
            ("--seed", seed),
            ("--weight-limit", weight_limit),
            ("--clock-offset-ms", clock_offset_ms),
            ("--symbol", symbol),
        ):
            if value is not None:
                args += [flag, str(value)]
        for spec in faults:
            args += ["--fault", spec]
        for start, end in outages:
            args += ["--outage", f"{start}:{end}"]
        self.args = args + list(extra_args)
        self.url = ""
        self._proc: Optional[subprocess.Popen] = None
        self._stderr = tempfile.TemporaryFile()

    def start(self) -> "EmulatorProcess":
        """Start and wait for ``listening on``; raises :class:`EmulatorStartError` after 10 s."""
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "binance_emulator", *self.args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self._proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        text = line[0].decode(errors="replace").strip() if line else ""
        if not text.startswith("listening on "):
            self.stop()
            self._stderr.seek(0)
            err = self._stderr.read().decode(errors="replace")
            raise EmulatorStartError(
                f"binance_emulator did not start within {START_TIMEOUT_S:.0f} s "
                f"(args {self.args}); stdout: {text!r}; stderr:\n{err}"
            )
        self.url = text[len("listening on "):]
        return self

    def _call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def stats(self) -> dict:
        """``GET /_emulator/stats``: requests per path, weight per minute, 429/418 counts."""
        return self._call("GET", "/_emulator/stats")

    def set_faults(self, faults: list[dict], clock_skew_ms: Optional[int] = None) -> dict:
        """Replace the fault list (format in :mod:`binance_emulator.faults`)."""
        body: dict[str, Any] = {"faults": list(faults)}
        if clock_skew_ms is not None:
            body["clock_skew_ms"] = clock_skew_ms
        return self._call("POST", "/_emulator/faults", body)

    def end_minute_in(self, seconds: float) -> None:
        """Skew the clock so that the emulator's minute ends ``seconds`` from now: a test that
        fills a minute's weight waits that long, not up to a minute, for the next one."""
        now = self.stats()["server_time"]
        skew = (60_000 - int(seconds * 1000) - now % 60_000) % 60_000
        pending = self.faults()  # kept as they are
        self.set_faults(pending["faults"], clock_skew_ms=pending["clock_skew_ms"] + skew)

    def faults(self) -> dict:
        """The faults still pending (counts decremented as they fire)."""
        return self._call("GET", "/_emulator/faults")

    def reset(self) -> None:
        """Clear stats, weights, bans, faults, fault clock skew, archive revisions and admin outages."""
        self._call("POST", "/_emulator/reset", {})

    def revise_archive(self, symbol: str, minute: int, field: int, value: str | int,
                       period: Optional[str] = None) -> dict:
        """``POST /_emulator/archive_revisions``: Binance corrects one value of a closed minute;
        returns the list of revisions (see :mod:`binance_emulator.server`)."""
        body: dict[str, Any] = {"symbol": symbol, "minute": minute, "field": field, "value": value}
        if period is not None:
            body["period"] = period
        return self._call("POST", "/_emulator/archive_revisions", body)

    def archive_revisions(self) -> list[dict]:
        """``GET /_emulator/archive_revisions``: the revisions made so far."""
        return self._call("GET", "/_emulator/archive_revisions")["revisions"]

    def add_outage(self, start_ms: int, end_ms: int) -> list[dict]:
        """``POST /_emulator/outages``: no symbol has candles in minutes overlapping [start, end)."""
        return self._call("POST", "/_emulator/outages", {"start": start_ms, "end": end_ms})["outages"]

    def outages(self) -> list[dict]:
        """``GET /_emulator/outages``: ``--outage`` windows and those added at run time."""
        return self._call("GET", "/_emulator/outages")["outages"]

    def stop(self) -> None:
        """Terminate the process, and kill it if it has not exited within a second: it holds nothing
        worth a longer wait (its state is in memory), and a test session stops dozens of them."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._stderr.close()
