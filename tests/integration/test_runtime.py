"""The runtime on real PostgreSQL and Kafka: effects once, dead letters, the outbox."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from runtime.kafka import client_config
from runtime.service import Context, Deferred, Record, Service, run_deferred
from runtime.settings import Settings
from runtime.telemetry import new_traceparent
from schemas.codec import encode, new_meta
from schemas.common import HoldReason
from schemas.events import ClaimHeld, EncounterCreated, Stage
from tests.builders import encounter
from tests.throwaway import running_timers

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).parent / "migrations"


def _record(enc: EncounterCreated, offset: int, *, topic: str) -> Record:
    x = encode(enc, new_meta(enc, source="test", tenant="t1", correlation_id="C1"))
    return Record(topic, 0, offset, x.key, x.value, x.headers)


async def _service(
    s: Settings,
    topic: str,
    effect: list[str],
    fail_on: str | None,
    *,
    runs: list[int] | None = None,
) -> Service:
    """A service whose handler records each encounter and emits a claim.held for it;
    with ``runs``, the same handler registered set-based (``Service.on_many``), and the
    size of each run it was given appended to ``runs``."""
    schema = f"it_{uuid.uuid4().hex[:8]}"
    svc = Service("it", schema=schema, migrations=MIGRATIONS, http_port=6199, s=s)

    async def handler(ctx: Context, enc: EncounterCreated) -> None:
        if enc.encounter_id == fail_on:
            raise ValueError("this encounter breaks the handler")
        effect.append(enc.encounter_id)
        await ctx.conn.execute("INSERT INTO effects(encounter_id) VALUES ($1)", enc.encounter_id)
        await ctx.emit(
            ClaimHeld(
                claim_id="C1",
                encounter_id=enc.encounter_id,
                stage=Stage.coding,
                reasons=[HoldReason(code="T", message="m", fix="f")],
            )
        )

    async def many(items: Sequence[tuple[Context, EncounterCreated]]) -> None:
        assert runs is not None
        runs.append(len(items))
        for ctx, enc in items:
            await handler(ctx, enc)

    if runs is None:
        svc.on(EncounterCreated, handler, topic=topic)
    else:
        svc.on_many(EncounterCreated, many, topic=topic)
    await svc.start_resources()
    return svc


async def _done(svc: Service) -> None:
    """Drops the test's schema and stops the service."""
    assert svc.pool is not None
    await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
    await svc.stop_resources()


async def test_a_redelivered_message_is_applied_once(live_stack: Settings) -> None:
    topic = f"it.{uuid.uuid4().hex[:6]}"
    effect: list[str] = []
    svc = await _service(live_stack, topic, effect, fail_on=None)
    try:
        rec = _record(encounter(encounter_id="E-once"), 0, topic=topic)
        await svc.process(topic, [rec, rec])
        await svc.process(topic, [rec])
        assert svc.pool is not None
        assert await svc.pool.fetchval("SELECT count(*) FROM effects") == 1
        assert await svc.pool.fetchval("SELECT count(*) FROM outbox") == 1
        assert effect == ["E-once"]
    finally:
        await _done(svc)


async def test_ids_older_than_the_retention_are_pruned_and_recent_ones_still_dedupe(
    live_stack: Settings,
) -> None:
    """The de-duplication table keeps ids for ``dedupe_retention_days`` (15): older ones
    go, in runs of a few thousand; a message seen within the window is still applied once."""
    topic = f"it.{uuid.uuid4().hex[:6]}"
    effect: list[str] = []
    svc = await _service(live_stack, topic, effect, fail_on=None)
    try:
        assert svc.pool is not None
        recent = _record(encounter(encounter_id="E-recent"), 0, topic=topic)
        await svc.process(topic, [recent])
        await svc.pool.execute(
            "INSERT INTO processed_messages(message_id, topic, processed_at)"
            " SELECT 'old-' || n, $1, now() - make_interval(days => 16, secs => n)"
            " FROM generate_series(1, 7000) AS n",
            topic,
        )
        await svc.pool.execute(
            "INSERT INTO processed_messages(message_id, topic, processed_at)"
            " VALUES ('day-14', $1, now() - interval '14 days')",
            topic,
        )
        assert await svc.prune_processed() == 5000  # one run's worth
        assert await svc.prune_processed() == 2000
        assert await svc.prune_processed() == 0
        left = [
            r["message_id"]
            for r in await svc.pool.fetch("SELECT message_id FROM processed_messages")
        ]
        assert len(left) == 2  # the recent message's id and the one 14 days old
        assert "day-14" in left
        assert not [m for m in left if m.startswith("old-")]
        await svc.process(topic, [recent])  # redelivered within the window
        assert effect == ["E-recent"]
    finally:
        await _done(svc)


