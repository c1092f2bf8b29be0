"""The datasets the code location exports. Definitions, jobs, schedules, checks, sensors and the
Iceberg tables loop over ``DATASETS``: adding one is a module here and an entry below (see
docs/architecture.md, "Adding a dataset")."""

from binance_assets.datasets.candles import CANDLES
from binance_assets.datasets.contract import Dataset
from binance_assets.datasets.orders import ORDERS

DATASETS: tuple[Dataset, ...] = (CANDLES, ORDERS)
