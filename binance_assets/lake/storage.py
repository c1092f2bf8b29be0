"""Byte storage under the lake root, local or S3, behind one small interface.

Every write is atomic: a reader sees the old object, the new one, or none, never a part. Locally
a file is written to ``{root}/_tmp/`` (outside every partition folder) and renamed into place; on S3
a single ``PutObject`` is atomic by itself. Errors name the lake location so an operator knows
which bucket or folder failed.

Every write is also durable when it returns: locally the file is fsynced before the rename and
its folder after it (≈ 0.2 ms a file here); on S3 a returned ``PutObject`` is durable. So a marker
written after its data file (the raw zone's ``_SUCCESS``) never outlives it in a crash.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError


class LakeError(Exception):
    """The lake could not be read or written (missing bucket, bad credentials, unreachable)."""


class LakeStorage(Protocol):
    """What the IO managers need from a lake backend. Keys are relative to the lake root."""

    def write(self, key: str, data: bytes) -> None: ...

    def read(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str) -> list[str]: ...

    def url(self, key: str) -> str: ...


class LocalStorage:
    """A lake on the local filesystem (or any mounted one)."""

    def __init__(self, root: str) -> None:
        self.root = Path(root).absolute()

    def _path(self, key: str) -> Path:
        return self.root / key

    def write(self, key: str, data: bytes) -> None:
        target = self._path(key)
        staging = self.root / "_tmp"
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=staging, prefix=target.name + ".")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_folder(target.parent)

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as error:
            raise LakeError(f"{self.url(key)} does not exist") from error

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        """Keys of every file under the folder ``prefix``."""
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return [str(path.relative_to(self.root)) for path in folder.rglob("*") if path.is_file()]

    def url(self, key: str) -> str:
        return str(self._path(key))


class S3Storage:
    """A lake under ``s3://bucket/prefix`` on AWS S3 or any S3-compatible store."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, error: Exception) -> LakeError:
        endpoint = self.client.meta.endpoint_url
        return LakeError(
            f"S3 {action} of {self.url(key)} failed (bucket {self.bucket!r}, endpoint {endpoint}): "
            f"{error}"
        )

    def write(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (BotoCoreError, ClientError) as error:
            raise self._fail("write", key, error) from error

    def read(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except (BotoCoreError, ClientError) as error:
            raise self._fail("read", key, error) from error

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail("lookup", key, error) from error
        except BotoCoreError as error:
            raise self._fail("lookup", key, error) from error

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as error:
            raise self._fail("delete", key, error) from error

    def list(self, prefix: str) -> list[str]:
        """Keys of every object under ``prefix`` (a folder), relative to the lake root."""
        start = len(self._key(""))
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix.rstrip("/") + "/")
            )
            for page in pages:
                keys += [item["Key"][start:] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as error:
            raise self._fail("listing", prefix, error) from error
        return keys

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"


def _fsync_folder(folder: Path) -> None:
    """Make a rename into ``folder`` durable (the folder's entry, not only the file's bytes)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_lake(lake_url: str, s3_client: Callable[[], Any]) -> LakeStorage:
    """The storage for a lake root checked by ``settings.lake_root``: ``s3://bucket/prefix`` or a
    local path. ``s3_client`` is called only for S3 lakes, so a local lake needs no AWS setup."""
    parsed = urlparse(lake_url)
    if parsed.scheme == "s3":
        return S3Storage(s3_client(), parsed.netloc, parsed.path)
    return LocalStorage(lake_url)
