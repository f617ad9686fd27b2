"""`rcm bench --floor`: what the exactly-once runtime alone costs, with no domain work.

The end-to-end benchmark says what a claim costs; the raw pass-through baseline says
what Kafka and aiokafka cost per hop. Between them is the runtime every service runs on
(runtime/service.py): per batch a PostgreSQL transaction that records each message id
(de-duplication), applies the handlers and writes what they emit to the outbox, then
the relay that publishes the outbox and deletes it, and the offset commit. This measures
that floor: ``hops`` + 1 services in this process, each a real :class:`Service` in a
scratch schema, service i applying topic i with a handler that does nothing but emit the
event on topic i + 1. A message passes the same number of hops as a claim, carrying a
real encounter.created (decoded and validated at every hop).

What it reports per message that passes every hop (one claim's worth of hops): the CPU
this process (every hop service), PostgreSQL and Kafka spent, and the machine's; whether
every message was applied exactly once at every hop and published exactly once on every
topic (``exactly_once``); and, from `rcm bench --floor`, the raw pass-through baseline
through as many hops with messages of the same size, with ``ratio`` = hop messages per
second / baseline, as the end-to-end benchmark reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from rcm import stack
from rcm.bench import PIPELINE_HOPS, CpuWindow
from rcm.bench_kafka import baseline, end_offsets
from rcm.workload import generate_day
from runtime.kafka import client_config, producer_config
from runtime.service import Context, Service, tune_process
from runtime.settings import Settings
from schemas.codec import Encoded, encode, new_meta
from schemas.events import EncounterCreated

#: The first hop's service is held by this lock on its processed_messages while the
#: messages are published, so the clock starts with every message waiting.
_GATE = "LOCK TABLE {schema}.processed_messages IN ACCESS EXCLUSIVE MODE"


def run_floor(
    s: Settings, *, messages: int, seed: int, timeout: float, hops: int = len(PIPELINE_HOPS)
) -> dict[str, Any]:
    stack.up(s)
    encoded = encounters(messages, seed)
    size = _message_bytes([x.value for x in encoded])
    # The raw pass-through through as many hops with messages of the same size, first and
    # on asyncio's own loop, as the end-to-end benchmark measures it: what share of it the
    # runtime keeps.
    base = asyncio.run(
        baseline(s, messages=min(20_000, max(2_000, messages)), size=size, hops=hops)
    )
    tune_process()  # the hops run as a service process does (uvloop, GC threshold)
    result = asyncio.run(floor(s, encoded, timeout=timeout, hops=hops))
    result["baseline_msgs_per_s"] = round(base, 1)
    result["ratio"] = round(result["hop_msgs_per_s"] / base, 3) if base else None
    return result


def encounters(messages: int, seed: int) -> list[Encoded]:
    """The floor's messages: a synthetic day's encounter.created events, encoded once."""
    return [
        encode(e, new_meta(e, source="rcm/bench", tenant="floor", correlation_id=e.encounter_id))
        for e in generate_day(messages, seed, tenant="floor")
    ]


def _pass_on(nxt: str | None) -> Any:
    async def handler(items: Sequence[tuple[Context, EncounterCreated]]) -> None:
        if nxt is None:
            return
        for ctx, ev in items:
            await ctx.emit(ev, topic=nxt)

    return handler


async def floor(
    s: Settings, encoded: list[Encoded], *, timeout: float, hops: int
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    topics = [f"bench.floor.{run}.{i}" for i in range(hops + 1)]
    admin = AIOKafkaAdminClient(**client_config(s))
    await admin.start()
    services: list[Service] = []
    tasks: list[asyncio.Task[None]] = []
    empty = tempfile.TemporaryDirectory(prefix="rcm-floor-")  # no migrations of their own
    try:
        await admin.create_topics([NewTopic(t, 6, 1) for t in topics])
        for i, topic in enumerate(topics):
            svc = Service(
                f"floor-{run}-{i}",
                schema=f"bench_floor_{run}_{i}",
                migrations=Path(empty.name),
                http_port=6190,
                s=s,
            )
            svc.on_many(
                EncounterCreated, _pass_on(topics[i + 1] if i < hops else None), topic=topic
            )
            await svc.start_resources()
            services.append(svc)
        return await _measure(s, services, topics, encoded, timeout, tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for svc in services:
            with contextlib.suppress(Exception):
                assert svc.pool is not None
                await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
            await svc.stop_resources()
        empty.cleanup()
        try:  # scratch topics: a run leaves nothing behind on the broker's disk
            await admin.delete_topics(topics)
        finally:
            await admin.close()


def _message_bytes(bodies: Sequence[bytes]) -> int:
    """The average size of these event bodies on the wire."""
    return round(sum(len(b) for b in bodies) / len(bodies))


async def _applied(conn: asyncpg.Connection, schema: str) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {schema}.processed_messages"))


async def _measure(
    s: Settings,
    services: list[Service],
    topics: list[str],
    encoded: list[Encoded],
    timeout: float,
    tasks: list[asyncio.Task[None]],
) -> dict[str, Any]:
    messages = len(encoded)
    conn = await asyncpg.connect(s.database_url)
    gate = await asyncpg.connect(s.database_url)
    try:
        for svc in services:
            tasks.append(asyncio.create_task(svc.relay_outbox()))
            tasks.append(asyncio.create_task(svc.consume()))
        tx = gate.transaction()
        await tx.start()
        await gate.execute(_GATE.format(schema=services[0].schema))
        await _joined(services, timeout)
        producer = AIOKafkaProducer(**producer_config(s))
        await producer.start()
        try:
            futures = [
                await producer.send(topics[0], x.value, key=x.key, headers=x.headers)
                for x in encoded
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        window = CpuWindow({})
        window.start()
        start = time.monotonic()
        await tx.rollback()  # the gate opens
        last = services[-1].schema
        deadline = start + timeout
        while await _applied(conn, last) < messages:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the floor's last hop applied too few within {timeout:.0f} s")
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - start
        window.stop()
        await _relayed(conn, services, timeout)
        applied = [await _applied(conn, svc.schema) for svc in services]
    finally:
        await conn.close()
        await gate.close()
    ends = await end_offsets(s, topics)
    published = [sum(n for tp, n in ends.items() if tp.topic == t) for t in topics]
    per_message = window.per_claim_ms(messages)
    return {
        "mode": "floor",
        "messages": messages,
        "hops": len(topics) - 1,
        "message_bytes": _message_bytes([x.value for x in encoded]),
        "elapsed_s": round(elapsed, 2),
        "messages_per_s": round(messages / elapsed, 1),
        "hop_msgs_per_s": round(messages * (len(topics) - 1) / elapsed, 1),
        # CPU per message that passed every hop: "bench" is this process, every hop
        # service in it; "machine" every core's busy time, whoever spent it.
        "cpu_ms_per_message": {
            "services": per_message["bench"],
            "postgresql": per_message["postgresql"],
            "kafka": per_message["kafka"],
            "machine": per_message["machine"],
        },
        "applied_per_hop": applied,
        "published_per_topic": published,
        "exactly_once": all(n == messages for n in applied)
        and all(n == messages for n in published),
    }


async def _joined(services: list[Service], timeout: float) -> None:
    """Waits until every hop's consumer holds its partitions."""
    deadline = time.monotonic() + timeout
    while not all(svc.consumer is not None and svc.consumer.joined.is_set() for svc in services):
        if time.monotonic() > deadline:
            raise TimeoutError("the floor's consumers did not join their groups")
        await asyncio.sleep(0.1)


async def _relayed(conn: asyncpg.Connection, services: list[Service], timeout: float) -> None:
    """Waits until every hop's outbox is empty (its last events published)."""
    deadline = time.monotonic() + timeout
    for svc in services:
        while await conn.fetchval(f"SELECT count(*) FROM {svc.schema}.outbox"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{svc.schema}'s outbox was not relayed")
            await asyncio.sleep(0.05)
