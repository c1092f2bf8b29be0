"""A fresh PostgreSQL database per test, on the server of this machine (CI starts one): skipped
with a reason when no server answers, failed instead when ``CI`` is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest

PG = {
    "host": os.getenv("PGHOST", "127.0.0.1"),
    "port": os.getenv("PGPORT", "5432"),
    "user": os.getenv("PGUSER", "postgres"),
    "password": os.getenv("PGPASSWORD", ""),
}


@contextmanager
def fresh_database(prefix: str, scheme: str = "postgresql+psycopg2") -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards."""
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    except psycopg2.OperationalError as error:
        reason = f"PostgreSQL is unreachable at {PG['host']}:{PG['port']} as {PG['user']}: {error}"
        if os.getenv("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    password = f":{PG['password']}" if PG["password"] else ""
    try:
        yield f"{scheme}://{PG['user']}{password}@{PG['host']}:{PG['port']}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
