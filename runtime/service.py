"""The service factory every service uses: batches of raw Kafka records, read by one
consumer-group member (runtime.consumer), handed to plain handler functions; faust
hosts the worker process, its lifecycle and its web server.

What every consumer gets here, so no service writes it again:
- decoding with the one codec; a record that cannot be decoded, or whose handler
  fails on its content, goes to ``TOPIC.dlq`` with the reason and the partition
  flows on;
- exactly-once effects: each batch is one PostgreSQL transaction; each message is
  recorded in ``processed_messages`` (by ce_id) in that transaction, inside a
  savepoint with its effects, so a redelivered message changes nothing;
- events produced by a handler go to the outbox in the same transaction and a
  relay publishes them (idempotent producer, acks=all) and deletes them;
- infrastructure failures (PostgreSQL down) pause the consumer and retry with
  backoff instead of dead-lettering or crashing;
- /healthz (open) and /metrics (bearer token) on the faust web server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import functools
import gc
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg
import faust
import orjson
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from runtime import logs, positions, telemetry
from runtime.consumer import BatchConsumer
from runtime.db import create_pool, is_transient, migrate
from runtime.kafka import producer_config
from runtime.positions import TopicEnds
from runtime.settings import Settings, settings
from schemas.codec import (
    DecodeError,
    Encoded,
    Message,
    Meta,
    decode,
    encode,
    header_map,
    new_meta,
)
from schemas.events import Event
from schemas.topics import dlq_name

log = logging.getLogger("rcm.runtime")

BATCH_MAX = 500
RELAY_LIMIT = 1000
RELAY_POLL_S = 0.25
GC_GEN0_THRESHOLD = 50_000
PRUNE_EVERY_S = 600.0
PRUNE_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Record:
    """A raw Kafka record as consumed."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @property
    def position(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


class _NeedsCareful(Exception):
    """The fast path met a message that must be isolated: redo the batch carefully."""


class Reject(Exception):
    """A handler's verdict that the message is unusable: dead-letter it with this reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


#: Writes deferred to the end of a batch: (statement, arguments, key) each, in order.
Deferred = list[tuple[str, tuple[Any, ...], Any]]


@dataclass
class Context:
    """What a handler may touch: its transaction and the outbox."""

    conn: asyncpg.Connection
    service: Service
    meta: Meta
    emitted: int = 0
    # Handler contexts buffer their events; the runtime writes a batch's events to the
    # outbox in one statement before the batch commits. Timer contexts write at once.
    pending: list[Encoded] | None = None
    # What the service's before_batch hook returned for this batch (None outside the
    # fast path: a message applied on its own, a timer).
    batch: Any = None
    # The trace context events emitted here continue: the message's own consumer span
    # when a set-based handler (Service.on_many) applies many messages at once.
    traceparent: str | None = None
    # Writes deferred to the end of the batch (see defer); None: they run at once.
    deferred: Deferred | None = None

    async def defer(self, sql: str, *args: Any, key: Any = None) -> None:
        """Runs a write whose result the handler does not need: at once, or in a batch
        at its end with the batch's other deferred writes, in order, consecutive runs of
        one statement text sent together (asyncpg executemany: one round trip for the
        run). ``key`` names what the write touches (a claim): writes with keys may be
        sent out of order with those of other keys, never before an earlier write of
        their own key or an earlier write without a key (see :func:`run_deferred`). A
        handler that must read what it deferred calls flush() first."""
        if self.deferred is None:
            await self.conn.execute(sql, *args)
        else:
            self.deferred.append((sql, args, key))

    async def flush(self) -> None:
        """Runs the deferred writes now."""
        if self.deferred:
            await run_deferred(self.conn, self.deferred)

    def _meta(self, event: Event, correlation_id: str | None, traceparent: str | None) -> Meta:
        return new_meta(
            event,
            source=f"rcm/{self.service.name}",
            tenant=self.meta.tenant,
            correlation_id=correlation_id or self.meta.correlation_id,
            causation_id=self.meta.id,
            traceparent=traceparent
            or self.traceparent
            or telemetry.traceparent_of()
            or self.meta.traceparent,
        )

    async def emit(
        self,
        event: Event,
        *,
        correlation_id: str | None = None,
        traceparent: str | None = None,
        topic: str | None = None,
    ) -> None:
        """Writes ``event`` to the outbox in this transaction, for its own topic (or
        ``topic``).

        ``traceparent`` keeps a claim's own trace when one message fans out to many
        claims (an 835 batch): pass the claim's trace context.
        """
        enc = encode(event, self._meta(event, correlation_id, traceparent))
        if topic is not None:
            enc = replace(enc, topic=topic)
        if self.pending is not None:
            self.pending.append(enc)
        else:
            await self.service.outbox_put(self.conn, enc)
        self.emitted += 1

    async def emit_many(self, events: Sequence[tuple[Event, str | None, str | None]]) -> None:
        """Like ``emit`` for many events at once: (event, correlation_id, traceparent) each,
        written to the outbox in one statement, in order."""
        encoded = [encode(e, self._meta(e, cid, tp)) for e, cid, tp in events]
        if self.pending is not None:
            self.pending.extend(encoded)
        else:
            await self.service.outbox_put_many(self.conn, encoded)
        self.emitted += len(encoded)


async def run_deferred(conn: asyncpg.Connection, deferred: Deferred) -> None:
    """Runs and clears deferred writes, each statement text of a step as one executemany.

    Each write gets a step: one past its key's previous write, and past any write
    without a key, which is a step of its own (so writes without keys keep their
    order). Steps run in order; within a step every key appears once, so its writes of
    one text go together whatever their order (the saga's moves of many claims, however
    their events interleave)."""
    steps: list[dict[str, list[tuple[Any, ...]]]] = []
    last: dict[Any, int] = {}
    floor = -1  # the step of the last write without a key: later writes go after it
    keyless_run: str | None = None  # that write's text, while no keyed write followed
    for sql, args, key in deferred:
        if key is None:
            if sql != keyless_run:  # a run of one text without keys shares its step
                floor = len(steps)
                steps.append({})
            step = floor
            keyless_run = sql
        else:
            step = max(floor + 1, last.get(key, -1) + 1)
            last[key] = step
            keyless_run = None
            while len(steps) <= step:
                steps.append({})
        steps[step].setdefault(sql, []).append(args)
    for by_text in steps:
        for sql, rows in by_text.items():
            if len(rows) == 1:
                await conn.execute(sql, *rows[0])
            else:
                await conn.executemany(sql, rows)
    deferred.clear()


Handler = Callable[[Context, Event], Awaitable[None]]
#: A set-based handler: every (context, event) of a run of one event type, in order.
ManyHandler = Callable[[Sequence[tuple[Context, Any]]], Awaitable[None]]
BatchHook = Callable[[asyncpg.Connection, str, Sequence[Message]], Awaitable[Any]]
E = TypeVar("E", bound=Event)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages_in = Counter(
            "rcm_messages_in", "Records consumed", ["service", "topic"], registry=r
        )
        self.messages_out = Counter(
            "rcm_messages_out",
            "Records published from the outbox",
            ["service", "topic"],
            registry=r,
        )
        self.dead_letters = Counter(
            "rcm_dead_letters",
            "Records sent to a dead-letter topic",
            ["service", "topic", "reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "rcm_duplicates_skipped",
            "Redelivered records applied no second time",
            ["service", "topic"],
            registry=r,
        )
        self.handler_seconds = Histogram(
            "rcm_handler_seconds",
            "Batch handling time",
            ["service", "topic"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.retries = Counter(
            "rcm_transient_retries",
            "Batches retried after an infrastructure failure",
            ["service", "topic"],
            registry=r,
        )


class Service:
    """One service process: faust app, PostgreSQL schema, handlers, outbox relay, ops web."""

    def __init__(
        self, name: str, *, schema: str, migrations: Path, http_port: int, s: Settings | None = None
    ) -> None:
        self.name = name
        self.schema = schema
        self.migrations = migrations
        self.settings = s or settings()
        self.handlers: dict[str, dict[type[Event], Handler]] = {}
        self.metrics = Metrics()
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self._outbox_wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._startup_hooks: list[Callable[[], Awaitable[None]]] = []
        self._timers: list[tuple[float, Callable[[Service], Awaitable[int]], asyncio.Event]] = []
        # topic -> the timers an applied batch of it wakes (Service.every, woken_by)
        self._wakes: dict[str, list[asyncio.Event]] = {}
        self._wake_of: dict[Callable[[Service], Awaitable[int]], asyncio.Event] = {}
        # futures of code waiting for this instance's next committed batch of a topic
        self._commit_waiters: dict[str, list[asyncio.Future[None]]] = {}
        # the wake each timer has coming (Service.wake), until it rings
        self._wake_due: dict[Callable[[Service], Awaitable[int]], asyncio.TimerHandle] = {}
        self._before_batch: BatchHook | None = None
        # topics whose applied positions each batch records (track_positions)
        self._tracked: set[str] = set()
        # the ends of a topic's partitions now, from the broker (runtime.positions)
        self.topic_ends: Callable[[str], Awaitable[list[int]]] = TopicEnds(self.settings)
        # Counts outbox writes of this process: after a batch that wrote, the relay runs
        # at once; after one that did not, it is left alone (an empty pass costs five round
        # trips). A counter, not a flag: timers write while a batch is being applied.
        self._outbox_writes = 0
        self.tracer = telemetry.tracer(f"rcm.{name}")
        # faust hosts the process: its worker, lifecycle and web server (ops routes, the
        # simulator's real-time endpoints). Records are read by runtime.consumer, so
        # faust's own Kafka consumer and producer are not started.
        self.app = faust.App(
            f"rcm-{name}",
            store="memory://",
            web_port=http_port + self.settings.http_port_offset,
            web_host=self.settings.http_host,
            web_bind=self.settings.http_host,
            web_router_enabled=False,
            web_tables_enabled=False,
            web_graph_enabled=False,
            web_stats_enabled=False,
        )
        self.app.boot_strategy = faust.app.BootStrategy(
            self.app, enable_kafka=False, enable_web=True, enable_sensors=False
        )
        self.consumer: BatchConsumer | None = None
        self.every(PRUNE_EVERY_S, Service.prune_processed)
        self.app.service(self._Lifecycle(self))  # type: ignore[arg-type]
        self._install_web()

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
        self._tracked.add(topic)

    def before_batch(self, fn: BatchHook) -> BatchHook:
        """Runs ``fn(conn, topic, messages)`` in a batch's transaction before its handlers,
        with the batch's new (not yet applied) messages; handlers see what it returns as
        ``ctx.batch``. For work better done once per batch than once per message (the
        claims saga takes all of a batch's claim locks in one round trip, in one order).
        A message applied on its own (the careful path) gets ``ctx.batch = None``."""
        self._before_batch = fn
        return fn

    def on_startup(self, fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        self._startup_hooks.append(fn)
        return fn

    def every(
        self,
        seconds: float,
        fn: Callable[[Service], Awaitable[int]],
        *,
        woken_by: Sequence[str] = (),
    ) -> None:
        """Runs ``fn`` periodically once the service is ready (timers, scheduled work).

        ``fn`` returns how much work it did; it runs again at once while it finds work.
        Every instance runs it, so it must claim rows with FOR UPDATE SKIP LOCKED.
        ``woken_by``: topics whose batches write the rows ``fn`` looks for; once such a
        batch has committed, ``fn`` runs at once, so ``seconds`` only bounds how late it
        finds work no batch of this instance woke it for (a retry coming due).
        """
        wake = asyncio.Event()
        self._timers.append((seconds, fn, wake))
        self._wake_of[fn] = wake
        for topic in woken_by:
            self._wakes.setdefault(topic, []).append(wake)

    def wake(self, fn: Callable[[Service], Awaitable[int]], *, after: float = 0.0) -> None:
        """Runs the timer ``fn`` (see :meth:`every`) in ``after`` seconds, before its
        period is up: a retry it scheduled comes due then. No timer ``fn``: nothing.

        Only the soonest wake asked for is kept: a timer that asks for one looks again
        when it runs and finds nothing, so a later one would only add a run."""
        wake = self._wake_of.get(fn)
        if wake is None:
            return
        loop = asyncio.get_running_loop()
        at = loop.time() + max(0.0, after)
        coming = self._wake_due.get(fn)
        if coming is not None:
            if coming.when() <= at:
                return
            coming.cancel()

        def ring() -> None:
            del self._wake_due[fn]
            wake.set()

        self._wake_due[fn] = loop.call_at(at, ring)

    async def wake_when_due(
        self,
        fn: Callable[[Service], Awaitable[int]],
        conn: asyncpg.Connection,
        due_in_sql: str,
        *args: Any,
    ) -> None:
        """Wakes the timer ``fn`` when the seconds ``due_in_sql`` returns are up: the run of
        a timer that found nothing asks for the soonest of its queued work (None: nothing
        waits, the timer's period covers work another instance queues)."""
        due_in = await conn.fetchval(due_in_sql, *args)
        if due_in is not None:
            self.wake(fn, after=float(due_in))

    def next_commit(self, topic: str) -> asyncio.Future[None]:
        """Done when this instance next commits a batch of ``topic``: for code outside
        the consumer (an HTTP route) that needs what the next batch writes."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # waiters that gave up are dropped here too: an instance that holds none of the
        # topic's partitions never commits a batch of it
        waiting = [w for w in self._commit_waiters.get(topic, ()) if not w.done()]
        self._commit_waiters[topic] = [*waiting, waiter]
        return waiter

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
        meta = Meta(
            id=cause or f"timer:{self.name}",
            type="rcm.timer",
            source=f"rcm/{self.name}",
            time=dt.datetime.now(dt.UTC),
            tenant=tenant,
            correlation_id=correlation_id,
            traceparent=traceparent,
        )
        return Context(conn, self, meta)

    def timers(self) -> list[Coroutine[Any, Any, None]]:
        """The loops of the timers registered with :meth:`every`, to run as tasks."""
        return [self._run_timer(seconds, fn, wake) for seconds, fn, wake in self._timers]

    async def _run_timer(
        self, seconds: float, fn: Callable[[Service], Awaitable[int]], wake: asyncio.Event
    ) -> None:
        await self._ready.wait()
        while True:
            wake.clear()  # a batch committed from here on wakes the next run
            try:
                did = await fn(self)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    log.warning("timer paused, infrastructure unavailable: %s", type(exc).__name__)
                else:
                    log.exception("timer %s failed", getattr(fn, "__name__", fn))
                did = 0
                await asyncio.sleep(1.0)
            if did:
                self._outbox_wake.set()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), seconds)

    async def prune_processed(self) -> int:
        """Forgets consumed message ids older than ``dedupe_retention_days``, a few
        thousand at a time (the timer runs again at once while it finds some). A record
        can only be redelivered while its topic still holds it, so ids older than the
        topics' retention guard nothing, and an unbounded table slows every batch's
        dedupe insert as its index outgrows memory."""
        assert self.pool is not None
        done = await self.pool.execute(
            "DELETE FROM processed_messages WHERE message_id = ANY(ARRAY("
            "SELECT message_id FROM processed_messages"
            " WHERE processed_at < now() - make_interval(days => $1) LIMIT $2))",
            self.settings.dedupe_retention_days,
            PRUNE_BATCH,
        )
        return int(done.split()[-1])

    def _add_consumer(self) -> None:
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

    async def _apply_consumed(self, batch: list[Any]) -> None:
        by_topic: dict[str, list[Record]] = {}
        for m in batch:
            by_topic.setdefault(m.topic, []).append(
                Record(m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers))
            )
        for topic_name, records in by_topic.items():
            await self.process(topic_name, records)

    # --- processing --------------------------------------------------------

    async def process(self, topic: str, records: Sequence[Record]) -> None:
        """Applies a batch once. Retries the whole batch while the infrastructure is down."""
        await self._ready.wait()
        delay = 0.2
        while True:
            try:
                written = self._outbox_writes
                with self.metrics.handler_seconds.labels(self.name, topic).time():
                    await self._apply_batch(topic, records)
                self.metrics.messages_in.labels(self.name, topic).inc(len(records))
                if self._outbox_writes != written:
                    self._outbox_wake.set()
                for wake in self._wakes.get(topic, ()):
                    wake.set()
                for waiter in self._commit_waiters.pop(topic, ()):
                    if not waiter.done():
                        waiter.set_result(None)
                return
            except asyncio.CancelledError:
                raise
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

    async def _apply_batch(self, topic: str, records: Sequence[Record]) -> None:
        """Fast path first: one dedupe statement, handlers without savepoints, one outbox
        write. If any message is dead-lettered by its handler, the batch is rolled back and
        applied again message by message, each in a savepoint, to isolate it."""
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    await self._apply_fast(conn, topic, records)
                    if topic in self._tracked:
                        await positions.record(conn, topic, records)
                return
            except _NeedsCareful:
                pass
            async with conn.transaction():
                for record in records:
                    await self._apply_one(conn, topic, record)
                if topic in self._tracked:
                    await positions.record(conn, topic, records)

    async def _apply_fast(
        self, conn: asyncpg.Connection, topic: str, records: Sequence[Record]
    ) -> None:
        decoded: list[tuple[Record, Message]] = []
        for record in records:
            try:
                msg = decode(record.value, record.headers)
            except DecodeError:
                raise _NeedsCareful from None
            if type(msg.event) not in self.handlers[topic]:
                raise _NeedsCareful
            decoded.append((record, msg))
        ids = [m.meta.id for _, m in decoded]
        new = {
            r[0]
            for r in await conn.fetch(
                "INSERT INTO processed_messages(message_id, topic)"
                " SELECT DISTINCT unnest($1::text[]), $2 ON CONFLICT DO NOTHING"
                " RETURNING message_id",
                ids,
                topic,
            )
        }
        fresh: list[tuple[Record, Message]] = []
        for record, msg in decoded:
            if msg.meta.id not in new:
                self.metrics.duplicates.labels(self.name, topic).inc()
                continue
            new.discard(msg.meta.id)  # the same ce_id twice in one batch applies once
            fresh.append((record, msg))
        batch: Any = None
        if self._before_batch is not None and fresh:
            try:
                batch = await self._before_batch(conn, topic, [m for _, m in fresh])
            except Exception as exc:
                if is_transient(exc):
                    raise
                raise _NeedsCareful from exc
        pending: list[Encoded] = []
        deferred: Deferred = []
        # every handler context of the batch shares its outbox buffer, hook result and
        # deferred writes
        context = functools.partial(
            Context, conn, self, pending=pending, batch=batch, deferred=deferred
        )
        try:
            for kind, run in itertools.groupby(fresh, key=lambda rm: type(rm[1].event)):
                handler = self.handlers[topic][kind]
                if (many := getattr(handler, "many", None)) is not None:
                    await self._apply_run(many, topic, list(run), context)
                    continue
                for record, msg in run:
                    with self._span(topic, record, msg):
                        await handler(context(msg.meta), msg.event)
            await run_deferred(conn, deferred)
        except Exception as exc:
            if is_transient(exc):
                raise
            raise _NeedsCareful from exc
        await self.outbox_put_many(conn, pending)

    async def _apply_run(
        self,
        handler: ManyHandler,
        topic: str,
        run: Sequence[tuple[Record, Message]],
        context: Callable[..., Context],
    ) -> None:
        """A set-based handler's run: each message still gets its own consumer span, and
        what the handler emits for it continues that span's trace."""
        spans = [self._span(topic, record, msg, current=False) for record, msg in run]
        try:
            await handler(
                [
                    (context(msg.meta, traceparent=telemetry.traceparent_of(span)), msg.event)
                    for span, (_, msg) in zip(spans, run, strict=True)
                ]
            )
        finally:
            for span in spans:
                span.end()

    def _span(self, topic: str, record: Record, msg: Message, *, current: bool = True) -> Any:
        """The message's consumer span: as the current span (a context manager), or
        ``current=False`` started and returned for the caller to end."""
        if not telemetry.exporting():  # Context falls back to the event's traceparent
            return trace.INVALID_SPAN
        start = self.tracer.start_as_current_span if current else self.tracer.start_span
        return start(
            f"{topic} process",
            context=telemetry.context_from(msg.meta.traceparent),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.kafka.message.offset": record.offset,
                "rcm.correlation_id": msg.meta.correlation_id,
                "rcm.tenant": msg.meta.tenant,
            },
        )

    async def _apply_one(self, conn: asyncpg.Connection, topic: str, record: Record) -> None:
        try:
            msg = decode(record.value, record.headers)
        except DecodeError as exc:
            await self._dead_letter(conn, record, exc.reason, exc.detail, dedupe_id=record.position)
            return
        handler = self.handlers[topic].get(type(msg.event))
        if handler is None:
            await self._dead_letter(
                conn,
                record,
                "unexpected-type",
                f"{msg.meta.type} is not handled on {topic}",
                dedupe_id=msg.meta.id,
            )
            return
        with self._span(topic, record, msg):
            try:
                async with conn.transaction():
                    first = await conn.fetchval(
                        "INSERT INTO processed_messages(message_id, topic) VALUES ($1, $2)"
                        " ON CONFLICT DO NOTHING RETURNING true",
                        msg.meta.id,
                        topic,
                    )
                    if not first:
                        self.metrics.duplicates.labels(self.name, topic).inc()
                        return
                    pending: list[Encoded] = []
                    await handler(Context(conn, self, msg.meta, pending=pending), msg.event)
                    await self.outbox_put_many(conn, pending)
            except Reject as exc:
                await self._dead_letter(conn, record, exc.reason, exc.detail, dedupe_id=msg.meta.id)
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.exception(
                    "handler failed; dead-lettering",
                    extra={"topic": topic, "claim": msg.meta.correlation_id},
                )
                await self._dead_letter(
                    conn,
                    record,
                    "handler-error",
                    f"{type(exc).__name__}: {exc}",
                    dedupe_id=msg.meta.id,
                )

    async def _dead_letter(
        self, conn: asyncpg.Connection, record: Record, reason: str, detail: str, *, dedupe_id: str
    ) -> None:
        async with conn.transaction():
            first = await conn.fetchval(
                "INSERT INTO processed_messages(message_id, topic) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING RETURNING true",
                dedupe_id,
                record.topic,
            )
            if not first:
                return
            now = dt.datetime.now(dt.UTC).isoformat()
            headers = [h for h in record.headers if not h[0].startswith("dlq_")]
            headers += [
                ("dlq_reason", reason.encode()),
                ("dlq_error", detail[:2000].encode()),
                ("dlq_service", f"rcm/{self.name}".encode()),
                ("dlq_time", now.encode()),
                ("dlq_source", record.position.encode()),
            ]
            await conn.execute(
                'INSERT INTO dead_letters(source_topic, partition, "offset", reason, error)'
                " VALUES ($1, $2, $3, $4, $5)",
                record.topic,
                record.partition,
                record.offset,
                reason,
                detail[:2000],
            )
            await self._outbox_insert(
                conn, dlq_name(record.topic), record.key, record.value or b"", headers
            )
        self.metrics.dead_letters.labels(self.name, record.topic, reason).inc()
        log.warning(
            "dead-lettered %s: %s",
            record.position,
            reason,
            extra={"topic": record.topic, "reason": reason},
        )

    # --- outbox ------------------------------------------------------------

    async def outbox_put(self, conn: asyncpg.Connection, enc: Any) -> None:
        await self._outbox_insert(conn, enc.topic, enc.key, enc.value, enc.headers)

    async def outbox_put_many(self, conn: asyncpg.Connection, encoded: Sequence[Any]) -> None:
        if not encoded:
            return
        self._outbox_writes += 1
        await conn.execute(
            "INSERT INTO outbox(topic, key, value, headers) SELECT t, k, v, h::json FROM"
            " unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[]) WITH ORDINALITY"
            " AS e(t, k, v, h, n) ORDER BY n",
            [e.topic for e in encoded],
            [e.key for e in encoded],
            [e.value for e in encoded],
            [_headers_json(e.headers) for e in encoded],
        )

    async def _outbox_insert(
        self,
        conn: asyncpg.Connection,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        encoded = _headers_json(headers)
        self._outbox_writes += 1
        await conn.execute(
            "INSERT INTO outbox(topic, key, value, headers) VALUES ($1, $2, $3, $4::json)",
            topic,
            key,
            value,
            encoded,
        )

    async def relay_outbox(self) -> None:
        """Publishes outbox rows in id order, then deletes them. Survives restarts."""
        assert self.pool is not None
        assert self.producer is not None
        while True:
            # Cleared before the pass: rows committed during it set it again, so the wait
            # below returns at once and nothing waits for the next poll.
            self._outbox_wake.clear()
            try:
                sent = await self._relay_once(RELAY_LIMIT)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay failed, retrying: %s", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            if sent >= RELAY_LIMIT:
                continue  # more are waiting
            # Caught up. Poll anyway now and then: rows of another instance, or of a
            # process that died before relaying them.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox_wake.wait(), timeout=RELAY_POLL_S)

    async def _relay_once(self, limit: int = RELAY_LIMIT) -> int:
        assert self.pool is not None
        assert self.producer is not None
        async with self.pool.acquire() as conn, conn.transaction():
            # One relay per schema at a time, whatever the number of instances: two relays
            # taking interleaved rows could publish a claim's later event first. The lock
            # is tried once, before the rows are read (an InitPlan), and the rows are
            # deleted as they are read: if publishing fails, the transaction rolls back
            # and they are there again.
            rows = sorted(
                await conn.fetch(
                    "WITH l AS (SELECT pg_try_advisory_xact_lock("
                    "hashtextextended('outbox:' || $1, 0)) AS ok)"
                    " DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM outbox"
                    " WHERE (SELECT ok FROM l) ORDER BY id LIMIT $2))"
                    " RETURNING id, topic, key, value, headers",
                    self.schema,
                    limit,
                ),
                key=lambda r: r["id"],
            )
            if not rows:
                return 0
            futures = []
            for row in rows:
                headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(row["headers"])]
                futures.append(
                    await self.producer.send(
                        row["topic"], row["value"], key=row["key"], headers=headers
                    )
                )
            await asyncio.gather(*futures)
        for row in rows:
            self.metrics.messages_out.labels(self.name, row["topic"]).inc()
        return len(rows)

    # --- lifecycle ---------------------------------------------------------

    async def start_resources(self) -> None:
        self.pool = await self._connect_with_retry()
        applied = await migrate(self.pool, self.schema, self.migrations)
        if applied:
            log.info("migrations applied: %s", ", ".join(applied))
        self.producer = AIOKafkaProducer(**producer_config(self.settings))
        await self.producer.start()
        if self._tracked:
            await positions.seed_from_group(
                self.pool, self.settings, self.group, sorted(self._tracked)
            )
        for hook in self._startup_hooks:
            await hook()
        # What startup built (modules, code sets, tables) lives as long as the process:
        # move it out of the collector's sight so full collections stop rescanning it.
        gc.collect()
        gc.freeze()
        self._ready.set()

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

    class _Lifecycle(faust.Service):
        """Starts the pool, migrations, producer and relay, then the consumer; stops the
        consumer (committing what it applied) before the pool closes."""

        def __init__(self, owner: Service, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.owner = owner
            self.consuming: asyncio.Task[None] | None = None

        async def on_start(self) -> None:
            await self.owner.start_resources()
            self.add_future(self.owner.relay_outbox())
            for timer in self.owner.timers():
                self.add_future(timer)
            if self.owner.consumer is not None:
                self.consuming = asyncio.ensure_future(self.owner.consumer.run())

        async def on_stop(self) -> None:
            if self.consuming is not None:
                self.consuming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.consuming
            await self.owner.stop_resources()

    # --- ops web -----------------------------------------------------------

    def _install_web(self) -> None:
        svc = self

        @self.app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            ok = svc._ready.is_set() and (svc.consumer is None or svc.consumer.joined.is_set())
            return web.json({"service": svc.name, "ok": ok}, status=200 if ok else 503)

        @self.app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            if not authorized(request.headers, svc.settings):
                return web.json({"error": "missing or bad bearer token"}, status=401)
            return web.bytes(
                generate_latest(svc.metrics.registry), content_type="text/plain; version=0.0.4"
            )

    async def consume(self) -> None:
        """Consumes the service's topics until cancelled, as the running process does
        (for code that drives a service without its process: tests)."""
        if self.consumer is None:
            self._add_consumer()
        assert self.consumer is not None
        await self.consumer.run()

    def run(self) -> None:
        """The process entry point: ``python -m services.NAME``."""
        logs.setup(self.name, self.settings.log_level)
        telemetry.setup(self.name, self.settings.otel_exporter, self.settings.otel_dir)
        if self.handlers:
            self._add_consumer()
        tune_process()
        worker = faust.Worker(
            self.app,
            loglevel=self.settings.log_level,
            override_logging=False,
            redirect_stdouts=False,
            quiet=True,
        )
        worker.execute_from_commandline()


def authorized(headers: Mapping[str, str], s: Settings) -> bool:
    import hmac

    value = headers.get("Authorization") or headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.encode(), s.ops_token.get_secret_value().encode()
    )


def _headers_json(headers: Sequence[tuple[str, bytes]]) -> str:
    return orjson.dumps([[k, base64.b64encode(v).decode()] for k, v in headers]).decode()


def _headers(raw: Sequence[tuple[str, bytes | None]]) -> list[tuple[str, bytes]]:
    """aiokafka's record headers, without the ones that carry no value."""
    return [(k, v) for k, v in raw if v is not None]


def tune_process() -> None:
    """What a service process runs with: uvloop's event loop, and a young generation the
    garbage collector visits less often. Every message allocates a few hundred
    short-lived container objects (pydantic models, records, futures); at the default
    threshold (700) the young generation is collected dozens of times a batch, which was
    ~15 % of a service's CPU (py-spy), and raising it gave the saga +15 % events/s
    (docs/performance.md)."""
    gc.set_threshold(GC_GEN0_THRESHOLD, 50, 1000)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency; this keeps Windows working
        pass


def now_ms() -> int:
    return int(time.time() * 1000)


__all__ = ["Context", "Message", "Record", "Reject", "Service", "authorized", "header_map"]
