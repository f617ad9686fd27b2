"""The tables' changelog topics, made before the worker starts.

faust would make them itself once running, but its consumer's metadata does not learn of
a topic made after it started until the next refresh (minutes): until then a table write
fails with PartitionsMismatch and the agent crashes on every record. Made first, with the
configuration faust gives them (compacted; windowed ones also deleted after their windows
expire), they are there when the worker asks.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from runtime.kafka import client_config
from runtime.settings import Settings


def changelog_specs(app: faust.App, replication: int) -> list[NewTopic]:
    out = []
    for table in app.tables.values():
        topic: Any = table.changelog_topic
        policies = [
            p for p, on in (("compact", topic.compacting), ("delete", topic.deleting)) if on
        ]
        config = {"cleanup.policy": ",".join(policies)} if policies else {}
        if topic.retention:
            config["retention.ms"] = str(int(topic.retention * 1000))
        out.append(
            NewTopic(topic.get_topic_name(), topic.partitions, replication, topic_configs=config)
        )
    return out


async def ensure_changelogs(app: faust.App, s: Settings) -> None:
    admin = AIOKafkaAdminClient(**client_config(s))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            t for t in changelog_specs(app, s.kafka_replication_factor) if t.name not in existing
        ]
        for spec in wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance made it
                await admin.create_topics([spec])
        names = [t.name for t in wanted]
        for _ in range(100):  # until each partition has its leader
            if not names or all(
                p["leader"] >= 0
                for t in await admin.describe_topics(names)
                for p in t["partitions"]
            ):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
