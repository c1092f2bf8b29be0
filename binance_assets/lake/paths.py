"""The lake layout of the contract: one folder per zone, dataset, symbol and UTC hour."""

from datetime import datetime, timezone

SUCCESS_MARKER = "_SUCCESS"


def hour_folder(zone: str, dataset: str, symbol: str, hour: datetime) -> str:
    """Relative folder of one hourly partition, e.g.
    ``raw/candles/symbol=BTCUSDT/year=2025/month=01/day=01/hour=00``."""
    hour = hour.astimezone(timezone.utc)
    return (
        f"{zone}/{dataset}/symbol={symbol}"
        f"/year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}"
    )
