"""The query layer: the Iceberg tables ``binance.*`` in the SQL catalog ``lake``, one data file per
pair and UTC day, so a year is 365 files instead of 8,760 hourly ones."""