@pytest.mark.parametrize("set_based", [False, True], ids=["per-message", "set-based"])
async def test_a_failing_message_is_dead_lettered_and_its_neighbours_apply(
    live_stack: Settings, set_based: bool
) -> None:
    topic = f"it.{uuid.uuid4().hex[:6]}"
    effect: list[str] = []
    runs: list[int] | None = [] if set_based else None
    svc = await _service(live_stack, topic, effect, fail_on="E-bad", runs=runs)
    try:
        recs = [
            _record(encounter(encounter_id=e), i, topic=topic)
            for i, e in enumerate(["E-1", "E-bad", "E-2"])
        ]
        garbage = Record(topic, 0, 3, b"k", b"\xff not json", [])
        await svc.process(topic, recs)
        await svc.process(topic, [garbage])
        assert svc.pool is not None
        effects = [
            r[0] for r in await svc.pool.fetch("SELECT encounter_id FROM effects ORDER BY 1")
        ]
        assert effects == ["E-1", "E-2"]
        dead = await svc.pool.fetch('SELECT "offset", reason, error FROM dead_letters ORDER BY 1')
        assert [(d["offset"], d["reason"]) for d in dead] == [
            (1, "handler-error"),
            (3, "missing-header"),
        ]
        # the error's type only (its message may hold PHI); the full text is restricted
        assert dead[0]["error"] == "ValueError"
        detail = await svc.pool.fetchval("SELECT detail FROM dead_letter_details")
        assert "this encounter breaks the handler" in detail
        # the dead letters and the two held events wait in the outbox, in order
        topics = [r[0] for r in await svc.pool.fetch("SELECT topic FROM outbox ORDER BY id")]
        assert topics == ["claim.held", f"{topic}.dlq", "claim.held", f"{topic}.dlq"]
        if runs is not None:  # the run of three failed as one, then each went on its own
            assert runs == [3, 1, 1, 1]
    finally:
        await _done(svc)


async def test_a_set_based_handler_gets_the_run_at_once_and_each_emit_keeps_its_trace(
    live_stack: Settings,
) -> None:
    topic = f"it.{uuid.uuid4().hex[:6]}"
    effect: list[str] = []
    runs: list[int] = []
    svc = await _service(live_stack, topic, effect, fail_on=None, runs=runs)
    try:
        recs, traces = [], []
        for i, e in enumerate(["E-1", "E-2", "E-3"]):
            enc = encounter(encounter_id=e)
            tp = new_traceparent()
            meta = new_meta(enc, source="test", tenant="t1", correlation_id=e, traceparent=tp)
            x = encode(enc, meta)
            recs.append(Record(topic, 0, i, x.key, x.value, x.headers))
            traces.append(tp.split("-")[1])
        await svc.process(topic, [*recs, recs[1]])  # a redelivery inside the batch
        assert runs == [3]
        assert effect == ["E-1", "E-2", "E-3"]
        assert svc.pool is not None
        out = await svc.pool.fetch("SELECT value, headers FROM outbox ORDER BY id")
        emitted = [
            (
                orjson.loads(r["value"])["encounter_id"],
                base64.b64decode(dict(orjson.loads(r["headers"]))["traceparent"]).decode(),
            )
            for r in out
        ]
        # each claim.held continues the trace of the encounter that caused it
        assert [(e, tp.split("-")[1]) for e, tp in emitted] == list(
            zip(["E-1", "E-2", "E-3"], traces, strict=True)
        )
    finally:
        await _done(svc)


