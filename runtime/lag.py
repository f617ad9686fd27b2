"""Consumer lag per group, topic and partition, in messages and in seconds.

Lag in messages is end offset minus committed offset. Lag in seconds is how old
the oldest unconsumed message is: now minus the timestamp of the record at the
committed offset (0 when the group is caught up), as Burrow and
kafka-lag-exporter report it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from runtime.kafka import client_config
from runtime.settings import Settings

GROUP_PREFIX = "rcm-"


@dataclass(frozen=True, slots=True)
class Lag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int
    lag: int
    lag_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _groups(admin: AIOKafkaAdminClient, prefix: str) -> list[str]:
    listed = await admin.list_consumer_groups()
    names = sorted({g[0] for g in listed if g[0].startswith(prefix)})
    return names


async def _timestamp_at(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> int | None:
    """The broker timestamp (ms) of the record at ``offset``, if it is still there."""
    consumer.assign([tp])
    consumer.seek(tp, offset)
    batch = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
    records = batch.get(tp) or []
    return records[0].timestamp if records else None


async def collect(
    s: Settings,
    *,
    groups: list[str] | None = None,
    prefix: str = GROUP_PREFIX,
    seconds: bool = True,
) -> list[Lag]:
    """Lag per group, topic and partition; without ``seconds`` its lag_seconds stay 0 and
    no record is read to date it (for a caller that only compares offsets)."""
    cfg = client_config(s)
    admin = AIOKafkaAdminClient(**cfg, request_timeout_ms=10000)
    consumer = AIOKafkaConsumer(**cfg, enable_auto_commit=False, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        names = groups or await _groups(admin, prefix)
        rows: list[Lag] = []
        now_ms = time.time() * 1000
        for group in names:
            committed = await admin.list_consumer_group_offsets(group)
            parts = {
                tp: meta.offset
                for tp, meta in committed.items()
                if meta is not None and meta.offset >= 0 and "__assignor" not in tp.topic
            }
            if not parts:
                continue
            ends = await consumer.end_offsets(list(parts))
            for tp in sorted(parts, key=lambda t: (t.topic, t.partition)):
                offset, end = parts[tp], ends.get(tp, parts[tp])
                lag = max(0, end - offset)
                age = 0.0
                if lag and seconds:
                    ts = await _timestamp_at(consumer, tp, offset)
                    age = max(0.0, (now_ms - ts) / 1000) if ts is not None else 0.0
                rows.append(Lag(group, tp.topic, tp.partition, offset, end, lag, round(age, 3)))
        return rows
    finally:
        await consumer.stop()
        await admin.close()


def collect_sync(s: Settings, **kwargs: Any) -> list[Lag]:
    return asyncio.run(collect(s, **kwargs))


def prometheus(rows: list[Lag]) -> str:
    """The kafka-lag-exporter metric names, in Prometheus text format."""
    lines = [
        "# HELP kafka_consumergroup_group_lag Messages the group has not yet consumed.",
        "# TYPE kafka_consumergroup_group_lag gauge",
    ]
    for r in rows:
        lines.append(
            f'kafka_consumergroup_group_lag{{group="{r.group}",topic="{r.topic}",'
            f'partition="{r.partition}"}} {r.lag}'
        )
    lines += [
        "# HELP kafka_consumergroup_group_lag_seconds Age of the oldest unconsumed message.",
        "# TYPE kafka_consumergroup_group_lag_seconds gauge",
    ]
    for r in rows:
        lines.append(
            f'kafka_consumergroup_group_lag_seconds{{group="{r.group}",topic="{r.topic}",'
            f'partition="{r.partition}"}} {r.lag_seconds}'
        )
    lines += [
        "# HELP kafka_consumergroup_group_offset Last committed offset.",
        "# TYPE kafka_consumergroup_group_offset gauge",
    ]
    for r in rows:
        lines.append(
            f'kafka_consumergroup_group_offset{{group="{r.group}",topic="{r.topic}",'
            f'partition="{r.partition}"}} {r.committed}'
        )
    lines += [
        "# HELP kafka_partition_latest_offset Latest offset of the partition.",
        "# TYPE kafka_partition_latest_offset gauge",
    ]
    seen: set[tuple[str, int]] = set()
    for r in rows:
        if (r.topic, r.partition) not in seen:
            seen.add((r.topic, r.partition))
            lines.append(
                f'kafka_partition_latest_offset{{topic="{r.topic}",'
                f'partition="{r.partition}"}} {r.end}'
            )
    lines += [
        "# HELP kafka_consumergroup_group_max_lag Largest partition lag of the group.",
        "# TYPE kafka_consumergroup_group_max_lag gauge",
    ]
    worst: dict[str, int] = {}
    for r in rows:
        worst[r.group] = max(worst.get(r.group, 0), r.lag)
    for group, lag in sorted(worst.items()):
        lines.append(f'kafka_consumergroup_group_max_lag{{group="{group}"}} {lag}')
    return "\n".join(lines) + "\n"
