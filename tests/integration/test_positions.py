"""Positions on the real broker and database: a topic's ends from Kafka, and how far a
service has applied it, recorded by the runtime in each batch's transaction. Remittance
matches a payment by patient, date and charge only once these say every claim.submitted
published before its 835 is applied (tests/integration/test_remittance_posting.py)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, RecordsToDelete

from runtime import positions
from runtime.kafka import client_config, producer_config
from runtime.service import Context, Record, Service
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import ClaimSubmitted
from tests.integration.test_consumer import _topics
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration


async def _topic(s: Settings, partitions: int) -> str:
    name = f"positionstest.{uuid.uuid4().hex[:8]}"
    await _topics(s, name, partitions=partitions)
    return name


def _event(n: int) -> ClaimSubmitted:
    return ClaimSubmitted(
        claim_id=f"CLAIM-{n}",
        patient_control_number=f"P{n}",
        payer_id="MCR01",
        interchange_control_number="000000001",
        group_control_number="1",
        transaction_control_number="0001",
        frequency_code="1",
        total_charge_cents=10000,
        x12="ISA*" + "*" * 120,  # not read here
    )


Headers = list[tuple[str, bytes]]
NONE: Headers = []


async def _produce(s: Settings, topic: str, values: list[tuple[int, bytes, Headers]]) -> None:
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        for partition, value, headers in values:
            await producer.send_and_wait(topic, value, partition=partition, headers=headers)
    finally:
        await producer.stop()


def _encoded(n: int) -> tuple[bytes, Headers]:
    ev = _event(n)
    x = encode(ev, new_meta(ev, source="test", tenant="t-pos", correlation_id=f"c{n}"))
    return x.value, list(x.headers)


@pytest.fixture
async def svc(live_stack: Settings, tmp_path: Path) -> AsyncIterator[Service]:
    def wire(s: Service) -> None:
        pass

    async with throwaway_service(
        f"positions-{uuid.uuid4().hex[:6]}", tmp_path, wire, live_stack
    ) as service:
        yield service


async def test_a_topics_ends_count_only_partitions_that_hold_messages(
    live_stack: Settings, svc: Service
) -> None:
    topic = await _topic(live_stack, 3)
    await _produce(
        live_stack,
        topic,
        [(0, b"a", NONE)] * 5 + [(1, b"b", NONE)] * 2,
    )
    assert await svc.topic_ends(topic) == [5, 2, 0]
    # retention removed partition 1's messages: nothing there is left to wait for
    admin = AIOKafkaAdminClient(**client_config(live_stack))
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 1): RecordsToDelete(before_offset=2)})
    finally:
        await admin.close()
    assert await svc.topic_ends(topic) == [5, 0, 0]


async def test_a_partition_added_to_the_topic_is_counted_at_once(
    live_stack: Settings, svc: Service
) -> None:
    """An operator adds a partition: a claim.submitted published there before an 835
    must be waited for, so the ends name it at once, not when the client's metadata
    next expires (five minutes)."""
    topic = await _topic(live_stack, 2)
    await _produce(live_stack, topic, [(0, b"a", NONE), (1, b"b", NONE)])
    assert await svc.topic_ends(topic) == [1, 1]
    admin = AIOKafkaAdminClient(**client_config(live_stack))
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(3)})
    finally:
        await admin.close()
    await _produce(live_stack, topic, [(2, b"c", NONE), (2, b"c", NONE)])
    assert await svc.topic_ends(topic) == [1, 1, 2]


async def test_a_service_has_read_through_a_topic_once_its_batches_are_applied(
    live_stack: Settings, svc: Service
) -> None:
    topic = await _topic(live_stack, 2)
    applied: list[str] = []

    async def handler(ctx: Context, ev: ClaimSubmitted) -> None:
        applied.append(ev.claim_id)

    svc.on(ClaimSubmitted, handler, topic=topic)
    svc.track_positions(topic)
    good = [(n % 2, *_encoded(n)) for n in range(7)]
    # an undecodable record on partition 1: its batch goes down the careful path and the
    # record to the dead-letter topic, and it still counts as read
    await _produce(live_stack, topic, [*good, (1, b"not an event", NONE)])
    ends = await svc.topic_ends(topic)
    assert ends == [4, 4]
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:
        assert not await positions.read_through(conn, topic, ends)

    consuming = asyncio.ensure_future(svc.consume())
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            async with svc.pool.acquire() as conn:
                if await positions.read_through(conn, topic, ends):
                    break
            assert asyncio.get_running_loop().time() < deadline, "never read through"
            await asyncio.sleep(0.1)
    finally:
        consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming

    assert sorted(applied) == sorted(f"CLAIM-{n}" for n in range(7))
    [dead] = await svc.pool.fetch('SELECT partition, "offset", reason FROM dead_letters')
    assert (dead["partition"], dead["offset"]) == (1, 3)
    async with svc.pool.acquire() as conn:
        assert not await positions.read_through(conn, topic, [4, 5])  # one more on partition 1
        # a batch delivered again after a rebalance leaves the position where it was
        async with conn.transaction():
            await positions.record(conn, topic, [Record(topic, 0, 1, None, b"", [])])
        assert await positions.read_through(conn, topic, ends)
    got = await svc.pool.fetch(
        "SELECT partition, next_offset FROM consumed_positions WHERE topic = $1 ORDER BY partition",
        topic,
    )
    assert [tuple(r) for r in got] == [(0, 4), (1, 4)]


async def test_a_service_that_starts_tracking_a_topic_counts_what_its_group_committed(
    live_stack: Settings, tmp_path: Path
) -> None:
    """An upgrade: the group has read partition 0 of the topic to its end before the
    service tracked positions. Partition 0 gets no new message, and must not wait for
    one to count as read."""
    topic = await _topic(live_stack, 2)
    await _produce(live_stack, topic, [(0, b"a", NONE)] * 3 + [(1, b"b", NONE)] * 2)
    name = f"positions-{uuid.uuid4().hex[:6]}"
    tp0 = TopicPartition(topic, 0)
    earlier = AIOKafkaConsumer(
        group_id=f"rcm-{name}", enable_auto_commit=False, **client_config(live_stack)
    )
    await earlier.start()
    try:
        earlier.assign([tp0])
        await earlier.commit({tp0: 3})
    finally:
        await earlier.stop()

    def wire(s: Service) -> None:
        s.track_positions(topic)

    async with throwaway_service(name, tmp_path, wire, live_stack) as svc:
        assert svc.pool is not None
        assert await svc.topic_ends(topic) == [3, 2]
        async with svc.pool.acquire() as conn:
            assert await positions.read_through(conn, topic, [3, 0])
            assert not await positions.read_through(conn, topic, [3, 2])
        got = await svc.pool.fetch("SELECT partition, next_offset FROM consumed_positions")
        assert [tuple(r) for r in got] == [(0, 3)]
