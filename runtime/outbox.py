"""The transactional outbox: events a batch (or a timer) produces are written in its
transaction, and a relay publishes them in id order (idempotent producer, acks=all) and
deletes them, so an event goes out if and only if what caused it committed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from opentelemetry import context as otel_context

from runtime import telemetry
from runtime.metrics import Metrics
from schemas.codec import H_TRACEPARENT, Encoded

log = logging.getLogger("rcm.runtime")

RELAY_LIMIT = 1000
RELAY_POLL_S = 0.25


class Outbox:
    """One service's outbox: its writes, and the relay that publishes them."""

    def __init__(self, service: str, schema: str, metrics: Metrics) -> None:
        self.service = service
        self.schema = schema
        self.metrics = metrics
        # Set when rows were written: the relay runs at once instead of at its next poll.
        self.wake = asyncio.Event()
        # Counts writes of this process: after a batch that wrote, the relay runs at
        # once; after one that did not, it is left alone (an empty pass costs five round
        # trips). A counter, not a flag: timers write while a batch is being applied.
        self.writes = 0

    async def put(self, conn: asyncpg.Connection, enc: Encoded) -> None:
        await self.insert(conn, enc.topic, enc.key, enc.value, enc.headers)

    async def put_many(self, conn: asyncpg.Connection, encoded: Sequence[Encoded]) -> None:
        """Writes ``encoded`` in one statement, in order."""
        if not encoded:
            return
        self.writes += 1
        await conn.execute(
            "INSERT INTO outbox(topic, key, value, headers) SELECT t, k, v, h::json FROM"
            " unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[]) WITH ORDINALITY"
            " AS e(t, k, v, h, n) ORDER BY n",
            [e.topic for e in encoded],
            [e.key for e in encoded],
            [e.value for e in encoded],
            [headers_json(e.headers) for e in encoded],
        )

    async def insert(
        self,
        conn: asyncpg.Connection,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        encoded = headers_json(headers)
        self.writes += 1
        await conn.execute(
            "INSERT INTO outbox(topic, key, value, headers) VALUES ($1, $2, $3, $4::json)",
            topic,
            key,
            value,
            encoded,
        )

    async def relay(self, pool: asyncpg.Pool, producer: AIOKafkaProducer) -> None:
        """Publishes outbox rows in id order, then deletes them. Survives restarts."""
        while True:
            # Cleared before the pass: rows committed during it set it again, so the wait
            # below returns at once and nothing waits for the next poll.
            self.wake.clear()
            try:
                sent = await self.relay_once(pool, producer, RELAY_LIMIT)
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
                await asyncio.wait_for(self.wake.wait(), timeout=RELAY_POLL_S)

    async def relay_once(
        self, pool: asyncpg.Pool, producer: AIOKafkaProducer, limit: int = RELAY_LIMIT
    ) -> int:
        async with pool.acquire() as conn, conn.transaction():
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
            traced = telemetry.producer_spans()
            futures = []
            for row in rows:
                headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(row["headers"])]
                if traced:
                    futures.append(await _send_in_trace(producer, row, headers))
                    continue
                futures.append(
                    await producer.send(row["topic"], row["value"], key=row["key"], headers=headers)
                )
            await asyncio.gather(*futures)
        for row in rows:
            self.metrics.messages_out.labels(self.service, row["topic"]).inc()
        return len(rows)


async def _send_in_trace(
    producer: AIOKafkaProducer, row: Mapping[str, Any], headers: list[tuple[str, bytes]]
) -> Any:
    """Sends a row as a span of the trace its event carries: the produce span takes the
    event's traceparent as its parent and hands its own on in its place."""
    parent = next((v.decode() for k, v in headers if k == H_TRACEPARENT), None)
    if parent is None:
        return await producer.send(row["topic"], row["value"], key=row["key"], headers=headers)
    token = otel_context.attach(telemetry.context_from(parent) or otel_context.get_current())
    try:
        return await producer.send(
            row["topic"],
            row["value"],
            key=row["key"],
            headers=[h for h in headers if h[0] != H_TRACEPARENT],
        )
    finally:
        otel_context.detach(token)


def headers_json(headers: Sequence[tuple[str, bytes]]) -> str:
    """Record headers as the outbox stores them: JSON pairs, values in base64."""
    return orjson.dumps([[k, base64.b64encode(v).decode()] for k, v in headers]).decode()
