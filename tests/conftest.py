"""Fixtures: the real local stack once per session, and the services as processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def fleet(live_stack: Settings) -> Iterator[object]:
    """Every service in its own process, as in production."""
    from rcm.processes import Fleet, fleet_env

    log_dir = Path(os.environ.get("RCM_TEST_LOGS", LOGS))
    env = {**fleet_env(live_stack), "RCM_OTEL_EXPORTER": "jsonl", "RCM_OTEL_DIR": str(TRACES)}
    for old in (*log_dir.glob("*.log"), *TRACES.glob("*.jsonl")):
        old.unlink()
    with Fleet(log_dir, env=env) as f:
        f.start()
        f.wait_healthy()
        yield f


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test must say which suite it belongs to, or CI would skip it silently."""
    kinds = {"unit", "integration", "e2e"}
    unmarked = [i.nodeid for i in items if not kinds & {m.name for m in i.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(f"tests without a unit/integration/e2e marker: {unmarked[:5]}")
