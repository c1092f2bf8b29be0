"""Run one command against a fresh emulator: ``python -m binance_emulator.run [--api-key K
--api-secret S] -- COMMAND ...``.

The emulator starts on a free port (so two runs never collide), the command gets
``BINANCE_API_URL`` and ``BINANCE_ARCHIVE_URL`` pointing at it, and the emulator stops when the
command ends, whatever happens. Its exit code is the command's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from binance_emulator.process import EmulatorProcess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m binance_emulator.run", description=__doc__.splitlines()[0])
    parser.add_argument("--api-key", default=None, help="the emulator's API key (for orders)")
    parser.add_argument("--api-secret", default=None, help="the emulator's API secret (for orders)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    with EmulatorProcess(api_key=args.api_key, api_secret=args.api_secret) as emulator:
        env = {**os.environ, "BINANCE_API_URL": emulator.url, "BINANCE_ARCHIVE_URL": emulator.url}
        if args.api_key and args.api_secret:
            env |= {"BINANCE_API_KEY": args.api_key, "BINANCE_API_SECRET": args.api_secret}
        print(f"binance emulator at {emulator.url}", file=sys.stderr, flush=True)
        try:
            return subprocess.call(command, env=env)
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
