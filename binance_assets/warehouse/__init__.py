"""The query layer: the Iceberg tables ``binance.candles`` and ``binance.orders``.

The hourly cooked Parquet files are the ingest zone; these tables hold the same rows, one data
file per pair and UTC day, so engines that speak Iceberg (polars, DuckDB, Spark, Trino) read a
year as 365 files instead of 8,760. Modules: ``catalog`` opens the SQL catalog, ``tables`` defines
and reads the two tables, ``days`` replaces a pair's day, ``maintenance`` expires old snapshots,
``charts`` draws a day for the Dagster UI.
"""