async def test_the_outbox_relay_publishes_with_headers_and_empties(live_stack: Settings) -> None:
    topic = f"it.{uuid.uuid4().hex[:6]}"
    svc = await _service(live_stack, topic, [], fail_on="E-bad")
    try:
        await svc.process(topic, [_record(encounter(encounter_id="E-bad"), 0, topic=topic)])
        consumer = AIOKafkaConsumer(
            f"{topic}.dlq", auto_offset_reset="earliest", **client_config(live_stack)
        )
        await consumer.start()
        try:
            relay = asyncio.create_task(svc.relay_outbox())
            msg = await asyncio.wait_for(consumer.getone(), timeout=30)
            assert svc.pool is not None
            for _ in range(100):  # the relay deletes what it sent once Kafka acknowledged it
                if await svc.pool.fetchval("SELECT count(*) FROM outbox") == 0:
                    break
                await asyncio.sleep(0.1)
            relay.cancel()
        finally:
            await consumer.stop()
        headers = dict(msg.headers)
        assert headers["dlq_reason"] == b"handler-error"
        assert headers["dlq_service"] == b"rcm/it"
        assert headers["ce_type"] == b"rcm.encounter.created.v1"
        assert svc.pool is not None
        assert await svc.pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await _done(svc)


async def test_two_relays_of_one_schema_publish_each_row_once_in_order(
    live_stack: Settings,
) -> None:
    """Two instances of a service relay the same outbox at once, a few rows a pass: every
    row reaches Kafka once, in the order it was written."""
    topic = f"it.{uuid.uuid4().hex[:6]}"
    first = await _service(live_stack, topic, [], fail_on=None)
    second = Service("it", schema=first.schema, migrations=MIGRATIONS, http_port=6199, s=live_stack)
    await second.start_resources()
    assert first.pool is not None
    await first.pool.execute(
        "INSERT INTO outbox(topic, key, value, headers)"
        " SELECT $1, 'one-key'::bytea, convert_to(n::text, 'UTF8'), '[]'::jsonb"
        " FROM generate_series(0, 299) AS n ORDER BY n",
        topic,
    )

    async def drain(svc: Service) -> None:
        assert svc.pool is not None
        while await svc.pool.fetchval("SELECT count(*) FROM outbox"):
            await svc.relay_once(limit=7)

    consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **client_config(live_stack))
    await consumer.start()
    try:
        await asyncio.wait_for(asyncio.gather(drain(first), drain(second)), timeout=60)
        seen: list[int] = []
        while len(seen) < 300:
            got = await consumer.getmany(timeout_ms=5000)
            assert got, f"only {len(seen)} of 300 rows reached Kafka"
            seen += [int(m.value) for records in got.values() for m in records]
        await asyncio.sleep(0.5)
        seen += [
            int(m.value) for rs in (await consumer.getmany(timeout_ms=500)).values() for m in rs
        ]
    finally:
        await consumer.stop()
        await second.stop_resources()
        await _done(first)
    assert seen == list(range(300))


