"""The query layer: the Iceberg tables in the SQL catalog ``lake`` (namespace ``binance``).

The hourly cooked Parquet files are the ingest zone; these tables hold the same rows, one data
file per pair and UTC day, so engines that speak Iceberg read a year as 365 files instead of
8,760. Modules: ``catalog`` opens the catalog, ``tables`` defines and reads the tables, ``days``
replaces a pair's day, ``maintenance`` expires old snapshots, ``resource`` is the Dagster resource.
"""
