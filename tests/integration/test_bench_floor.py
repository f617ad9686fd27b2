"""The runtime floor (`rcm bench --floor`) on the real broker and database: every message
applied once at every hop and published once on every topic, and nothing left behind."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from rcm.bench_floor import encounters, floor
from runtime.settings import Settings
from tests.integration.test_bench_baseline import _scratch_topics

pytestmark = pytest.mark.integration


async def _left(s: Settings) -> tuple[set[str], set[str]]:
    topics = await _scratch_topics(s, "bench.floor.")
    conn = await asyncpg.connect(s.database_url)
    try:
        schemas = {
            r[0]
            for r in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_floor_%'"
            )
        }
    finally:
        await conn.close()
    return topics, schemas


async def test_floor_passes_each_message_once_through_every_hop(live_stack: Settings) -> None:
    before_topics, before_schemas = await _left(live_stack)
    got = await floor(live_stack, encounters(150, seed=3), timeout=120, hops=3)
    assert got["applied_per_hop"] == [150, 150, 150, 150]
    assert got["published_per_topic"] == [150, 150, 150, 150]
    assert got["exactly_once"] is True
    assert got["hops"] == 3
    assert got["message_bytes"] > 500  # a real encounter.created, not a token
    assert set(got["cpu_ms_per_message"]) == {"services", "postgresql", "kafka", "machine"}
    topics, schemas = await _left(live_stack)
    for _ in range(50):  # the broker deletes topics asynchronously
        if not topics - before_topics:
            break
        await asyncio.sleep(0.2)
        topics, schemas = await _left(live_stack)
    assert topics - before_topics == set()
    assert schemas - before_schemas == set()
