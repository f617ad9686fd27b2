"""The batch consumer every service reads its topics with: one aiokafka group member.

A service's handlers are applied a batch at a time (runtime.service); the consumer's work
is only to fetch a batch, hand it over and, once it is applied, commit its offsets. It
reads with aiokafka directly, not through a faust agent: faust's per-record machinery (an
event object, a flow-control queue, a stream iterator and an acknowledgement per record,
and a fetcher that wakes per message) was the largest share of every service's CPU under
py-spy, and a service never used any of it (docs/performance.md).

What it keeps of faust's consumer:
- the group ``rcm-<service>`` and co-partitioned assignment (the range assignor gives one
  member the same partition numbers of every topic it reads, as faust's assignor did);
- a batch is what arrives within ``batch_within_s`` of its first record, at most
  ``batch_max`` records;
- offsets are committed only after their batch is applied, at most once a second, and when
  partitions are taken away. Effects are exactly once regardless: a redelivered record is
  found in ``processed_messages`` and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError

from runtime import fetch_sessions
from runtime.kafka import client_config
from runtime.settings import Settings

log = logging.getLogger("rcm.runtime")

POLL_MS = 1000
COMMIT_EVERY_S = 1.0
#: A put-back partition is read again after this pause, doubling while it is put back
#: again, at most PUT_BACK_MAX_S.
PUT_BACK_S = 0.2
PUT_BACK_MAX_S = 5.0

#: Applies a batch; may return the topics whose records it put back (read them again).
ApplyBatch = Callable[[list[Any]], Awaitable[set[str] | None]]


class BatchConsumer(ConsumerRebalanceListener):  # type: ignore[misc]
    """Fetches batches of records for ``apply`` and commits what it applied."""

    def __init__(
        self,
        s: Settings,
        *,
        group: str,
        topics: Sequence[str],
        apply: ApplyBatch,
        batch_max: int,
    ) -> None:
        self.settings = s
        self.group = group
        self.topics = list(topics)
        self.apply = apply
        self.batch_max = batch_max
        self.consumer: AIOKafkaConsumer | None = None
        # Set once the group has given this member its share (possibly none): until then
        # the member is not ready, or a new instance would report healthy while the
        # others still hold every partition.
        self.joined = asyncio.Event()
        # Next offset to commit per partition: applied, not yet committed.
        self._applied: dict[TopicPartition, int] = {}
        # The pause before a put-back partition is read again (doubles while put back).
        self._put_back: dict[TopicPartition, float] = {}
        # Per partition: the next offset to apply, and the last applied record's time.
        self._next: dict[TopicPartition, int] = {}
        self._event_ms: dict[TopicPartition, int] = {}

    def _new_consumer(self) -> AIOKafkaConsumer:
        fetch_sessions.use(self.settings.kafka_fetch_sessions)
        return AIOKafkaConsumer(
            **client_config(self.settings),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            # A killed instance leaves its group within seconds, so its partitions move on.
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            max_poll_records=self.batch_max,
        )

    async def run(self) -> None:
        """Consumes until cancelled. A consumer that fails is replaced after a pause."""
        while True:
            consumer = self._new_consumer()
            self.consumer = consumer
            try:
                await consumer.start()
                consumer.subscribe(self.topics, listener=self)
                await self._loop(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("consumer %s failed, restarting: %s", self.group, type(exc).__name__)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await self._commit(consumer)
                with contextlib.suppress(Exception):
                    await consumer.stop()
                self._applied.clear()
                self._next.clear()
                self.consumer = None

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        loop = asyncio.get_running_loop()
        last_commit = loop.time()
        while True:
            batch = await self._fetch(consumer)
            if batch:
                put_back = await self.apply(batch) or set()
                assigned = consumer.assignment()
                first: dict[TopicPartition, int] = {}
                for r in batch:
                    tp = TopicPartition(r.topic, r.partition)
                    if r.topic in put_back:
                        first.setdefault(tp, r.offset)
                    elif tp in assigned:
                        self._applied[tp] = self._next[tp] = r.offset + 1
                        self._event_ms[tp] = r.timestamp
                        self._put_back.pop(tp, None)
                self._read_again(consumer, first)
            if self._applied and loop.time() - last_commit >= COMMIT_EVERY_S:
                await self._commit(consumer)
                last_commit = loop.time()

    def _read_again(self, consumer: AIOKafkaConsumer, first: dict[TopicPartition, int]) -> None:
        """The put-back partitions: back to their first record not applied, paused for a
        while (the other topics go on meanwhile), then read again. Nothing of them is
        marked applied, so no offset past them is committed."""
        loop = asyncio.get_running_loop()
        assigned = consumer.assignment()
        for tp, offset in first.items():
            if tp not in assigned:
                continue
            consumer.seek(tp, offset)
            consumer.pause(tp)
            wait = self._put_back.get(tp, PUT_BACK_S)
            self._put_back[tp] = min(wait * 2, PUT_BACK_MAX_S)
            loop.call_later(wait, self._resume, consumer, tp)

    @staticmethod
    def _resume(consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        if tp in consumer.assignment():
            consumer.resume(tp)

    async def read_up_to(self, topic: str, now: float | None = None) -> float:
        """The time (epoch seconds) up to which this member has applied ``topic``: ``now``
        on a partition it has applied to the end the broker last reported, else the time
        of the partition's last applied record (0 before it knows); the least over its
        partitions of the topic (``now`` with none). A timer waiting for an answer that
        comes on ``topic`` fires only for deadlines before this: an answer sitting unread
        in the backlog is not a missing answer."""
        now = time.time() if now is None else now
        consumer = self.consumer
        if consumer is None or not self.joined.is_set():
            return 0.0
        least = now
        for tp in consumer.assignment():
            if tp.topic != topic:
                continue
            end = consumer.highwater(tp)
            if end is None:
                return 0.0  # no fetch answered yet: the backlog is unknown
            position = self._next.get(tp)
            if position is None:  # nothing applied since it was assigned
                try:
                    position = await asyncio.wait_for(consumer.position(tp), 1.0)
                except (TimeoutError, KafkaError, AssertionError):
                    return 0.0  # being reassigned: unknown for now
            if end <= position:
                continue
            least = min(least, self._event_ms.get(tp, 0) / 1000)
        return least

    async def _fetch(self, consumer: AIOKafkaConsumer) -> list[Any]:
        """Waits for a first record, then tops the batch up for ``batch_within_s``."""
        got = await consumer.getmany(timeout_ms=POLL_MS, max_records=self.batch_max)
        batch = [r for records in got.values() for r in records]
        if not batch:
            return batch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.batch_within_s
        while len(batch) < self.batch_max:
            left = deadline - loop.time()
            if left <= 0:
                break
            more = await consumer.getmany(
                timeout_ms=max(1, int(left * 1000)), max_records=self.batch_max - len(batch)
            )
            batch.extend(r for records in more.values() for r in records)
        return batch

    async def _commit(self, consumer: AIOKafkaConsumer, only: set[Any] | None = None) -> None:
        assigned = consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in self._applied.items()
            if tp in assigned and (only is None or tp in only)
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # The group moved on (a rebalance): the next owner re-reads from the last
            # commit and skips what was applied (processed_messages).
            log.warning("offset commit failed for %s: %s", self.group, type(exc).__name__)
        for tp in offsets:
            self._applied.pop(tp, None)

    # --- ConsumerRebalanceListener ------------------------------------------

    async def on_partitions_revoked(self, revoked: Any) -> None:
        if self.consumer is not None:
            await self._commit(self.consumer, set(revoked))
        for tp in revoked:
            self._applied.pop(tp, None)
            self._next.pop(tp, None)
            self._event_ms.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.joined.set()


__all__ = ["BatchConsumer"]