async def test_deferred_writes_apply_at_the_end_and_a_failing_one_is_isolated(
    live_stack: Settings,
) -> None:
    """Writes a handler defers run once, in order, at the end of the batch (a run of one
    statement text as one executemany); one that fails there sends the batch down the
    careful path, where each message's writes run at once and only the bad one is
    dead-lettered."""
    topic = f"it.{uuid.uuid4().hex[:6]}"
    schema = f"it_{uuid.uuid4().hex[:8]}"
    svc = Service("it", schema=schema, migrations=MIGRATIONS, http_port=6199, s=live_stack)
    seen: list[int] = []

    async def handler(ctx: Context, enc: EncounterCreated) -> None:
        seen.append(0 if ctx.deferred is None else len(ctx.deferred))
        value = None if enc.encounter_id == "E-null" else enc.encounter_id
        await ctx.defer("INSERT INTO effects(encounter_id) VALUES ($1)", value)

    svc.on(EncounterCreated, handler, topic=topic)
    await svc.start_resources()
    try:
        assert svc.pool is not None
        ok = [_record(encounter(encounter_id=e), i, topic=topic) for i, e in enumerate("ABC")]
        await svc.process(topic, ok)
        assert seen == [0, 1, 2]  # nothing ran before the batch's end
        rows = await svc.pool.fetch("SELECT encounter_id FROM effects")
        assert [r[0] for r in rows] == ["A", "B", "C"]
        seen.clear()
        mixed = [
            _record(encounter(encounter_id=e), 10 + i, topic=topic)
            for i, e in enumerate(["D", "E-null", "F"])
        ]
        await svc.process(topic, mixed)
        assert seen == [0, 1, 2, 0, 0, 0]  # the fast pass, then one message at a time
        rows = await svc.pool.fetch("SELECT encounter_id FROM effects")
        assert [r[0] for r in rows] == ["A", "B", "C", "D", "F"]
        dead = await svc.pool.fetch('SELECT "offset", reason, error FROM dead_letters')
        assert [(d["offset"], d["reason"]) for d in dead] == [(11, "handler-error")]
        assert dead[0]["error"].startswith("NotNullViolationError [SQLSTATE 23502]")
        assert "table=effects column=encounter_id" in dead[0]["error"]
    finally:
        await _done(svc)


async def test_deferred_writes_go_together_by_text_and_keep_each_keys_order(
    live_stack: Settings,
) -> None:
    """Deferred writes with a key (the claim they touch) are sent grouped by text across
    interleaved keys, each key's writes in their order; a write without a key stays
    between what came before and after it, and a run of one text without keys is one
    executemany."""
    conn = await asyncpg.connect(live_stack.database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE log(seq bigserial, tag text, key text, val int NOT NULL)"
        )
        a = "INSERT INTO log(tag, key, val) VALUES ('A', $1, $2)"
        b = "INSERT INTO log(tag, key, val) VALUES ('B', $1, $2)"
        c = "INSERT INTO log(tag, key, val) VALUES ('C', NULL, $1)"
        writes = [
            (a, ("x", 1), "x"),
            (b, ("y", 2), "y"),
            (a, ("z", 3), "z"),
            (b, ("w", 4), "w"),
            (a, ("y", 5), "y"),  # y's second write: after its first
            (c, (6,), None),  # after everything before it, before everything after
            (b, ("x", 7), "x"),
            (c, (8,), None),
            (c, (9,), None),  # with 8: one executemany
        ]
        sent: list[str] = []
        conn.add_query_logger(lambda q: sent.append(q.query))
        deferred: Deferred = list(writes)
        await run_deferred(conn, deferred)
        assert deferred == []
        order = [r["val"] for r in await conn.fetch("SELECT val FROM log ORDER BY seq")]
        assert order == [1, 3, 2, 4, 5, 6, 7, 8, 9]
        # A x+z, B y+w, A y, C 6, B x, C 8+9: six round trips for nine writes
        assert [q for q in sent if q.startswith("INSERT")] == [a, b, a, c, b, c]
    finally:
        await conn.close()


