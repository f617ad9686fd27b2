"""What a handler may touch: its transaction, the outbox and the writes it defers to the
end of its batch; and the handler's verdict that a message is unusable (Reject)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import asyncpg

from runtime import telemetry
from schemas.codec import Encoded, Meta, encode, new_meta
from schemas.events import Event

if TYPE_CHECKING:
    from runtime.service import Service


class Reject(Exception):
    """A handler's verdict that the message is unusable: dead-letter it with this reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class NotYet(TimeoutError):
    """A message that needs what another of the service's topics has not brought yet (an
    answer before the claim it answers was indexed). Its topic's part of the batch is put
    back, unapplied, and read again after a short pause, while the service goes on with
    its other topics, which are what it waits for. (Retrying the whole batch in place, as
    for an outage, would hold those topics back behind it: a consumer that waits on
    itself.)"""


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

    def caused(
        self, *, tenant: str, correlation_id: str, traceparent: str | None = None
    ) -> Context:
        """A context for work this message causes under another tenant or correlation
        (one claim of a file, the interchange of another tenant a shared file answers):
        in this batch's transaction, outbox buffer and deferred writes, its events caused
        by this message, on ``traceparent``'s trace when given."""
        c = self.service.context(
            self.conn,
            tenant=tenant,
            correlation_id=correlation_id,
            cause=self.meta.id,
            traceparent=traceparent,
        )
        c.pending, c.deferred, c.batch = self.pending, self.deferred, self.batch
        c.traceparent = traceparent
        return c

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
        self.service.may_emit(event)
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
        for e, _, _ in events:
            self.service.may_emit(e)
        encoded = [encode(e, self._meta(e, cid, tp)) for e, cid, tp in events]
        if self.pending is not None:
            self.pending.extend(encoded)
        else:
            await self.service.outbox_put_many(self.conn, encoded)
        self.emitted += len(encoded)


def timer_meta(
    service: str, *, tenant: str, correlation_id: str, cause: str | None, traceparent: str | None
) -> Meta:
    """The metadata of work that no consumed message caused directly (a timer's)."""
    return Meta(
        id=cause or f"timer:{service}",
        type="rcm.timer",
        source=f"rcm/{service}",
        time=dt.datetime.now(dt.UTC),
        tenant=tenant,
        correlation_id=correlation_id,
        traceparent=traceparent,
    )


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
