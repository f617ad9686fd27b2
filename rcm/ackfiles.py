"""The clearinghouse's acknowledgement files (999 and 277CA) a set of claims got, read
back from the claim.acknowledged topic: the demo writes them beside its 837s and 835s,
and the end-to-end tests check each one with pyx12. Read from the start of the topic up
to its end when asked, without a consumer group (nothing is committed)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, TopicPartition

from runtime.kafka import client_config
from runtime.settings import Settings
from schemas.codec import DecodeError, decode
from schemas.events import AckKind, ClaimAcknowledged
from schemas.topics import PARTITIONS

SUFFIX = {AckKind.ack_999: "999", AckKind.ack_277ca: "277ca"}


async def acknowledgement_files(s: Settings, claim_ids: Collection[str]) -> list[tuple[str, str]]:
    """``(file name, X12 text)`` of each distinct acknowledgement document that answered
    one of ``claim_ids``: one 999 or 277CA answers every claim of its interchange."""
    wanted = set(claim_ids)
    consumer = AIOKafkaConsumer(
        **client_config(s), enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        parts = [TopicPartition(ClaimAcknowledged.TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        seen: dict[str, tuple[str, str]] = {}
        remaining = {tp for tp in parts if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for r in records:
                    _keep(r.value, list(r.headers), wanted, seen)
            # the position passes transaction markers too, which are never records
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    finally:
        await consumer.stop()
    return sorted(seen.values())


def _keep(
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    wanted: set[str],
    seen: dict[str, tuple[str, str]],
) -> None:
    try:
        ev = decode(value, headers).event
    except DecodeError:
        return  # the topic's dead-letter twin has it, with its reason
    if not isinstance(ev, ClaimAcknowledged) or ev.claim_id not in wanted:
        return
    digest = hashlib.sha256(ev.x12.encode()).hexdigest()
    if digest not in seen:
        seen[digest] = (f"{digest[:12]}.{SUFFIX[ev.kind]}", ev.x12)
