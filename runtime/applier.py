"""The exactly-once core: a batch of one topic's records applied in one PostgreSQL
transaction. Each message id is recorded in ``processed_messages`` in that transaction,
so a redelivered message changes nothing; what handlers emit goes to the outbox in it.

Fast path first: one dedupe statement, handlers without savepoints, one outbox write.
If a message cannot be decoded, is of no handled type, or its handler fails, the batch
is rolled back and applied again message by message (the careful path), each in a
savepoint, so only that message is dead-lettered (to ``TOPIC.dlq``, with its reason).
Infrastructure failures (PostgreSQL down) propagate: the caller retries the batch."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
from opentelemetry import trace
from pydantic import ValidationError

from runtime import errors, positions, telemetry
from runtime.context import Context, Deferred, Reject, run_deferred
from runtime.db import is_transient
from runtime.metrics import Metrics
from runtime.outbox import Outbox
from schemas.codec import DecodeError, Encoded, Message, decode
from schemas.events import Event
from schemas.topics import dlq_name

if TYPE_CHECKING:
    from runtime.service import Service

log = logging.getLogger("rcm.runtime")

Handler = Callable[[Context, Event], Awaitable[None]]
#: A set-based handler: every (context, event) of a run of one event type, in order.
ManyHandler = Callable[[Sequence[tuple[Context, Any]]], Awaitable[None]]
BatchHook = Callable[[asyncpg.Connection, str, Sequence[Message]], Awaitable[Any]]

_RECORD_ID = (
    "INSERT INTO processed_messages(message_id, topic) VALUES ($1, $2)"
    " ON CONFLICT DO NOTHING RETURNING true"
)


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


class BatchApplier:
    """Applies batches for one service: its handlers by topic and event type, its
    before_batch hook, the topics whose positions it records."""

    def __init__(self, owner: Service, outbox: Outbox, metrics: Metrics) -> None:
        self.owner = owner
        self.name = owner.name
        self.outbox = outbox
        self.metrics = metrics
        self.tracer = owner.tracer
        self.handlers: dict[str, dict[type[Event], Handler]] = {}
        self.before_batch: BatchHook | None = None
        # topics whose applied positions each batch records (Service.track_positions)
        self.tracked: set[str] = set()

    async def apply(self, conn: asyncpg.Connection, topic: str, records: Sequence[Record]) -> None:
        """Applies ``records`` once, on ``conn``: the fast path, or if it meets a message
        that must be isolated, the careful path."""
        try:
            async with conn.transaction():
                await self._apply_fast(conn, topic, records)
                if topic in self.tracked:
                    await positions.record(conn, topic, records)
            return
        except _NeedsCareful:
            pass
        async with conn.transaction():
            for record in records:
                await self._apply_one(conn, topic, record)
            if topic in self.tracked:
                await positions.record(conn, topic, records)

    async def _apply_fast(
        self, conn: asyncpg.Connection, topic: str, records: Sequence[Record]
    ) -> None:
        handlers = self.handlers[topic]
        decoded: list[tuple[Record, Message]] = []
        for record in records:
            try:
                msg = decode(record.value, record.headers)
            except DecodeError:
                raise _NeedsCareful from None
            if type(msg.event) not in handlers:
                raise _NeedsCareful
            decoded.append((record, msg))
        fresh = await self._fresh(conn, topic, decoded)
        batch: Any = None
        if self.before_batch is not None and fresh:
            try:
                batch = await self.before_batch(conn, topic, [m for _, m in fresh])
            except Exception as exc:
                if is_transient(exc):
                    raise
                raise _NeedsCareful from exc
        pending: list[Encoded] = []
        deferred: Deferred = []
        # every handler context of the batch shares its outbox buffer, hook result and
        # deferred writes
        context = functools.partial(
            Context, conn, self.owner, pending=pending, batch=batch, deferred=deferred
        )
        try:
            for kind, run in itertools.groupby(fresh, key=lambda rm: type(rm[1].event)):
                handler = handlers[kind]
                if (many := getattr(handler, "many", None)) is not None:
                    await self._apply_run(many, topic, list(run), context)
                    continue
                for record, msg in run:
                    with self.span(topic, record, msg) as span:
                        try:
                            await handler(context(msg.meta), msg.event)
                        except Exception as exc:
                            errors.mark_span(span, exc)
                            raise
            await run_deferred(conn, deferred)
        except Exception as exc:
            if is_transient(exc):
                raise
            raise _NeedsCareful from exc
        await self.outbox.put_many(conn, pending)

    async def _fresh(
        self, conn: asyncpg.Connection, topic: str, decoded: list[tuple[Record, Message]]
    ) -> list[tuple[Record, Message]]:
        """Records the batch's message ids in one statement: the messages not applied
        before, each once."""
        new = {
            r[0]
            for r in await conn.fetch(
                "INSERT INTO processed_messages(message_id, topic)"
                " SELECT DISTINCT unnest($1::text[]), $2 ON CONFLICT DO NOTHING"
                " RETURNING message_id",
                [m.meta.id for _, m in decoded],
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
        return fresh

    async def _apply_run(
        self,
        handler: ManyHandler,
        topic: str,
        run: Sequence[tuple[Record, Message]],
        context: Callable[..., Context],
    ) -> None:
        """A set-based handler's run: each message still gets its own consumer span, and
        what the handler emits for it continues that span's trace."""
        spans = [self.span(topic, record, msg, current=False) for record, msg in run]
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

    def span(self, topic: str, record: Record, msg: Message, *, current: bool = True) -> Any:
        """The message's consumer span: as the current span (a context manager), or
        ``current=False`` started and returned for the caller to end."""
        if not telemetry.exporting():  # Context falls back to the event's traceparent
            return trace.INVALID_SPAN
        start = self.tracer.start_as_current_span if current else self.tracer.start_span
        # OpenTelemetry's own exception record would keep str(exc): errors.mark_span instead
        return start(
            f"{topic} process",
            record_exception=False,
            set_status_on_exception=False,
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
        """The careful path for one message: in a savepoint of its own."""
        try:
            msg = decode(record.value, record.headers)
        except DecodeError as exc:
            # a schema-invalid body: the fields and error types, never the values
            cause = exc.__cause__
            said = errors.reason(cause) if isinstance(cause, ValidationError) else exc.detail
            await self.dead_letter(
                conn, record, exc.reason, said, dedupe_id=record.position, exc=exc
            )
            return
        handler = self.handlers[topic].get(type(msg.event))
        if handler is None:
            await self.dead_letter(
                conn,
                record,
                "unexpected-type",
                f"{msg.meta.type} is not handled on {topic}",
                dedupe_id=msg.meta.id,
            )
            return
        with self.span(topic, record, msg) as span:
            try:
                async with conn.transaction():
                    if not await conn.fetchval(_RECORD_ID, msg.meta.id, topic):
                        self.metrics.duplicates.labels(self.name, topic).inc()
                        return
                    pending: list[Encoded] = []
                    await handler(Context(conn, self.owner, msg.meta, pending=pending), msg.event)
                    await self.outbox.put_many(conn, pending)
            except Reject as exc:
                # the detail is the service's own words; what caused it, restricted
                await self.dead_letter(
                    conn, record, exc.reason, exc.detail, dedupe_id=msg.meta.id, exc=exc.__cause__
                )
            except Exception as exc:
                errors.mark_span(span, exc)
                if is_transient(exc):
                    raise
                log.error(
                    "handler failed; dead-lettering: %s",
                    errors.reason(exc),
                    extra={
                        "topic": topic,
                        "claim": msg.meta.correlation_id,
                        "exc": errors.traceback_text(exc),
                    },
                )
                await self.dead_letter(
                    conn,
                    record,
                    "handler-error",
                    errors.reason(exc),
                    dedupe_id=msg.meta.id,
                    exc=exc,
                )

    async def dead_letter(
        self,
        conn: asyncpg.Connection,
        record: Record,
        reason: str,
        detail: str,
        *,
        dedupe_id: str,
        exc: BaseException | None = None,
    ) -> None:
        """Sends ``record`` as it came to ``TOPIC.dlq`` through the outbox, with the reason
        in its headers, and notes it in ``dead_letters``; once per ``dedupe_id``. ``detail``
        must be PHI-free (runtime/errors.py); ``exc``'s full text goes only to the
        restricted ``dead_letter_details``."""
        async with conn.transaction():
            if not await conn.fetchval(_RECORD_ID, dedupe_id, record.topic):
                return
            headers = dead_letter_headers(
                record.headers, record.position, reason, detail, service=self.name
            )
            letter = await conn.fetchval(
                'INSERT INTO dead_letters(source_topic, partition, "offset", reason, error)'
                " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                record.topic,
                record.partition,
                record.offset,
                reason,
                detail[:2000],
            )
            if exc is not None:
                await conn.execute(
                    "INSERT INTO dead_letter_details(dead_letter_id, error_type, sqlstate, detail)"
                    " VALUES ($1, $2, $3, $4)",
                    letter,
                    type(exc).__name__,
                    errors.sqlstate(exc),
                    errors.full_text(exc)[:20000],
                )
            await self.outbox.insert(
                conn, dlq_name(record.topic), record.key, record.value or b"", headers
            )
        self.metrics.dead_letters.labels(self.name, record.topic, reason).inc()
        log.warning(
            "dead-lettered %s: %s",
            record.position,
            reason,
            extra={"topic": record.topic, "reason": reason},
        )


def dead_letter_headers(
    headers: list[tuple[str, bytes]], position: str, reason: str, detail: str, *, service: str
) -> list[tuple[str, bytes]]:
    """A dead letter's headers: the record's own (less any earlier dead letter's), the
    reason, the error (2,000 characters at most), the service, the time and where it was
    read (``topic:partition:offset``). Every consumer of the platform writes these."""
    return [h for h in headers if not h[0].startswith("dlq_")] + [
        ("dlq_reason", reason.encode()),
        ("dlq_error", detail[:2000].encode()),
        ("dlq_service", f"rcm/{service}".encode()),
        ("dlq_time", dt.datetime.now(dt.UTC).isoformat().encode()),
        ("dlq_source", position.encode()),
    ]
