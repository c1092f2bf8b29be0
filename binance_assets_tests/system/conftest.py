"""Every test in this folder starts processes of its own (the dagster CLI, `dagster dev`, the
daemon, a browser, workers): they carry the ``system`` marker, so ``pytest -m "not system"`` is
the fast tier."""

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.system)
