"""A fetched batch of several topics (runtime.service ``_apply_consumed``) is applied
cause first: the topic whose records are oldest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from rcm.workload import generate_day
from runtime.context import Context
from runtime.service import Service
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from tests.unit.fake_pg import FakeConnection

pytestmark = pytest.mark.unit

CAUSE, EFFECT, OUT = "it.cause", "it.effect", "it.out"


@dataclass
class Fetched:
    """A record as aiokafka's getmany returns it (the fields the service reads)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Pool:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield self.conn


class CountingEvent(asyncio.Event):
    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


def _service() -> tuple[Service, list[tuple[str, str]], FakeConnection]:
    svc = Service("unit", schema="unit", migrations=Path("."), http_port=6000, s=Settings())
    seen: list[tuple[str, str]] = []

    def on(topic: str) -> Any:
        async def handle(ctx: Context, ev: EncounterCreated) -> None:
            seen.append((topic, ev.encounter_id))
            await ctx.emit(ev, topic=OUT)

        return handle

    svc.on(EncounterCreated, on(EFFECT), topic=EFFECT)
    svc.on(EncounterCreated, on(CAUSE), topic=CAUSE)
    conn = FakeConnection()
    svc.pool = Pool(conn)
    svc.outbox.wake = CountingEvent()
    svc.ready.set()
    return svc, seen, conn


def _fetched(topic: str, n: int, at: int) -> list[Fetched]:
    out = []
    for i, e in enumerate(generate_day(n, 3, tenant="unit")):
        e = e.model_copy(update={"encounter_id": f"{topic}-{i}"})
        enc = encode(e, new_meta(e, source="rcm/unit", tenant="unit", correlation_id=f"c{i}"))
        out.append(Fetched(topic, 0, i, at + i, enc.key, enc.value, list(enc.headers)))
    return out


async def test_a_batch_applies_the_topic_whose_records_are_older_first() -> None:
    """The fetch returned the effect's partition first; its records are younger than the
    cause's (an event is produced after what caused it committed)."""
    svc, seen, conn = _service()
    effects, causes = _fetched(EFFECT, 2, at=2_000), _fetched(CAUSE, 2, at=1_000)
    await svc._apply_consumed([*effects, *causes])
    assert seen == [
        (CAUSE, "it.cause-0"),
        (CAUSE, "it.cause-1"),
        (EFFECT, "it.effect-0"),
        (EFFECT, "it.effect-1"),
    ]
    assert [orjson.loads(v)["encounter_id"] for _, _, v, _, _ in conn.tables.outbox] == [
        "it.cause-0",
        "it.cause-1",
        "it.effect-0",
        "it.effect-1",
    ]
