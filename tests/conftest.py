"""Fixtures: the real local stack once per session, and the services as processes."""

from __future__ import annotations

import os

import pytest

# Tests run with the repository's local secrets and a plaintext loopback stack.
os.environ["RCM_ENV"] = "dev"

from runtime.settings import REPO_ROOT, Settings, settings

ARTIFACTS = REPO_ROOT / "test-artifacts"
TRACES = ARTIFACTS / "traces"
LOGS = ARTIFACTS / "service-logs"


@pytest.fixture(scope="session")
def rcm_settings() -> Settings:
    return settings()


@pytest.fixture(scope="session")
def live_stack(rcm_settings: Settings) -> Settings:
    """Apache Kafka and PostgreSQL, started by the project's own stack code if not running."""
    from rcm import stack

    stack.up(rcm_settings)
    return rcm_settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test must say which suite it belongs to, or CI would skip it silently."""
    kinds = {"unit", "integration", "e2e"}
    unmarked = [i.nodeid for i in items if not kinds & {m.name for m in i.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(f"tests without a unit/integration/e2e marker: {unmarked[:5]}")
