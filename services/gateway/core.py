"""The gateway's I/O: Kafka producer, PostgreSQL pool, keys, idempotency, the audit writer.

Writes that every accepted request makes (the encounter copy, the audit row, the
idempotency answer) go through one group-commit writer: many requests share one
transaction, and each request waits for its commit before it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from runtime import telemetry
from runtime.db import create_pool, migrate_schema, refuse_privileged_runtime
from runtime.kafka import producer_config
from runtime.settings import Settings
from schemas.codec import Meta, encode
from schemas.events import Event
from schemas.topics import NotAProducer, produced_by
from services.gateway import audit_store
from services.gateway.audit_store import AuditEntry as AuditEntry
from services.gateway.config import GatewaySettings
from services.gateway.keys import Principal, token_hash

log = logging.getLogger("rcm.gateway")

MIGRATIONS = Path(__file__).parent / "migrations"
SOURCE = "rcm/gateway"
# ce_id of what the gateway sends is derived from what was sent, so a retry that
# reaches Kafka twice is one message to every consumer (processed_messages).
ID_NAMESPACE = uuid.UUID("7d1f6a52-7f0e-4d8a-9a57-0c2b8b1e5a11")


# The encounter lookup done in the same round trip as the idempotency key (this request only).
_KNOWN: contextvars.ContextVar[tuple[str, str, bytes | None] | None] = contextvars.ContextVar(
    "gateway_known", default=None
)


class Unavailable(Exception):
    """Kafka or PostgreSQL cannot take the write now: answer 503 with Retry-After."""


@dataclass
class _Write:
    sql: str
    args: tuple[Any, ...]


@dataclass
class _Job:
    writes: list[_Write]
    done: asyncio.Future[None]


@dataclass
class RateLimiter:
    """A token bucket per key, in this process (burst = one second's worth)."""

    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str, rate: int) -> float:
        """0 when allowed, else seconds until a token is available."""
        now = time.monotonic()
        tokens, last = self.buckets.get(key, (float(rate), now))
        tokens = min(float(rate), tokens + (now - last) * rate)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1 - tokens) / rate


def event_id(tenant: str, kind: str, natural_key: str, body: bytes) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{tenant}|{kind}|{natural_key}|{sha(body).hex()}"))


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


GATEWAY_WRITES = produced_by("gateway")
#: How long a stop waits for the writes already queued (audit rows among them).
DRAIN_S = 10.0


