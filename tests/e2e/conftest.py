"""End-to-end fixtures: one settled synthetic day shared by the e2e modules."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from rcm.demo import publish, run_tagged, wait_settled
from rcm.workload import generate_day
from runtime.settings import Settings
from schemas.events import EncounterCreated
from schemas.ids import claim_id_for
from tests.conftest import LOGS, TRACES

TENANT = "e2e-clinic"


async def fetch(s: Settings, sql: str, *args: object) -> list[asyncpg.Record]:
    """The rows of one query, on a connection of its own (the tests read every room's
    views as the demo's summary does)."""
    conn = await asyncpg.connect(s.database_url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def fresh_day(n: int, seed: int) -> list[EncounterCreated]:
    dos = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    return run_tagged(
        generate_day(n, seed, tenant=TENANT, date_of_service=dos), uuid.uuid4().hex[:10]
    )


@pytest.fixture(scope="package")
def fleet(live_stack: Settings) -> Iterator[object]:
    """Every service in its own process, as in production: for the e2e package only, so
    the integration tests that work the stack's mailbox and outboxes run with no fleet
    beside them (its connector polls the same mailbox and relays the same outbox)."""
    from rcm.processes import Fleet, fleet_env

    log_dir = Path(os.environ.get("RCM_TEST_LOGS", LOGS))
    env = {**fleet_env(live_stack), "RCM_OTEL_EXPORTER": "jsonl", "RCM_OTEL_DIR": str(TRACES)}
    for old in (*log_dir.glob("*.log"), *TRACES.glob("*.jsonl")):
        old.unlink()
    with Fleet(log_dir, env=env) as f:
        f.start()
        f.wait_healthy()
        yield f


@pytest.fixture(scope="package")
def settled_day(fleet: object, live_stack: Settings) -> tuple[list[EncounterCreated], list[str]]:
    day = fresh_day(50, seed=11)
    claim_ids = [claim_id_for(TENANT, e.encounter_id) for e in day]
    asyncio.run(publish(live_stack, day, TENANT))
    asyncio.run(wait_settled(live_stack, claim_ids, timeout=240, progress=False))
    return day, claim_ids
