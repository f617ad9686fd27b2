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

from collections.abc import Iterable

from runtime.lag import Lag


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
