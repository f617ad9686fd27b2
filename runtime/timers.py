"""Timers (periodic work every instance runs) and what wakes them early: a committed
batch of a topic they wait on, a retry coming due, code waiting for the next commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from runtime.db import is_transient

if TYPE_CHECKING:
    from runtime.service import Service

log = logging.getLogger("rcm.runtime")

TimerFn = Callable[["Service"], Awaitable[int]]


class Timers:
    """A service's timers and wakes (see Service.every, Service.wake)."""

    def __init__(self) -> None:
        self._timers: list[tuple[float, TimerFn, asyncio.Event, bool]] = []
        # topic -> the timers an applied batch of it wakes (Service.every, woken_by)
        self._wakes: dict[str, list[asyncio.Event]] = {}
        self._wake_of: dict[TimerFn, asyncio.Event] = {}
        # futures of code waiting for this instance's next committed batch of a topic
        self._commit_waiters: dict[str, list[asyncio.Future[None]]] = {}
        # the wake each timer has coming (Service.wake), until it rings
        self._wake_due: dict[TimerFn, asyncio.TimerHandle] = {}
        # time.monotonic() when this instance last committed a consumed batch (idle_for)
        self.last_batch_at: float | None = None

    def every(
        self, seconds: float, fn: TimerFn, *, woken_by: Sequence[str] = (), paced: bool = False
    ) -> None:
        wake = asyncio.Event()
        self._timers.append((seconds, fn, wake, paced))
        self._wake_of[fn] = wake
        for topic in woken_by:
            self._wakes.setdefault(topic, []).append(wake)

    def schedule(self) -> list[tuple[float, TimerFn]]:
        """What runs how often (seconds, timer), in the order registered."""
        return [(seconds, fn) for seconds, fn, _wake, _paced in self._timers]

    def wake(self, fn: TimerFn, *, after: float = 0.0) -> None:
        wake = self._wake_of.get(fn)
        if wake is None:
            return
        loop = asyncio.get_running_loop()
        at = loop.time() + max(0.0, after)
        coming = self._wake_due.get(fn)
        if coming is not None:
            if coming.when() <= at:
                return
            coming.cancel()

        def ring() -> None:
            del self._wake_due[fn]
            wake.set()

        self._wake_due[fn] = loop.call_at(at, ring)

    async def wake_when_due(
        self, fn: TimerFn, conn: asyncpg.Connection, due_in_sql: str, *args: Any
    ) -> None:
        due_in = await conn.fetchval(due_in_sql, *args)
        if due_in is not None:
            self.wake(fn, after=float(due_in))

    def next_commit(self, topic: str) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # waiters that gave up are dropped here too: an instance that holds none of the
        # topic's partitions never commits a batch of it
        waiting = [w for w in self._commit_waiters.get(topic, ()) if not w.done()]
        self._commit_waiters[topic] = [*waiting, waiter]
        return waiter

    def idle_for(self, now: float | None = None) -> float:
        """Seconds since this instance last committed a consumed batch (``now``: a
        ``time.monotonic()`` reading; infinite before its first batch)."""
        if self.last_batch_at is None:
            return math.inf
        return (time.monotonic() if now is None else now) - self.last_batch_at

    def committed(self, topic: str) -> None:
        """A batch of ``topic`` committed: wakes the timers it writes for and the code
        waiting for it."""
        self.last_batch_at = time.monotonic()
        for wake in self._wakes.get(topic, ()):
            wake.set()
        for waiter in self._commit_waiters.pop(topic, ()):
            if not waiter.done():
                waiter.set_result(None)

    def loops(self, owner: Service) -> list[Coroutine[Any, Any, None]]:
        """The loops of the timers, to run as tasks."""
        return [_run(owner, seconds, fn, wake, paced) for seconds, fn, wake, paced in self._timers]


async def _run(
    owner: Service, seconds: float, fn: TimerFn, wake: asyncio.Event, paced: bool
) -> None:
    await owner.ready.wait()
    while True:
        wake.clear()  # a batch committed from here on wakes the next run
        try:
            did = await fn(owner)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_transient(exc):
                log.warning("timer paused, infrastructure unavailable: %s", type(exc).__name__)
            else:
                log.exception("timer %s failed", getattr(fn, "__name__", fn))
            did = 0
            await asyncio.sleep(1.0)
        if did:
            owner.outbox.wake.set()
            if paced:  # one run a period however much waits: a rate, not a backlog race
                await asyncio.sleep(seconds)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), seconds)
