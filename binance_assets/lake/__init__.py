"""The data lake: where each partition's files live and how they are written (local or S3)."""
