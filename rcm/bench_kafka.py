"""The benchmarks' Kafka traffic: publishing the workload, reading back the broker
timestamps of what the services produced, and the raw aiokafka pass-through baseline
(the same hops and message sizes, no services) a run is compared with.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from rcm.cli_contracts import load_demo_contracts
from rcm.cli_payers import load_demo_payers
from runtime.kafka import client_config, partitions, producer_config
from runtime.lag import collect as collect_lag
from runtime.settings import Settings
from runtime.telemetry import new_traceparent
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from schemas.ids import claim_id_for


async def end_offsets(s: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**client_config(s), group_id=None)
    await consumer.start()
    try:
        parts = await partitions(s, topics)
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


@dataclass
class Scan:
    """What :func:`scan` read: the first broker timestamp (ms) of each wanted key, how many
    records and bytes, and the first and last timestamp of any record."""

    first_by_key: dict[str, int] = field(default_factory=dict)
    count: int = 0
    size: int = 0
    first: int | None = None
    last: int | None = None


async def scan(
    s: Settings, topics: list[str], since: dict[TopicPartition, int], wanted: set[str]
) -> Scan:
    """Reads ``topics`` from ``since`` to their end offsets as of now."""
    consumer = AIOKafkaConsumer(**client_config(s), group_id=None, enable_auto_commit=False)
    await consumer.start()
    out = Scan()
    try:
        parts = [tp for tp in since if tp.topic in topics]
        ends = await consumer.end_offsets(parts)
        remaining = {tp for tp in parts if ends[tp] > since[tp]}
        consumer.assign(list(remaining))
        for tp in remaining:
            consumer.seek(tp, since[tp])
        deadline = asyncio.get_running_loop().time() + 120
        while remaining and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= ends[tp]:
                        continue
                    out.count += 1
                    out.size += len(r.value or b"")
                    out.first = r.timestamp if out.first is None else min(out.first, r.timestamp)
                    out.last = r.timestamp if out.last is None else max(out.last, r.timestamp)
                    key = (r.key or b"").decode()
                    if key in wanted and key not in out.first_by_key:
                        out.first_by_key[key] = r.timestamp
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


async def publish(
    s: Settings, day: list[EncounterCreated], tenant: str, rate: float | None
) -> dict[str, float]:
    await load_demo_payers(s, tenant)  # the tenant's payer directory (one small upsert)
    await load_demo_contracts(s, tenant)  # and its contracts: every posted line is compared
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    sent: dict[str, float] = {}
    try:
        start = time.monotonic()
        futures = []
        for i, enc in enumerate(day):
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            claim_id = claim_id_for(tenant, enc.encounter_id)
            meta = new_meta(
                enc,
                source="rcm/bench",
                tenant=tenant,
                correlation_id=claim_id,
                traceparent=new_traceparent(),
            )
            x = encode(enc, meta)
            futures.append(await producer.send(x.topic, x.value, key=x.key, headers=x.headers))
            sent[claim_id] = time.time()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def watch_lag(s: Settings, stop: asyncio.Event, seen: dict[str, int]) -> None:
    while not stop.is_set():
        with contextlib.suppress(Exception):
            for row in await collect_lag(s):
                seen[row.group] = max(seen.get(row.group, 0), row.lag)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2.0)


async def baseline(s: Settings, *, messages: int, size: int, hops: int) -> float:
    """Raw aiokafka consume-and-produce through ``hops`` topics: messages per second."""
    run = uuid.uuid4().hex[:8]
    topics = [f"bench.baseline.{run}.{i}" for i in range(hops + 1)]
    admin = AIOKafkaAdminClient(**client_config(s))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 6, 1) for t in topics])
        return await _pass_through(s, run, topics, messages=messages, size=size, hops=hops)
    finally:  # scratch topics: a run leaves nothing behind on the broker's disk
        try:
            await admin.delete_topics(topics)
        finally:
            await admin.close()


async def _pass_through(
    s: Settings, run: str, topics: list[str], *, messages: int, size: int, hops: int
) -> float:
    payload = os.urandom(size // 2).hex().encode()[:size]
    done = asyncio.Event()

    async def relay(src: str, dst: str | None, counter: list[int]) -> None:
        consumer = AIOKafkaConsumer(
            src,
            **client_config(s),
            group_id=f"bench-{run}-{src}",
            auto_offset_reset="earliest",
            max_poll_records=500,
        )
        producer = AIOKafkaProducer(**producer_config(s)) if dst else None
        await consumer.start()
        if producer:
            await producer.start()
        try:
            while counter[0] < messages:
                batch = await consumer.getmany(timeout_ms=200)
                futures = []
                for records in batch.values():
                    for r in records:
                        counter[0] += 1
                        if producer and dst:
                            futures.append(await producer.send(dst, r.value, key=r.key))
                if futures:
                    await asyncio.gather(*futures)
                if batch:
                    await consumer.commit()
            if dst is None:
                done.set()
        finally:
            await consumer.stop()
            if producer:
                await producer.stop()

    counters = [[0] for _ in topics]
    tasks = [
        asyncio.create_task(
            relay(topics[i], topics[i + 1] if i + 1 < len(topics) else None, counters[i])
        )
        for i in range(len(topics))
    ]
    await asyncio.sleep(1.0)  # let every consumer join before the clock starts
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    start = time.monotonic()
    futures = [
        await producer.send(topics[0], payload, key=str(i).encode()) for i in range(messages)
    ]
    await asyncio.gather(*futures)
    await producer.stop()
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.monotonic() - start
    # Every relay ends by itself once it has passed every message on. Cancelling one
    # while it stops its consumer left that consumer refreshing metadata, and the broker
    # auto-created its topic again after the deletion below.
    _, stuck = await asyncio.wait(tasks, timeout=60)
    for t in stuck:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return messages * hops / elapsed
