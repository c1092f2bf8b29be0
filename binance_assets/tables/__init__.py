"""The cooked tables: their column contracts and the polars code that builds them from raw rows."""
