"""Has this service applied every message a topic held at some moment? By position, not
by time.

Remittance asks this before it matches a payment by patient, date and charge: the
claim.submitted of the claim an 835 pays was published before the payer could pay it,
so once remittance has applied every claim.submitted the topic held when the 835 was
read, the paid claim is indexed if it ever will be. A wait measured in seconds cannot say
that: a consumer may lag by minutes.

Two halves, compared in SQL by ``read_through(topic, ends)`` (runtime migration 0006):
- the topic's ends at a moment, per partition: :class:`TopicEnds` (Kafka ListOffsets);
- what the service has applied, per partition: ``consumed_positions``, which the runtime
  writes in the same transaction as each batch of a topic the service tracks
  (``Service.track_positions``), so it never claims a message that was rolled back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from runtime.kafka import client_config
from runtime.settings import Settings


class TopicEnds:
    """The ends of a topic's partitions now, from the broker (one group-less consumer,
    started on first use)."""

    def __init__(self, s: Settings) -> None:
        self.settings = s
        self._consumer: AIOKafkaConsumer | None = None
        self._starting = asyncio.Lock()

    async def __call__(self, topic: str) -> list[int]:
        """Per partition, in partition order: the offset the next message will take, or 0
        when the partition holds no message (all of them removed by retention, or none
        yet), as there is then nothing in it to wait for. A broker that cannot answer
        raises ConnectionError: the runtime retries the batch rather than dead-letter it."""
        try:
            consumer = await self._started()
            # tracked from now on: the client keeps the topic's partitions in its metadata
            await consumer._client.add_topic(topic)
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                raise ConnectionError(f"the broker knows no partitions of {topic}")
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            first = await consumer.beginning_offsets(tps)
            last = await consumer.end_offsets(tps)
        except KafkaError as exc:
            raise ConnectionError(f"offsets of {topic}: {type(exc).__name__}") from exc
        if [tp.partition for tp in tps] != list(range(len(tps))):
            raise ConnectionError(f"{topic}'s partitions are not numbered 0..n-1: {parts}")
        return [0 if last[tp] <= first[tp] else last[tp] for tp in tps]

    async def _started(self) -> AIOKafkaConsumer:
        async with self._starting:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(
                    **client_config(self.settings), group_id=None, enable_auto_commit=False
                )
                await consumer.start()
                self._consumer = consumer
            return self._consumer

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()


class Positioned(Protocol):
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


async def record(conn: asyncpg.Connection, topic: str, records: Sequence[Positioned]) -> None:
    """Notes, in the batch's transaction, that the records of ``topic`` are applied. A
    position never moves back: a batch delivered again after a rebalance leaves it where
    it was."""
    upto: dict[int, int] = {}
    for r in records:
        if r.offset + 1 > upto.get(r.partition, -1):
            upto[r.partition] = r.offset + 1
    if not upto:
        return
    await conn.execute(
        "INSERT INTO consumed_positions(topic, partition, next_offset)"
        " SELECT $1, * FROM unnest($2::int[], $3::bigint[])"
        " ON CONFLICT (topic, partition) DO UPDATE"
        " SET next_offset = greatest(consumed_positions.next_offset, EXCLUDED.next_offset)",
        topic,
        list(upto),
        list(upto.values()),
    )


async def read_through(conn: asyncpg.Connection, topic: str, ends: Sequence[int]) -> bool:
    """Whether the service has applied every message of ``topic`` below ``ends``."""
    done: bool = await conn.fetchval("SELECT read_through($1, $2::bigint[])", topic, list(ends))
    return done


__all__ = ["TopicEnds", "read_through", "record"]
