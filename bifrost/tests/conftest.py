"""Fixtures for the SDK's unit tests (no Django)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bifrost import registry


@pytest.fixture(autouse=True)
def _restore_registry() -> Iterator[None]:
    """Tests declare workflows freely; put the process-wide registry back afterwards."""
    workflows = dict(registry.workflows)
    providers = dict(registry.data_providers)
    yield
    registry.default_registry.clear()
    registry.workflows.update(workflows)
    registry.data_providers.update(providers)
