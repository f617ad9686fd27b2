"""The service factory every service uses: batches of raw Kafka records, read by one
consumer-group member (runtime.consumer), handed to plain handler functions; faust
hosts the worker process, its lifecycle and its web server (runtime.process).

What every consumer gets here, so no service writes it again:
- decoding with the one codec; a record that cannot be decoded, or whose handler
  fails on its content, goes to ``TOPIC.dlq`` with the reason and the partition
  flows on (runtime.applier);
- exactly-once effects: each batch is one PostgreSQL transaction; each message is
  recorded in ``processed_messages`` (by ce_id) in that transaction, so a redelivered
  message changes nothing (runtime.applier);
- events produced by a handler go to the outbox in the same transaction and a
  relay publishes them (idempotent producer, acks=all) and deletes them
  (runtime.outbox);
- infrastructure failures (PostgreSQL down) pause the consumer and retry with
  backoff instead of dead-lettering or crashing;
- timers, and wakes when a batch they wait on commits (runtime.timers);
- /healthz (open) and /metrics (bearer token) on the faust web server (runtime.ops_web).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg
from aiokafka import AIOKafkaProducer

from runtime import ops_web, positions, process, telemetry
from runtime.applier import BatchApplier, BatchHook, Handler, ManyHandler, Record
from runtime.consumer import BatchConsumer
from runtime.context import Context, Deferred, NotYet, Reject, run_deferred, timer_meta
from runtime.db import (
    MigrationChanged,
    create_pool,
    is_transient,
    migrate_schema,
    refuse_privileged_runtime,
)
from runtime.kafka import producer_config
from runtime.metrics import Metrics
from runtime.ops_web import authorized
from runtime.outbox import RELAY_LIMIT, Outbox
from runtime.positions import TopicEnds
from runtime.process import tune_process
from runtime.settings import Settings, settings
from runtime.timers import TimerFn, Timers
from schemas.codec import Encoded, Message, header_map
from schemas.events import Event
from schemas.topics import PRODUCING_SERVICES, NotAProducer, produced_by

log = logging.getLogger("rcm.runtime")

BATCH_MAX = 500
PRUNE_EVERY_S = 600.0
PRUNE_BATCH = 5000
E = TypeVar("E", bound=Event)


class Service:
    """One service process: faust app, PostgreSQL schema, handlers, outbox relay, ops web."""

    def __init__(
        self, name: str, *, schema: str, migrations: Path, http_port: int, s: Settings | None = None
    ) -> None:
        self.name = name
        # the topics its Kafka ACLs let it write (schemas/acls.py), checked at every emit
        self.produces = produced_by(name) if name in PRODUCING_SERVICES else None
        self.schema = schema
        self.migrations = migrations
        self.settings = s or settings()
        self.metrics = Metrics()
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.ready = asyncio.Event()
        self._startup_hooks: list[Callable[[], Awaitable[None]]] = []
        # the ends of a topic's partitions now, from the broker (runtime.positions)
        self.topic_ends: Callable[[str], Awaitable[list[int]]] = TopicEnds(self.settings)
        self.tracer = telemetry.tracer(f"rcm.{name}")
        self.outbox = Outbox(name, schema, self.metrics)
        self.applier = BatchApplier(self, self.outbox, self.metrics)
        self.handlers = self.applier.handlers
        self.scheduler = Timers()
        self.app = process.app(
            name, http_port + self.settings.http_port_offset, self.settings.http_host
        )
        self.consumer: BatchConsumer | None = None
        self.every(PRUNE_EVERY_S, Service.prune_processed)
        self.app.service(process.Lifecycle(self))  # type: ignore[arg-type]
        ops_web.install(self)

    # --- wiring ------------------------------------------------------------

    def on(
        self,
        event_type: type[E],
        handler: Callable[[Context, E], Awaitable[None]],
        *,
        topic: str | None = None,
    ) -> None:
        """Registers a handler for one event type arriving on its topic (or another)."""
        name = topic or event_type.TOPIC
        self.handlers.setdefault(name, {})[event_type] = cast(Handler, handler)

    def on_many(
        self,
        event_type: type[E],
        handler: Callable[[Sequence[tuple[Context, E]]], Awaitable[None]],
        *,
        topic: str | None = None,
    ) -> None:
        """Registers a set-based handler: it gets every message of a run of consecutive
        ``event_type`` messages in a batch at once, as (context, event) in arrival order,
        so it can apply them with a few statements instead of a few per message. A
        message applied on its own (the careful path) comes as a run of one; an exception
        sends the batch down that path, so a failing message is still isolated."""
        many = cast(ManyHandler, handler)

        async def one(ctx: Context, event: Event) -> None:
            await many([(ctx, event)])

        one.many = many  # type: ignore[attr-defined]  # the fast path's way in
        self.on(event_type, one, topic=topic)

    @property
    def group(self) -> str:
        """The Kafka consumer group of the service's instances."""
        return f"rcm-{self.name}"

    def track_positions(self, topic: str) -> None:
        """Each batch of ``topic`` records, in its transaction, how far each partition is
        applied, for handlers that ask whether every message the topic held at some moment
        is applied (runtime.positions)."""
        self.applier.tracked.add(topic)

    def before_batch(self, fn: BatchHook) -> BatchHook:
        """Runs ``fn(conn, topic, messages)`` in a batch's transaction before its handlers,
        with the batch's new (not yet applied) messages; handlers see what it returns as
        ``ctx.batch``. For work better done once per batch than once per message (the
        claims saga takes all of a batch's claim locks in one round trip, in one order).
        A message applied on its own (the careful path) gets ``ctx.batch = None``."""
        self.applier.before_batch = fn
        return fn

    def on_startup(self, fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        self._startup_hooks.append(fn)
        return fn

    # --- timers ------------------------------------------------------------

    def every(
        self, seconds: float, fn: TimerFn, *, woken_by: Sequence[str] = (), paced: bool = False
    ) -> None:
        """Runs ``fn`` periodically once the service is ready (timers, scheduled work).

        ``fn`` returns how much work it did; it runs again at once while it finds work,
        unless ``paced``: then once a period at most (work sent to an outside party at a
        rate it accepts, however much is due).
        Every instance runs it, so it must claim rows with FOR UPDATE SKIP LOCKED.
        ``woken_by``: topics whose batches write the rows ``fn`` looks for; once such a
        batch has committed, ``fn`` runs at once, so ``seconds`` only bounds how late it
        finds work no batch of this instance woke it for (a retry coming due).
        """
        self.scheduler.every(seconds, fn, woken_by=woken_by, paced=paced)

    def wake(self, fn: TimerFn, *, after: float = 0.0) -> None:
        """Runs the timer ``fn`` (see :meth:`every`) in ``after`` seconds, before its
        period is up: a retry it scheduled comes due then. No timer ``fn``: nothing.

        Only the soonest wake asked for is kept: a timer that asks for one looks again
        when it runs and finds nothing, so a later one would only add a run."""
        self.scheduler.wake(fn, after=after)

    async def wake_when_due(
        self, fn: TimerFn, conn: asyncpg.Connection, due_in_sql: str, *args: Any
    ) -> None:
        """Wakes the timer ``fn`` when the seconds ``due_in_sql`` returns are up: the run of
        a timer that found nothing asks for the soonest of its queued work (None: nothing
        waits, the timer's period covers work another instance queues)."""
        await self.scheduler.wake_when_due(fn, conn, due_in_sql, *args)

    def next_commit(self, topic: str) -> asyncio.Future[None]:
        """Done when this instance next commits a batch of ``topic``: for code outside
        the consumer (an HTTP route) that needs what the next batch writes."""
        return self.scheduler.next_commit(topic)

    def idle_for(self, now: float | None = None) -> float:
        """Seconds since this instance last committed a batch it consumed (``now``: a
        ``time.monotonic()`` reading, default the current one; infinite before the first):
        for work that can wait while a burst is being applied (statement PDFs)."""
        return self.scheduler.idle_for(now)

    async def read_up_to(self, topic: str) -> float:
        """The time (epoch seconds) up to which this instance has applied ``topic``
        (BatchConsumer.read_up_to): now when it is not behind, or runs no consumer (a
        test driving handlers directly). Timers that wait for an answer arriving on
        ``topic`` compare their deadlines with this, not with the clock."""
        if self.consumer is None:
            return time.time()
        return await self.consumer.read_up_to(topic)

    def timers(self) -> list[Coroutine[Any, Any, None]]:
        """The loops of the timers registered with :meth:`every`, to run as tasks."""
        return self.scheduler.loops(self)

    def context(
        self,
        conn: asyncpg.Connection,
        *,
        tenant: str,
        correlation_id: str,
        cause: str | None = None,
        traceparent: str | None = None,
    ) -> Context:
        """A handler context for work that no consumed message caused directly (timers)."""
        meta = timer_meta(
            self.name,
            tenant=tenant,
            correlation_id=correlation_id,
            cause=cause,
            traceparent=traceparent,
        )
        return Context(conn, self, meta)

    async def prune_processed(self) -> int:
        """Forgets consumed message ids older than ``dedupe_retention_days``, a few
        thousand at a time (the timer runs again at once while it finds some). A record
        can only be redelivered while its topic still holds it, so ids older than the
        topics' retention guard nothing, and an unbounded table slows every batch's
        dedupe insert as its index outgrows memory. Dead letters' full error texts (which
        may hold PHI) older than ``error_detail_retention_days`` go at the same time."""
        assert self.pool is not None
        await self.pool.execute(
            "DELETE FROM dead_letter_details WHERE at < now() - make_interval(days => $1)",
            self.settings.error_detail_retention_days,
        )
        done = await self.pool.execute(
            "DELETE FROM processed_messages WHERE message_id = ANY(ARRAY("
            "SELECT message_id FROM processed_messages"
            " WHERE processed_at < now() - make_interval(days => $1) LIMIT $2))",
            self.settings.dedupe_retention_days,
            PRUNE_BATCH,
        )
        return int(done.split()[-1])

    # --- processing --------------------------------------------------------

    def add_consumer(self) -> None:
        """One group member for every topic the service consumes: a batch is whatever
        arrived on any of them, applied topic by topic, one batch at a time. (Concurrent
        per-topic batches in the claims service waited on each other's claim locks, ten
        milliseconds a batch on average, pg_stat_statements.)"""
        self.consumer = BatchConsumer(
            self.settings,
            group=self.group,
            topics=sorted(self.handlers),
            apply=self._apply_consumed,
            batch_max=BATCH_MAX,
        )

    async def _apply_consumed(self, batch: list[Any]) -> set[str]:
        """Applies a fetched batch topic by topic, the topic whose first record is oldest
        (broker timestamp) first, not in the order the fetch returned the partitions: an
        event is produced after what caused it committed, so a batch holding both (claims:
        an encounter.created and the eligibility.checked it caused) applies the cause
        first. Returns the topics whose part was put back (:class:`NotYet`): the consumer
        reads them again after a pause."""
        by_topic: dict[str, list[Record]] = {}
        first: dict[str, int] = {}
        for m in batch:
            by_topic.setdefault(m.topic, []).append(
                Record(m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers))
            )
            first[m.topic] = min(first.get(m.topic, m.timestamp), m.timestamp)
        put_back: set[str] = set()
        for topic_name in sorted(by_topic, key=first.__getitem__):
            records = by_topic[topic_name]
            try:
                await self.process(topic_name, records)
            except NotYet as exc:
                log.info("%s put back until the topics it waits for are read: %s",
                         topic_name, exc)  # fmt: skip
                self.metrics.retries.labels(self.name, topic_name).inc()
                put_back.add(topic_name)
        return put_back

    async def process(self, topic: str, records: Sequence[Record]) -> None:
        """Applies a batch once. Retries the whole batch while the infrastructure is down."""
        await self.ready.wait()
        assert self.pool is not None
        delay = 0.2
        while True:
            try:
                written = self.outbox.writes
                with self.metrics.handler_seconds.labels(self.name, topic).time():
                    async with self.pool.acquire() as conn:
                        await self.applier.apply(conn, topic, records)
                self.metrics.messages_in.labels(self.name, topic).inc(len(records))
                if self.outbox.writes != written:
                    self.outbox.wake.set()
                self.scheduler.committed(topic)
                return
            except (asyncio.CancelledError, NotYet):
                raise  # NotYet: the consumer puts the topic's records back (_apply_consumed)
            except Exception as exc:
                if not is_transient(exc):
                    # Not any one message's fault (those are caught per message): the
                    # batch machinery itself failed. Retrying is the only safe move.
                    log.exception("batch failed; retrying", extra={"topic": topic})
                else:
                    log.warning(
                        "infrastructure unavailable, pausing %s: %s", topic, type(exc).__name__
                    )
                self.metrics.retries.labels(self.name, topic).inc()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def consume(self) -> None:
        """Consumes the service's topics until cancelled, as the running process does
        (for code that drives a service without its process: tests)."""
        if self.consumer is None:
            self.add_consumer()
        assert self.consumer is not None
        await self.consumer.run()

    # --- outbox ------------------------------------------------------------

    async def outbox_put(self, conn: asyncpg.Connection, enc: Encoded) -> None:
        await self.outbox.put(conn, enc)

    async def outbox_put_many(self, conn: asyncpg.Connection, encoded: Sequence[Encoded]) -> None:
        await self.outbox.put_many(conn, encoded)

    async def relay_outbox(self) -> None:
        """Publishes outbox rows in id order, then deletes them. Survives restarts."""
        assert self.pool is not None
        assert self.producer is not None
        await self.outbox.relay(self.pool, self.producer)

    async def relay_once(self, limit: int = RELAY_LIMIT) -> int:
        """One pass of the relay: publishes and deletes up to ``limit`` rows."""
        assert self.pool is not None
        assert self.producer is not None
        return await self.outbox.relay_once(self.pool, self.producer, limit)

    # --- lifecycle ---------------------------------------------------------

    async def start_resources(self) -> None:
        self.pool = await self._connect_with_retry()
        await refuse_privileged_runtime(self.settings, self.pool, self.schema)
        try:
            applied = await migrate_schema(self.settings, self.schema, self.migrations, self.pool)
        except MigrationChanged as exc:
            log.critical("%s", exc)  # the one line an operator needs, before the traceback
            raise
        if applied:
            log.info("migrations applied: %s", ", ".join(applied))
        self.producer = AIOKafkaProducer(**producer_config(self.settings))
        await self.producer.start()
        if self.applier.tracked:
            await positions.seed_from_group(
                self.pool, self.settings, self.group, sorted(self.applier.tracked)
            )
        for hook in self._startup_hooks:
            await hook()
        # What startup built (modules, code sets, tables) lives as long as the process:
        # move it out of the collector's sight so full collections stop rescanning it.
        gc.collect()
        gc.freeze()
        self.ready.set()

    async def _connect_with_retry(self) -> asyncpg.Pool:
        delay = 0.2
        while True:
            try:
                return await create_pool(self.settings, self.schema)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("PostgreSQL not reachable yet: %s", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def stop_resources(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if isinstance(self.topic_ends, TopicEnds):
            await self.topic_ends.close()
        if self.pool is not None:
            await self.pool.close()

    def may_emit(self, event: Event) -> None:
        """Raises for an event of a topic schemas.topics.PRODUCERS does not give this
        service: with Kafka ACLs on, the broker would refuse it after the commit."""
        if self.produces is not None and event.TOPIC not in self.produces:
            raise NotAProducer(
                f"{self.name} emits {event.TOPIC}, which schemas.topics.PRODUCERS does not"
                " give it (its Kafka ACLs are derived from that table)"
            )

    def run(self) -> None:
        """The process entry point: ``python -m services.NAME``."""
        process.run(self)


def _headers(raw: Sequence[tuple[str, bytes | None]]) -> list[tuple[str, bytes]]:
    """aiokafka's record headers, without the ones that carry no value."""
    return [(k, v) for k, v in raw if v is not None]


__all__ = [
    "Context",
    "Deferred",
    "Message",
    "Record",
    "Reject",
    "Service",
    "authorized",
    "header_map",
    "run_deferred",
    "tune_process",
]
