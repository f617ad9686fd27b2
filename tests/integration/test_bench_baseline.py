"""The benchmark's raw pass-through baseline on the real broker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from rcm.bench_kafka import baseline
from runtime.kafka import client_config
from runtime.settings import Settings

pytestmark = pytest.mark.integration


async def _scratch_topics(s: Settings, prefix: str = "bench.baseline.") -> set[str]:
    admin = AIOKafkaAdminClient(**client_config(s))
    await admin.start()
    try:
        return {t for t in await admin.list_topics() if t.startswith(prefix)}
    finally:
        await admin.close()


async def test_baseline_moves_every_message_and_leaves_no_topics(live_stack: Settings) -> None:
    before = await _scratch_topics(live_stack)
    rate = await baseline(live_stack, messages=300, size=2_000, hops=2)
    assert rate > 0  # it finished: the last hop counted all 300 messages
    left: set[str] = set()
    for _ in range(50):  # the broker deletes topics asynchronously
        left = await _scratch_topics(live_stack) - before
        if not left:
            break
        await asyncio.sleep(0.2)
    assert left == set(), f"the baseline left its scratch topics behind: {sorted(left)}"
    # and they stay gone: a client left running would have the broker create them again
    await asyncio.sleep(3)
    again = await _scratch_topics(live_stack) - before
    assert again == set(), f"scratch topics came back after the deletion: {sorted(again)}"
