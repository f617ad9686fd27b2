"""Lag figures match offsets produced and consumed on the real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from runtime.kafka import client_config, producer_config
from runtime.lag import collect, prometheus
from runtime.settings import Settings

pytestmark = pytest.mark.integration


async def test_lag_is_produced_minus_committed_per_partition(live_stack: Settings) -> None:
    topic, group = f"lagtest.{uuid.uuid4().hex[:6]}", f"rcm-lagtest-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(**client_config(live_stack))
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    producer = AIOKafkaProducer(**producer_config(live_stack))
    await producer.start()
    for i in range(7):
        await producer.send_and_wait(topic, b"x", partition=0, key=str(i).encode())
    for i in range(3):
        await producer.send_and_wait(topic, b"y", partition=1, key=str(i).encode())
    await producer.stop()
    await asyncio.sleep(1.2)  # so the oldest unconsumed message has a measurable age

    consumer = AIOKafkaConsumer(
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_config(live_stack),
    )
    await consumer.start()
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    consumer.assign([p0, p1])
    await consumer.commit({p0: 4, p1: 3})
    await consumer.stop()

    rows = {r.partition: r for r in await collect(live_stack, groups=[group])}
    assert (rows[0].committed, rows[0].end, rows[0].lag) == (4, 7, 3)
    assert (rows[1].committed, rows[1].end, rows[1].lag) == (3, 3, 0)
    assert rows[0].lag_seconds >= 1.0
    assert rows[1].lag_seconds == 0
    text = prometheus(list(rows.values()))
    assert (
        f'kafka_consumergroup_group_lag{{group="{group}",topic="{topic}",partition="0"}} 3' in text
    )
    assert f'kafka_consumergroup_group_max_lag{{group="{group}"}} 3' in text
