"""The lake layout of the contract: one folder per zone, dataset, symbol and UTC hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from dagster import AssetKey

from binance_assets.partitions import partition_hour

SUCCESS_MARKER = "_SUCCESS"
RAW_PREFIX = "raw_"


def hour_folder(zone: str, dataset: str, symbol: str, hour: datetime) -> str:
    """Relative folder of one hourly partition, e.g.
    ``raw/candles/symbol=BTCUSDT/year=2025/month=01/day=01/hour=00``."""
    hour = hour.astimezone(timezone.utc)
    return (
        f"{zone}/{dataset}/symbol={symbol}"
        f"/year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}"
    )


@dataclass(frozen=True)
class Location:
    """Where an hourly asset's partitions live: the contract ties asset keys to lake paths
    (``BTCUSDT/raw_candles`` → ``raw/candles/symbol=BTCUSDT/…``)."""

    zone: str
    dataset: str
    symbol: str

    @classmethod
    def of(cls, asset_key: AssetKey) -> Location:
        symbol, name = asset_key.path
        if name.startswith(RAW_PREFIX):
            return cls("raw", name[len(RAW_PREFIX) :], symbol)
        return cls("cooked", name, symbol)

    def file(self, partition_key: str, name: str) -> str:
        return f"{hour_folder(self.zone, self.dataset, self.symbol, partition_hour(partition_key))}/{name}"

    def quarantine_folder(self, partition_key: str) -> str:
        return hour_folder("quarantine", self.dataset, self.symbol, partition_hour(partition_key))