class Gateway:
    """Everything the routes touch, started and stopped with the app."""

    def __init__(self, s: Settings, g: GatewaySettings) -> None:
        self.settings = s
        self.g = g
        self.pool: asyncpg.Pool | None = None
        # Markers whose loss in a crash is harmless (an idempotency key still pending:
        # the retry sends the same ce_id again) need no fsync each.
        self.fast: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.rate = RateLimiter()
        self._keys: dict[bytes, tuple[float, Principal | None]] = {}
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._producer_lock = asyncio.Lock()
        self._kafka_down_until = 0.0

    # --- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        self.pool = await create_pool(
            self.settings, self.g.schema_name, max_size=self.g.db_pool_max
        )
        await refuse_privileged_runtime(self.settings, self.pool, self.g.schema_name)
        await migrate_schema(self.settings, self.g.schema_name, MIGRATIONS, self.pool)
        self.fast = await asyncpg.create_pool(
            self.settings.database_url,
            min_size=1,
            max_size=self.g.db_pool_max,
            server_settings={
                "search_path": self.g.schema_name,
                "application_name": "rcm-gateway-fast",
                "synchronous_commit": "off",
            },
            command_timeout=60,
        )
        self._tasks.append(asyncio.create_task(self._writer()))
        self._tasks.append(asyncio.create_task(self._anchor()))
        with contextlib.suppress(Unavailable):
            await self._start_producer()  # else at the first write; until then 503

    async def stop(self) -> None:
        # Every write already queued (audit rows among them) is applied before the writer
        # stops, and the head those rows reach is anchored: a clean shutdown leaves no
        # unanchored audit rows (docs/security.md).
        if self._tasks and not self._tasks[0].done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain(), timeout=DRAIN_S)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await self.anchor()
        if self.producer is not None:
            await self.producer.stop()
        if self.fast is not None:
            await self.fast.close()
        if self.pool is not None:
            await self.pool.close()

    async def _start_producer(self) -> AIOKafkaProducer:
        """Starts the producer if it is not running; raises Unavailable if Kafka is down."""
        if self.producer is not None:
            return self.producer
        if time.monotonic() < self._kafka_down_until:
            raise Unavailable("Kafka is unavailable")
        async with self._producer_lock:
            if self.producer is not None:
                return self.producer
            if time.monotonic() < self._kafka_down_until:
                raise Unavailable("Kafka is unavailable")
            producer = AIOKafkaProducer(
                **producer_config(self.settings),
                request_timeout_ms=int(self.g.kafka_timeout_s * 1000),
            )
            try:
                await asyncio.wait_for(producer.start(), timeout=self.g.kafka_timeout_s)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning("Kafka unavailable: %s", type(exc).__name__)
                self._kafka_down_until = time.monotonic() + self.g.retry_after_s
                raise Unavailable("Kafka is unavailable") from exc
            self.producer = producer
            return producer

    # --- Kafka -----------------------------------------------------------------

    async def send(
        self, event: Event, *, tenant: str, correlation_id: str, ce_id: str, actor: str
    ) -> None:
        """Returns once Kafka acknowledged the event (acks=all), or raises Unavailable."""
        if event.TOPIC not in GATEWAY_WRITES:  # its Kafka ACLs: schemas/acls.py
            raise NotAProducer(f"the gateway does not produce {event.TOPIC}")
        producer = await self._start_producer()
        meta = Meta(
            id=ce_id,
            type=event.TYPE,
            source=SOURCE,
            time=dt.datetime.now(dt.UTC),
            tenant=tenant,
            correlation_id=correlation_id,
            # The request's span when this process records spans, so the claim's trace
            # starts at intake; else a fresh root, as every claim has one trace.
            traceparent=telemetry.traceparent_of() or telemetry.new_traceparent(),
            extra={"rcm_actor": actor},
        )
        enc = encode(event, meta)
        try:
            topic = self.g.topic_prefix + enc.topic
            fut = await producer.send(topic, enc.value, key=enc.key, headers=enc.headers)
            await asyncio.wait_for(fut, timeout=self.g.kafka_timeout_s)
        except Exception as exc:
            log.warning("Kafka write failed: %s", type(exc).__name__)
            raise Unavailable("Kafka did not acknowledge the write") from exc

    def kafka_ready(self) -> bool:
        return self.producer is not None

    # --- PostgreSQL: group commit ------------------------------------------------

    async def commit(self, writes: list[_Write]) -> None:
        """Applies the writes in a transaction shared with concurrent requests."""
        if not self._tasks or self._tasks[0].done():
            raise Unavailable("the gateway's writer is not running")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(writes, fut))
        try:
            await fut
        except Exception as exc:
            raise Unavailable("the database did not take the write") from exc

    async def _drain(self) -> None:
        """Returns once every job queued before the call is applied (one writer, FIFO)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job([], done))
        await done

    async def _writer(self) -> None:
        while True:
            jobs = [await self._queue.get()]
            while not self._queue.empty() and len(jobs) < 500:
                jobs.append(self._queue.get_nowait())
            try:
                await self._apply(jobs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("write batch failed, applying one by one: %s", type(exc).__name__)
                # One request's bad row must not fail its neighbours: apply each alone.
                for job in jobs:
                    try:
                        await self._apply([job])
                    except asyncio.CancelledError:
                        raise
                    except Exception as one:
                        if not job.done.done():
                            job.done.set_exception(one)
                    else:
                        if not job.done.done():
                            job.done.set_result(None)
                continue
            for job in jobs:
                if not job.done.done():
                    job.done.set_result(None)

    async def _apply(self, jobs: list[_Job]) -> None:
        assert self.pool is not None
        # Same statement, many rows: executemany per statement, in first-seen order.
        grouped: dict[str, list[tuple[Any, ...]]] = {}
        for job in jobs:
            for w in job.writes:
                grouped.setdefault(w.sql, []).append(w.args)
        async with self.pool.acquire() as conn, conn.transaction():
            for sql, rows in grouped.items():
                if sql == AUDIT_SQL:
                    continue
                await conn.executemany(sql, rows)
            audits = grouped.get(AUDIT_SQL)
            if audits:
                # Last, so the head row is locked for the shortest time.
                key = self.settings.audit_secret()
                await audit_store.append(conn, key, [a[0] for a in audits])

    # --- audit ----------------------------------------------------------------

    @staticmethod
    def audit_write(e: AuditEntry) -> _Write:
        return _Write(AUDIT_SQL, (e,))

    async def audit(self, *entries: AuditEntry) -> None:
        await self.commit([self.audit_write(e) for e in entries])

    async def anchor(self) -> dict[str, Any] | None:
        """Writes the audit chain's head to the signed checkpoint file (outside PostgreSQL)."""
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            return await audit_store.write_checkpoint(
                conn,
                self.settings.audit_secret(),
                self.g.schema_name,
                self.settings.audit_checkpoints(),
            )

    async def _anchor(self) -> None:
        while True:
            try:
                await self.anchor()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("audit checkpoint not written: %s", type(exc).__name__)
            await asyncio.sleep(self.settings.audit_checkpoint_s)

    # --- keys ------------------------------------------------------------------

    async def principal(self, token: str) -> Principal | None:
        h = token_hash(token)
        now = time.monotonic()
        cached = self._keys.get(h)
        if cached is not None and now - cached[0] < self.g.key_cache_s:
            return cached[1]
        assert self.pool is not None
        row = await self.pool.fetchrow(
            "SELECT key_id, tenant, scopes, rate_per_s FROM api_keys"
            " WHERE token_hash = $1 AND revoked_at IS NULL",
            h,
        )
        p = (
            Principal(row["key_id"], row["tenant"], frozenset(row["scopes"]), row["rate_per_s"])
            if row
            else None
        )
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[h] = (now, p)
        return p

    # --- idempotency -------------------------------------------------------------

    async def idem_begin(
        self,
        tenant: str,
        key: str,
        route: str,
        request_hash: bytes,
        encounter_id: str | None = None,
    ) -> tuple[int, dict[str, Any]] | str | None:
        """None: go ahead. (status, body): the first answer. 'mismatch' or 'pending'.

        With ``encounter_id``, the encounter's stored hash is fetched in the same round trip.
        """
        assert self.fast is not None
        try:
            row = await self.fast.fetchrow(
                "WITH ins AS (INSERT INTO idempotency_keys(tenant, key, route, request_hash, state)"
                " VALUES ($1, $2, $3, $4, 'pending') ON CONFLICT DO NOTHING RETURNING true AS fresh)"
                " SELECT (SELECT fresh FROM ins) AS fresh, (SELECT body_hash FROM encounters"
                "  WHERE tenant = $1 AND encounter_id = $5) AS known",
                tenant,
                key,
                route,
                request_hash,
                encounter_id or "",
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise Unavailable("the database is unavailable") from exc
        inserted = row["fresh"]
        if encounter_id is not None and inserted:
            known = row["known"]
            _KNOWN.set((tenant, encounter_id, bytes(known) if known is not None else None))
        if inserted:
            return None
        row = await self.fast.fetchrow(
            "SELECT route, request_hash, state, status_code, response,"
            " now() - created_at > interval '60 seconds' AS stale"
            " FROM idempotency_keys WHERE tenant = $1 AND key = $2",
            tenant,
            key,
        )
        if row is None:
            return await self.idem_begin(tenant, key, route, request_hash)
        if row["route"] != route or bytes(row["request_hash"]) != request_hash:
            return "mismatch"
        if row["state"] == "done":
            return int(row["status_code"]), orjson.loads(row["response"])
        if row["stale"]:
            # The first attempt died before answering: take it over. What it may have
            # sent carries the same ce_id as what we send now, so consumers see it once.
            took = await self.fast.fetchval(
                "UPDATE idempotency_keys SET created_at = now()"
                " WHERE tenant = $1 AND key = $2 AND state = 'pending'"
                " AND now() - created_at > interval '60 seconds' RETURNING true",
                tenant,
                key,
            )
            if took:
                return None
        return "pending"

    @staticmethod
    def idem_done(tenant: str, key: str, status: int, body: dict[str, Any]) -> _Write:
        return _Write(
            "UPDATE idempotency_keys SET state = 'done', status_code = $3, response = $4::jsonb"
            " WHERE tenant = $1 AND key = $2",
            (tenant, key, status, orjson.dumps(body).decode()),
        )

    async def idem_abandon(self, tenant: str, key: str) -> None:
        assert self.pool is not None
        with contextlib.suppress(Exception):
            await self.pool.execute(
                "DELETE FROM idempotency_keys WHERE tenant = $1 AND key = $2 AND state = 'pending'",
                tenant,
                key,
            )

    # --- encounters --------------------------------------------------------------

    @staticmethod
    def store_encounter(
        *,
        tenant: str,
        encounter_id: str,
        claim_id: str,
        patient_id: str,
        source: str,
        status: str,
        body_hash: bytes,
        body: dict[str, Any],
    ) -> _Write:
        return _Write(
            "INSERT INTO encounters(tenant, encounter_id, claim_id, patient_id, source, status,"
            " body_hash, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)"
            " ON CONFLICT (tenant, encounter_id) DO UPDATE SET claim_id = EXCLUDED.claim_id,"
            " patient_id = EXCLUDED.patient_id, source = EXCLUDED.source,"
            " status = EXCLUDED.status, body_hash = EXCLUDED.body_hash, body = EXCLUDED.body,"
            " updated_at = now()",
            (
                tenant,
                encounter_id,
                claim_id,
                patient_id,
                source,
                status,
                body_hash,
                orjson.dumps(body).decode(),
            ),
        )

    async def known_encounter(self, tenant: str, encounter_id: str) -> bytes | None:
        pre = _KNOWN.get()
        if pre is not None and pre[:2] == (tenant, encounter_id):
            _KNOWN.set(None)
            return pre[2]
        assert self.fast is not None
        try:
            h = await self.fast.fetchval(
                "SELECT body_hash FROM encounters WHERE tenant = $1 AND encounter_id = $2",
                tenant,
                encounter_id,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise Unavailable("the database is unavailable") from exc
        return bytes(h) if h is not None else None

    async def guarded(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await fn()
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            raise Unavailable("the database is unavailable") from exc


# The group-commit writer hands these to audit_store.append (keyed rows, in seq order).
AUDIT_SQL = audit_store.INSERT_SQL
