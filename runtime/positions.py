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
  (``Service.track_positions``), so it never claims a message that was rolled back, and
  seeds at start-up from the offsets its consumer group has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import NamedTuple, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from runtime.kafka import client_config
from runtime.settings import Settings

log = logging.getLogger("rcm.runtime")


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
            # The topic's partitions as the broker has them now: a partition an operator
            # added is counted at once, not when the client's metadata next expires.
            await consumer._client.add_topic(topic)
            await consumer._client.force_metadata_update()
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


async def seed_from_group(
    pool: asyncpg.Pool, s: Settings, group: str, topics: Sequence[str]
) -> int:
    """Records the consumer group's committed offsets of ``topics`` as applied positions
    (a committed offset is only ever behind what was applied: runtime.consumer commits
    after the batch's transaction). A service that starts tracking a topic it has read
    before (an upgrade, a table restored from an older backup) would otherwise count a
    partition that gets no new message as unread. Returns how many partitions it found;
    a broker that cannot answer leaves the positions to the batches (logged, no error).
    An operator who moves the group's offsets past unread messages has skipped them for
    good, here as for the consumer."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_config(s), request_timeout_ms=10_000)
    try:
        await admin.start()
        committed = await admin.list_consumer_group_offsets(group)
    except (KafkaError, OSError) as exc:
        log.warning("positions of %s not seeded from the group: %s", group, type(exc).__name__)
        return 0
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    found = [
        _Committed(tp.topic, tp.partition, meta.offset - 1)
        for tp, meta in committed.items()
        if tp.topic in topics and meta is not None and meta.offset > 0
    ]
    async with pool.acquire() as conn, conn.transaction():
        for topic in topics:
            await record(conn, topic, [c for c in found if c.topic == topic])
    return len(found)


class _Committed(NamedTuple):
    topic: str
    partition: int
    offset: int  # the last applied record's offset


async def read_through(conn: asyncpg.Connection, topic: str, ends: Sequence[int]) -> bool:
    """Whether the service has applied every message of ``topic`` below ``ends``."""
    done: bool = await conn.fetchval("SELECT read_through($1, $2::bigint[])", topic, list(ends))
    return done


__all__ = ["TopicEnds", "read_through", "record", "seed_from_group"]
