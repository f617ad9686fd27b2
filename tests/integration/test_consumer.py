"""The batch consumer on the real broker: order per partition, offsets committed only for
applied batches, and a group's members sharing co-partitioned topics."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from runtime.consumer import BatchConsumer
from runtime.kafka import client_config, producer_config
from runtime.settings import Settings

pytestmark = pytest.mark.integration


async def _topics(s: Settings, *names: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(**client_config(s))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def _produce(
    s: Settings, topic: str, per_partition: dict[int, int], *, first: int = 0
) -> None:
    """Writes records ``partition:i`` for i from ``first``, ``n`` to each partition."""
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        for partition, n in per_partition.items():
            for i in range(first, first + n):
                await producer.send(topic, f"{partition}:{i}".encode(), partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


async def _committed(s: Settings, group: str, tps: list[TopicPartition]) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **client_config(s))
    await consumer.start()
    try:
        return {tp.partition: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()


async def _until(predicate: Any, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_partition_order_is_kept_and_applied_offsets_are_committed(
    live_stack: Settings,
) -> None:
    topic, group = (
        f"consumertest.{uuid.uuid4().hex[:6]}",
        f"rcm-consumertest-{uuid.uuid4().hex[:6]}",
    )
    await _topics(live_stack, topic, partitions=2)
    await _produce(live_stack, topic, {0: 30, 1: 12})
    seen: list[Any] = []

    async def apply(batch: list[Any]) -> None:
        seen.extend(batch)

    c = BatchConsumer(live_stack, group=group, topics=[topic], apply=apply, batch_max=7)
    task = asyncio.ensure_future(c.run())
    await _until(lambda: len(seen) == 42)
    await _stop(task)

    for partition, n in ((0, 30), (1, 12)):
        values = [r.value.decode() for r in seen if r.partition == partition]
        assert values == [f"{partition}:{i}" for i in range(n)]
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    assert await _committed(live_stack, group, tps) == {0: 30, 1: 12}


async def test_a_batch_not_applied_is_not_committed_and_is_read_again(
    live_stack: Settings,
) -> None:
    """A process that dies inside a batch loses nothing: the next member of the group
    starts at the first record of the batch that was not applied."""
    topic, group = (
        f"consumertest.{uuid.uuid4().hex[:6]}",
        f"rcm-consumertest-{uuid.uuid4().hex[:6]}",
    )
    await _topics(live_stack, topic, partitions=1)
    await _produce(live_stack, topic, {0: 20})
    applied: list[int] = []
    stuck = asyncio.Event()

    async def apply_then_hang(batch: list[Any]) -> None:
        if applied:  # the second batch never finishes: the process is killed inside it
            stuck.set()
            await asyncio.Event().wait()
        applied.extend(r.offset for r in batch)

    first = BatchConsumer(
        live_stack, group=group, topics=[topic], apply=apply_then_hang, batch_max=5
    )
    task = asyncio.ensure_future(first.run())
    await asyncio.wait_for(stuck.wait(), 30)
    await _stop(task)
    assert applied == [0, 1, 2, 3, 4]
    assert await _committed(live_stack, group, [TopicPartition(topic, 0)]) == {0: 5}

    again: list[int] = []

    async def apply(batch: list[Any]) -> None:
        again.extend(r.offset for r in batch)

    second = BatchConsumer(live_stack, group=group, topics=[topic], apply=apply, batch_max=5)
    task = asyncio.ensure_future(second.run())
    await _until(lambda: len(again) == 15)
    await _stop(task)
    assert again == list(range(5, 20))


async def test_members_share_partitions_with_each_topic_split_alike(live_stack: Settings) -> None:
    """Two instances of a service split its partitions between them, and each holds the
    same partition numbers of every topic, so one claim's events on different topics (keyed
    alike) reach the same instance."""
    suffix = uuid.uuid4().hex[:6]
    topics = [f"consumertest.a.{suffix}", f"consumertest.b.{suffix}"]
    group = f"rcm-consumertest-{suffix}"
    await _topics(live_stack, *topics, partitions=3)

    async def apply(batch: list[Any]) -> None:
        return None

    members = [
        BatchConsumer(live_stack, group=group, topics=topics, apply=apply, batch_max=10)
        for _ in range(2)
    ]
    tasks = [asyncio.ensure_future(m.run()) for m in members]
    try:

        def split() -> bool:
            held = [m.consumer.assignment() if m.consumer else set() for m in members]
            return all(m.joined.is_set() for m in members) and sum(map(len, held)) == 6

        await _until(split)
        held = [{(tp.topic, tp.partition) for tp in m.consumer.assignment()} for m in members]  # type: ignore[union-attr]
        assert not held[0] & held[1]
        assert held[0] | held[1] == {(t, p) for t in topics for p in range(3)}
        assert all(held)
        for h in held:
            numbers = [{p for t, p in h if t == topic} for topic in topics]
            assert numbers[0] == numbers[1]
    finally:
        for t in tasks:
            await _stop(t)


async def test_a_topic_put_back_waits_while_the_topic_it_needs_goes_on(
    live_stack: Settings,
) -> None:
    """Answers that arrive before what they answer (an 835 before its claim.submitted)
    are put back, not retried in place: the consumer goes on reading the other topic, then
    reads the answers again, each once, and commits both topics to their ends. (Retrying
    in place, the answers' batch held the other topic back behind it: the claims service
    stood still in a benchmark until a ten-minute bound ran out.)"""
    suffix = uuid.uuid4().hex[:6]
    answers, claims = f"consumertest.answers.{suffix}", f"consumertest.claims.{suffix}"
    group = f"rcm-consumertest-{suffix}"
    await _topics(live_stack, answers, claims, partitions=1)
    await _produce(live_stack, answers, {0: 5})  # the answers first: they come first
    indexed: set[str] = set()
    answered: list[str] = []
    put_back = 0

    async def apply(batch: list[Any]) -> set[str]:
        nonlocal put_back
        waiting = set()
        for r in batch:
            if r.topic == claims:
                indexed.add(r.value.decode())
        for r in batch:
            if r.topic == answers and r.value.decode() not in indexed:  # not read yet
                waiting.add(answers)  # put back
        if waiting:
            put_back += 1
        else:
            answered.extend(r.value.decode() for r in batch if r.topic == answers)
        return waiting

    c = BatchConsumer(live_stack, group=group, topics=[answers, claims], apply=apply, batch_max=50)
    task = asyncio.ensure_future(c.run())
    try:
        await _until(lambda: put_back > 0)  # the answers wait: their claims are not there
        await _produce(live_stack, claims, {0: 5})
        await _until(lambda: len(answered) == 5)
        await asyncio.sleep(1.5)  # a commit interval: nothing read twice meanwhile
    finally:
        await _stop(task)
    assert answered == [f"0:{i}" for i in range(5)]  # each once, in order
    assert indexed == {f"0:{i}" for i in range(5)}
    committed = {
        t: (await _committed(live_stack, group, [TopicPartition(t, 0)]))[0]
        for t in (answers, claims)
    }
    assert committed == {answers: 5, claims: 5}


async def test_a_member_behind_on_a_topic_has_read_it_only_up_to_its_last_record(
    live_stack: Settings,
) -> None:
    """What the claims timers judge by (Service.read_up_to): while a member works
    through a backlog it has read a topic up to the last record it applied, not up to
    now; once it has applied everything the broker holds, up to now; and a member given
    a partition with nothing new on it has no backlog."""
    topic, group = (
        f"consumertest.{uuid.uuid4().hex[:6]}",
        f"rcm-consumertest-{uuid.uuid4().hex[:6]}",
    )
    await _topics(live_stack, topic, partitions=1)
    await _produce(live_stack, topic, {0: 20})
    tp = TopicPartition(topic, 0)
    applied: list[Any] = []
    release = asyncio.Event()

    async def apply(batch: list[Any]) -> None:
        if applied:
            await release.wait()  # the first batch applied, the rest held back
        applied.extend(batch)

    def fetched(member: BatchConsumer) -> bool:
        return member.consumer is not None and member.consumer.highwater(tp) is not None

    first = BatchConsumer(live_stack, group=group, topics=[topic], apply=apply, batch_max=5)
    task = asyncio.ensure_future(first.run())
    try:
        await _until(lambda: len(applied) == 5 and fetched(first))
        assert await first.read_up_to(topic, now=4e9) == applied[-1].timestamp / 1000
        release.set()
        await _until(lambda: len(applied) == 20)
        assert await first.read_up_to(topic, now=4e9) == 4e9
    finally:
        await _stop(task)
    assert await _committed(live_stack, group, [tp]) == {0: 20}

    second = BatchConsumer(live_stack, group=group, topics=[topic], apply=apply, batch_max=5)
    task = asyncio.ensure_future(second.run())
    try:
        await asyncio.wait_for(second.joined.wait(), 30)
        await _until(lambda: fetched(second))
        assert await second.read_up_to(topic, now=4e9) == 4e9
        assert len(applied) == 20
    finally:
        await _stop(task)
