"""Incremental fetch sessions against the real broker: every record arrives once and in
order while fetches name only what changed, a session the broker refuses starts again
with a full fetch, and partitions a rebalance takes away leave the session."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka.consumer.fetcher import Fetcher

from runtime.consumer import BatchConsumer
from runtime.fetch_sessions import FetchSession, SessionFetcher
from runtime.settings import Settings
from tests.integration.test_consumer import _produce, _stop, _topics, _until

pytestmark = pytest.mark.integration


def _sessions(c: BatchConsumer) -> list[FetchSession]:
    fetcher = c.consumer._fetcher if c.consumer else None
    assert isinstance(fetcher, SessionFetcher)
    return list(fetcher.sessions.values())


def _by_partition(seen: list[Any]) -> dict[tuple[str, int], list[str]]:
    out: dict[tuple[str, int], list[str]] = {}
    for r in seen:
        out.setdefault((r.topic, r.partition), []).append(r.value.decode())
    return out


def _expected(
    topics: list[str], partitions: int, rounds: int, per: int
) -> dict[tuple[str, int], list[str]]:
    return {
        (t, p): [f"{p}:{i}" for i in range(rounds * per)] for t in topics for p in range(partitions)
    }


async def _collecting(
    s: Settings, *, partitions: int, batch_max: int
) -> tuple[str, BatchConsumer, list[Any]]:
    """A new topic and a batch consumer of it that keeps every record it applies."""
    suffix = uuid.uuid4().hex[:6]
    topic = f"sessiontest.{suffix}"
    await _topics(s, topic, partitions=partitions)
    seen: list[Any] = []

    async def apply(batch: list[Any]) -> None:
        seen.extend(batch)

    c = BatchConsumer(
        s, group=f"rcm-sessiontest-{suffix}", topics=[topic], apply=apply, batch_max=batch_max
    )
    return topic, c, seen


async def test_records_arrive_once_each_while_fetches_are_incremental(live_stack: Settings) -> None:
    suffix = uuid.uuid4().hex[:6]
    topics = [f"sessiontest.{n}.{suffix}" for n in "abc"]
    await _topics(live_stack, *topics, partitions=4)
    seen: list[Any] = []

    async def apply(batch: list[Any]) -> None:
        seen.extend(batch)

    # Batches smaller than what a fetch brings: partitions wait with records buffered,
    # leave the session and come back into it at their new offsets.
    c = BatchConsumer(
        live_stack, group=f"rcm-sessiontest-{suffix}", topics=topics, apply=apply, batch_max=5
    )
    task = asyncio.ensure_future(c.run())
    try:
        await asyncio.wait_for(c.joined.wait(), 30)
        for r in range(4):  # four rounds of six records a partition, each read in full
            for t in topics:
                await _produce(live_stack, t, dict.fromkeys(range(4), 6), first=r * 6)
            await _until(lambda r=r: len(seen) == (r + 1) * 6 * 12)
        # Read before stopping: stopping cancels the fetch in flight, which restarts the
        # session (its epoch is unknown then).
        [session] = _sessions(c)
        full, incremental, restarts = session.full, session.incremental, session.restarts
    finally:
        await _stop(task)

    assert _by_partition(seen) == _expected(topics, 4, rounds=4, per=6)
    assert session.id != 0
    # One full fetch opened the session and every later one was incremental. Each round is
    # produced only after the one before was read in full, so rounds 1-3 came in at least
    # three later fetches.
    assert (full, restarts) == (1, 0)
    assert incremental >= 3


@pytest.mark.parametrize("broken", ["epoch", "id"])
async def test_a_session_the_broker_refuses_starts_again_and_loses_nothing(
    live_stack: Settings, broken: str
) -> None:
    """The broker restarts or evicts sessions (its cache is bounded): it answers
    INVALID_FETCH_SESSION_EPOCH or FETCH_SESSION_ID_NOT_FOUND, and the consumer opens a
    new session with a full fetch instead of stalling or skipping records."""
    topic, c, seen = await _collecting(live_stack, partitions=3, batch_max=50)
    task = asyncio.ensure_future(c.run())
    try:
        await _produce(live_stack, topic, dict.fromkeys(range(3), 5))
        await _until(lambda: len(seen) == 15)
        [session] = _sessions(c)
        assert session.restarts == 0
        assert session.id != 0

        # Break the session as a fetch's answer is taken in, so the very next request
        # carries the broken value (breaking it at any other moment races the fetch in
        # flight, whose answer sets the session right again).
        answered = session.answered

        def answered_then_break(request: Any, response: Any) -> None:
            answered(request, response)
            if session.restarts == 0:
                if broken == "epoch":
                    session.epoch += 1000
                else:
                    session.id = 0x7EADBEEF if session.id != 0x7EADBEEF else 0x6EADBEEF

        session.answered = answered_then_break  # type: ignore[method-assign]
        await _until(lambda: session.restarts > 0)
        await _produce(live_stack, topic, dict.fromkeys(range(3), 5), first=5)
        await _until(lambda: len(seen) == 30)
        await asyncio.sleep(0.5)  # anything read twice would arrive now
    finally:
        await _stop(task)

    assert _by_partition(seen) == _expected([topic], 3, rounds=2, per=5)
    assert session.restarts >= 1
    assert session.full >= 2
    assert session.id != 0


async def test_partitions_a_rebalance_takes_away_leave_the_session(live_stack: Settings) -> None:
    suffix = uuid.uuid4().hex[:6]
    topic, group = f"sessiontest.{suffix}", f"rcm-sessiontest-{suffix}"
    await _topics(live_stack, topic, partitions=4)
    seen: list[list[Any]] = [[], []]

    def member(i: int) -> BatchConsumer:
        async def apply(batch: list[Any]) -> None:
            seen[i].extend(batch)

        return BatchConsumer(live_stack, group=group, topics=[topic], apply=apply, batch_max=50)

    first, second = member(0), member(1)
    tasks = [asyncio.ensure_future(first.run())]
    try:
        await _produce(live_stack, topic, dict.fromkeys(range(4), 4))
        await _until(lambda: len(seen[0]) == 16)
        tasks.append(asyncio.ensure_future(second.run()))

        def split() -> bool:
            held = [m.consumer.assignment() if m.consumer else set() for m in (first, second)]
            return all(held) and sum(map(len, held)) == 4

        await _until(split)
        await _produce(live_stack, topic, dict.fromkeys(range(4), 4), first=4)
        await _until(lambda: len(seen[0]) + len(seen[1]) >= 32)
        await asyncio.sleep(0.5)
        for m in (first, second):
            owned = m.consumer.assignment()  # type: ignore[union-attr]
            # Idle, every partition it owns is in its session, and no other.
            assert [set(session.held) for session in _sessions(m)] == [owned]
    finally:
        for t in tasks:
            await _stop(t)

    # Offsets are committed once a second: a record applied by the first member just
    # before the rebalance may be read again by the second (effects are deduplicated by
    # event id). No record is lost, and each partition's records are in order.
    got = _by_partition(seen[0] + seen[1])
    for p in range(4):
        values = got[(topic, p)]
        assert sorted(set(values), key=lambda v: int(v.split(":")[1])) == [
            f"{p}:{i}" for i in range(8)
        ]
    for m_seen in seen:
        for values in _by_partition(m_seen).values():
            numbers = [int(v.split(":")[1]) for v in values]
            assert numbers == sorted(numbers)


async def test_sessions_can_be_turned_off(live_stack: Settings) -> None:
    off = live_stack.model_copy(update={"kafka_fetch_sessions": False})
    topic, c, seen = await _collecting(off, partitions=1, batch_max=5)
    task = asyncio.ensure_future(c.run())
    try:
        await _produce(live_stack, topic, {0: 3})
        await _until(lambda: len(seen) == 3)
        fetcher = c.consumer._fetcher  # type: ignore[union-attr]
    finally:
        await _stop(task)
    assert type(fetcher) is Fetcher
