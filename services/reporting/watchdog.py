"""Notices a partition the worker stopped reading, and reads it again.

faust drops records fetched for a partition it does not count as active at that moment
(after a restart's recovery, for instance) while the fetch position moves on: that
partition then waits forever with records behind it. Seen after a kill -9 and restart
(tests/integration/test_reporting.py). Every ``stall_check_s`` the worker asks Kafka for
its group's committed offsets and the topics' ends; a source partition that is behind
and whose committed offset has not moved since the last look is sought back to its
committed offset. Records read again are counted once (handlers.KpiTables).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import faust
from faust.types import TP

from runtime import lag
from runtime.lag import Lag
from runtime.settings import Settings

log = logging.getLogger("rcm.reporting")


class Watchdog:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, int], int] = {}

    def stalled(self, rows: Iterable[Lag], sources: Iterable[str]) -> list[Lag]:
        """The source partitions behind their end whose committed offset is where it was
        at the last look (the first look finds none)."""
        wanted = set(sources)
        now: dict[tuple[str, int], int] = {}
        out = []
        for r in rows:
            if r.topic not in wanted:
                continue
            key = (r.topic, r.partition)
            now[key] = r.committed
            if r.lag > 0 and self.seen.get(key) == r.committed:
                out.append(r)
        self.seen = now
        return out

    def forget(self) -> None:
        """A rebalance or a recovery: start looking afresh."""
        self.seen = {}


def install(
    app: faust.App, s: Settings, group: str, sources: Iterable[str], every_s: float
) -> None:
    """A timer on ``app`` that seeks a stalled source partition back to its committed
    offset (``group``: the app's consumer group)."""
    watchdog = Watchdog()
    sources = list(sources)

    @app.timer(interval=every_s)  # type: ignore[untyped-decorator]
    async def unstall() -> None:
        if app.rebalancing or not recovered(app):
            watchdog.forget()
            return
        rows = await lag.collect(s, groups=[group], seconds=False)  # offsets are enough
        assigned = app.consumer.assignment()
        for r in watchdog.stalled(rows, sources):
            tp = TP(r.topic, r.partition)
            if tp in assigned:
                log.warning(
                    "%s:%d has not moved from offset %d with %d records behind it:"
                    " reading it again from there",
                    r.topic,
                    r.partition,
                    r.committed,
                    r.lag,
                    extra={"topic": r.topic, "partition": r.partition},
                )
                await app.consumer.seek(tp, r.committed)


def recovered(app: Any) -> bool:
    """Has the worker restored its tables from their changelogs?"""
    return bool(app.tables.recovery.completed.is_set())