async def test_a_timer_keeps_only_the_soonest_wake_it_asked_for(live_stack: Settings) -> None:
    """Service.wake: a wake asked for while a sooner one is coming adds no run, and a
    sooner one replaces a later one (the run it brings looks for the later work)."""
    svc = Service(
        "it", schema=f"it_{uuid.uuid4().hex[:8]}", migrations=MIGRATIONS, http_port=6199,
        s=live_stack,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    runs: list[float] = []
    first = asyncio.Event()

    async def look(s: Service) -> int:
        runs.append(loop.time())
        first.set()
        return 0

    svc.every(3600, look)
    await svc.start_resources()
    try:
        async with running_timers(svc):
            await asyncio.wait_for(first.wait(), 5)  # its first run, at start
            asked = loop.time()
            svc.wake(look, after=0.6)
            svc.wake(look, after=0.2)  # replaces the wake at 0.6
            svc.wake(look, after=0.4)  # a sooner one is coming: nothing
            await asyncio.sleep(1.0)
            assert len(runs) == 2
            assert 0.15 <= runs[1] - asked < 0.4
    finally:
        await _done(svc)


async def test_a_paced_timer_runs_once_a_period_however_much_it_finds(
    live_stack: Settings,
) -> None:
    """A paced timer (276s to a payer) that always finds work runs once a period, where an
    unpaced one would loop at once: a backlog goes out at a rate, never as a flood."""
    svc = Service(
        "it", schema=f"it_{uuid.uuid4().hex[:8]}", migrations=MIGRATIONS, http_port=6199,
        s=live_stack,
    )  # fmt: skip
    runs: dict[str, int] = {"paced": 0, "eager": 0}

    async def send(s: Service) -> int:
        runs["paced"] += 1
        return 20  # always more due

    async def drain(s: Service) -> int:
        runs["eager"] += 1
        return int(runs["eager"] < 50)

    svc.every(0.25, send, paced=True)
    svc.every(3600, drain)
    await svc.start_resources()
    try:
        async with running_timers(svc):
            await asyncio.sleep(0.6)
        # runs at 0, 0.25 and 0.5 at most; the unpaced timer ran to its end at once
        assert (runs["paced"] in (1, 2, 3), runs["eager"]) == (True, 50)
    finally:
        await _done(svc)


async def test_a_wait_for_a_commit_resolves_after_it_and_one_given_up_is_not_kept(
    live_stack: Settings,
) -> None:
    """Service.next_commit: done once this instance has committed a batch of the topic,
    not before; waiters that gave up are not kept, even on an instance that never
    commits a batch of the topic (it holds none of its partitions)."""
    topic = f"it.{uuid.uuid4().hex[:6]}"
    svc = await _service(live_stack, topic, [], fail_on=None)
    try:
        for _ in range(50):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(svc.next_commit("it.never"), 0.001)
        assert len(svc.scheduler._commit_waiters["it.never"]) <= 1
        waiting = svc.next_commit(topic)
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await svc.process(topic, [_record(encounter(encounter_id="E-c"), 0, topic=topic)])
        assert waiting.done()
        assert svc.pool is not None
        assert await svc.pool.fetchval("SELECT count(*) FROM effects") == 1
    finally:
        await _done(svc)


async def test_a_timer_woken_by_a_topic_runs_once_its_batch_has_committed(
    live_stack: Settings,
) -> None:
    """A timer registered with woken_by runs as soon as a batch of that topic commits
    (the eligibility checks a batch queued are asked at once), not a period later; a
    batch of another topic leaves it asleep."""
    woken, other = f"it.{uuid.uuid4().hex[:6]}", f"it.{uuid.uuid4().hex[:6]}"
    svc = Service(
        "it", schema=f"it_{uuid.uuid4().hex[:8]}", migrations=MIGRATIONS, http_port=6199,
        s=live_stack,
    )  # fmt: skip
    seen: list[int] = []  # rows the timer found at each run

    async def record(ctx: Context, enc: EncounterCreated) -> None:
        await ctx.conn.execute("INSERT INTO effects(encounter_id) VALUES ($1)", enc.encounter_id)

    async def look(s: Service) -> int:
        assert s.pool is not None
        seen.append(await s.pool.fetchval("SELECT count(*) FROM effects"))
        return 0

    svc.on(EncounterCreated, record, topic=woken)
    svc.on(EncounterCreated, record, topic=other)
    svc.every(3600, look, woken_by=[woken])
    await svc.start_resources()
    try:
        async with running_timers(svc):

            async def runs(n: int) -> None:
                for _ in range(100):
                    if len(seen) >= n:
                        return
                    await asyncio.sleep(0.02)

            await runs(1)  # its first run, at start
            assert seen == [0]
            await svc.process(other, [_record(encounter(encounter_id="E1"), 1, topic=other)])
            await asyncio.sleep(0.3)
            assert seen == [0]  # not woken by the other topic
            await svc.process(woken, [_record(encounter(encounter_id="E2"), 2, topic=woken)])
            await runs(2)
            assert seen == [0, 2]  # woken, and it saw the committed rows
    finally:
        await _done(svc)
