"""Shared test configuration: every test belongs to a tier, set by the folder it lives in."""

from __future__ import annotations

from pathlib import Path

import pytest

_TIERS = {"unit": "unit", "contract": "contract", "integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = _TIERS.get(Path(str(item.fspath)).parent.name)
        if tier is None:
            tier = next(
                (t for part, t in _TIERS.items() if f"/tests/{part}/" in str(item.fspath)), None
            )
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
