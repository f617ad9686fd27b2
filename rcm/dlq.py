"""Dead letters: list what is waiting in every TOPIC.dlq, and replay after a fix.

A replayed record goes back to its source topic with its original bytes, headers and
ce_id. Consumer groups that applied it the first time skip it (their
processed_messages has its ce_id); the service that dead-lettered it is told to take
it again by removing that mark in its own schema, in the same step.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from runtime.kafka import client_config, partitions, producer_config
from runtime.settings import Settings
from schemas.topics import TOPICS

_SERVICE = re.compile(r"^rcm/([a-z_]+)$")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    source: str
    reason: str
    error: str
    service: str
    time: str
    ce_id: str | None
    ce_type: str | None
    size: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    def summary(self) -> dict[str, Any]:
        return {
            "dlq_topic": self.dlq_topic,
            "partition": self.partition,
            "offset": self.offset,
            "source": self.source,
            "reason": self.reason,
            "error": self.error,
            "service": self.service,
            "time": self.time,
            "ce_id": self.ce_id,
            "ce_type": self.ce_type,
            "bytes": self.size,
        }


async def read(s: Settings, topics: list[str] | None = None) -> list[DeadLetter]:
    names = topics or [t.dlq for t in TOPICS]
    consumer = AIOKafkaConsumer(**client_config(s), group_id=None, enable_auto_commit=False)
    await consumer.start()
    out: list[DeadLetter] = []
    try:
        parts = await partitions(s, names)
        if not parts:
            return out
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        remaining = {tp for tp in parts if ends[tp] > 0}
        deadline = asyncio.get_running_loop().time() + 30
        while remaining and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batch.items():
                for r in records:
                    h = dict(r.headers)
                    out.append(
                        DeadLetter(
                            dlq_topic=tp.topic,
                            partition=tp.partition,
                            offset=r.offset,
                            source=h.get("dlq_source", b"").decode(errors="replace"),
                            reason=h.get("dlq_reason", b"").decode(errors="replace"),
                            error=h.get("dlq_error", b"").decode(errors="replace"),
                            service=h.get("dlq_service", b"").decode(errors="replace"),
                            time=h.get("dlq_time", b"").decode(errors="replace"),
                            ce_id=h["ce_id"].decode(errors="replace") if "ce_id" in h else None,
                            ce_type=h["ce_type"].decode(errors="replace")
                            if "ce_type" in h
                            else None,
                            size=len(r.value or b""),
                            key=r.key,
                            value=r.value or b"",
                            headers=list(r.headers),
                        )
                    )
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


class ReplayError(ValueError):
    pass


async def replay(s: Settings, dlq_topic: str, offset: int, partition: int = 0) -> DeadLetter:
    letters = [
        d for d in await read(s, [dlq_topic]) if d.offset == offset and d.partition == partition
    ]
    if not letters:
        raise ReplayError(f"no dead letter at {dlq_topic}:{partition}:{offset}")
    d = letters[0]
    if not d.ce_id:
        raise ReplayError(
            f"{dlq_topic}:{partition}:{offset} has no ce_id ({d.reason}): "
            "its bytes cannot be decoded; fix and publish it anew instead"
        )
    match = _SERVICE.match(d.service)
    if not match:
        raise ReplayError(f"{dlq_topic}:{partition}:{offset} names no service")
    schema = match.group(1)
    source_topic = dlq_topic.removesuffix(".dlq")
    conn = await asyncpg.connect(s.database_url)
    try:
        await conn.execute(
            f"DELETE FROM {schema}.processed_messages WHERE message_id = $1",
            d.ce_id,
        )
    finally:
        await conn.close()
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        headers = [(k, v) for k, v in d.headers if not k.startswith("dlq_")]
        headers.append(("rcm_replayed_from", f"{dlq_topic}:{partition}:{offset}".encode()))
        await producer.send_and_wait(source_topic, d.value, key=d.key, headers=headers)
    finally:
        await producer.stop()
    return d


def _patients(doc: Any, out: list[str]) -> None:
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "patient_id" and isinstance(v, str) and v:
                out.append(v)
            elif k == "patient" and isinstance(v, dict) and isinstance(v.get("id"), str):
                out.append(v["id"])
            _patients(v, out)
    elif isinstance(doc, list):
        for v in doc:
            _patients(v, out)


def audit_entries(letters: list[DeadLetter], actor: str, action: str) -> list[Any]:
    """One audit row per tenant for what a command showed or replayed: the letters' claims
    (correlation ids) and the patients their bodies name."""
    from services.gateway.audit_store import AuditEntry

    by_tenant: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for d in letters:
        h = dict(d.headers)
        tenant = h.get("ce_tenantid", b"").decode(errors="replace")
        claims, patients, where = by_tenant.setdefault(tenant, ([], [], []))
        if h.get("ce_correlationid"):
            claims.append(h["ce_correlationid"].decode(errors="replace"))
        with contextlib.suppress(orjson.JSONDecodeError):
            _patients(orjson.loads(d.value), patients)
        where.append(f"{d.dlq_topic}:{d.partition}:{d.offset}")
    return [
        AuditEntry(
            tenant,
            actor,
            action,
            where[0] if len(where) == 1 else f"{len(where)} dead letters",
            detail=",".join(where)[:500],
            patient_ids=tuple(patients),
            claim_ids=tuple(claims),
        )
        for tenant, (claims, patients, where) in by_tenant.items()
    ]
