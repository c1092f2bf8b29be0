"""Byte storage under the lake root, local or S3, behind one small interface.

Every write is atomic (a reader sees the old object, the new one, or none) and durable when it
returns: locally a file is written to ``{root}/_tmp/``, fsynced, renamed into place and its folder
fsynced; on S3 a returned ``PutObject`` is both. So a marker written after its data file (the raw
zone's ``_SUCCESS``) never outlives it in a crash. Errors name the lake location.
"""

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError


class LakeError(Exception):
    """The lake could not be read or written (missing bucket, bad credentials, unreachable)."""


class LakeStorage(Protocol):
    """A lake backend; keys are relative to the lake root, ``list`` takes a folder."""

    def write(self, key: str, data: bytes) -> None: ...

    def read(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str) -> list[str]: ...

    def url(self, key: str) -> str: ...


class LocalStorage:
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
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return [str(path.relative_to(self.root)) for path in folder.rglob("*") if path.is_file()]

    def url(self, key: str) -> str:
        return str(self._path(key))


class S3Storage:
    """A lake under ``s3://bucket/prefix`` on AWS S3 or any S3-compatible store."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _failing(self, action: str, key: str) -> Iterator[None]:
        """A boto error as a ``LakeError`` naming the object, bucket and endpoint."""
        try:
            yield
        except (BotoCoreError, ClientError) as error:
            raise LakeError(
                f"S3 {action} of {self.url(key)} failed (bucket {self.bucket!r}, "
                f"endpoint {self.client.meta.endpoint_url}): {error}"
            ) from error

    def write(self, key: str, data: bytes) -> None:
        with self._failing("write", key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def read(self, key: str) -> bytes:
        with self._failing("read", key):
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        with self._failing("lookup", key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
                return True
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise

    def delete(self, key: str) -> None:
        with self._failing("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str) -> list[str]:
        start = len(self._key(""))
        with self._failing("listing", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix.rstrip("/") + "/")
            )
            return [item["Key"][start:] for page in pages for item in page.get("Contents", [])]

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
    """The storage of a lake root (``settings.lake_root``); ``s3_client`` is called for S3 lakes only."""
    parsed = urlparse(lake_url)
    if parsed.scheme == "s3":
        return S3Storage(s3_client(), parsed.netloc, parsed.path)
    return LocalStorage(lake_url)
