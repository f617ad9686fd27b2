"""No record is skipped between a seek and the next commit.

faust's consumer hands on records one fetched batch at a time, and remembers per partition
the offset it last handed on: a record behind that offset is dropped as read already, and
a record further ahead makes the offsets between a "gap" that its next commit passes as
if they had been handled. After a kill -9 and a restart that lost claims (CI counted 589
of 600, tests/integration/test_reporting.py), because:

- a batch fetched before or while a seek is under way (the recovery's seek to the
  committed offsets as the partitions resume, or the watchdog's) is still handed on
  after it: its records, from the old position, move the remembered offset past the
  records the seek is to read again, so those are dropped or committed as a gap;
- a record fetched for a partition that is paused before faust hands it on is dropped,
  while the fetch position has moved past it;
- aiokafka's seek to the committed offsets leaves a partition without one (or at 0)
  where the fetch ran ahead.

So, per batch: records of a partition sought while the batch was out are not handed on,
and the partition is sought again to where that seek said; records fetched but not handed
on are read again from the first of them; the recovery's seek sends a partition without
a committed offset to 0. Records read twice are counted once (handlers.KpiTables).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from faust.types import TP

log = logging.getLogger("rcm.reporting")


class Refetch:
    """Mixed into faust's Kafka consumer (commits.install), before it in the bases."""

    _seeks = 0  # seeks so far; each partition's last one is in _sought
    _fetched: dict[TP, tuple[int, int]]  # partition -> first and last offset of the batch

    def _sought_log(self) -> dict[TP, tuple[int, int]]:
        """partition -> (the number of its last seek, the offset it was sent to)."""
        if "_sought" not in self.__dict__:
            self._sought: dict[TP, tuple[int, int]] = {}
        return self._sought

    def _note_seek(self, tp: TP, offset: int) -> None:
        self._seeks += 1
        self._sought_log()[tp] = (self._seeks, offset)

    def _sources(self) -> set[TP]:
        """The assigned partitions of the agent's topics (faust's recovery reads and seeks
        the tables' changelog partitions itself)."""
        assigned = self.assignment()  # type: ignore[attr-defined]
        return {tp for tp in assigned if not self._is_changelog_tp(tp)}  # type: ignore[attr-defined]

    async def seek(self, partition: TP, offset: int) -> None:
        self._note_seek(partition, offset)
        await super().seek(partition, offset)  # type: ignore[misc]
        self._note_seek(partition, offset)  # a batch fetched while it was under way, too

    async def perform_seek(self) -> None:
        """faust's seek of every partition to its committed offset. aiokafka leaves a
        partition without one (or at 0) where it was, maybe past records fetched and
        dropped: it is sought to 0 here, from where the reset policy (earliest) reads."""
        assigned = self._sources()
        for tp in assigned:
            self._note_seek(tp, 0)  # a batch in flight is stale from here on
        await super().perform_seek()  # type: ignore[misc]
        read: Mapping[TP, int | None] = self._read_offset  # type: ignore[attr-defined]
        for tp in assigned:
            target = read.get(tp) or 0
            if not target:
                await self._seek(tp, 0)  # type: ignore[attr-defined]
            # A batch fetched while the seek was under way is stale too: handed on after
            # it, its records would move faust's read offset past those read again.
            self._note_seek(tp, target)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        records, active = await super()._wait_next_records(timeout)  # type: ignore[misc]
        self._fetched = {
            tp: (rs[0].offset, rs[-1].offset) for tp, rs in (records or {}).items() if rs
        }
        return records, active

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        batch_from = self._seeks  # a seek after this makes the batch stale for its partition
        self._fetched = {}
        handed: dict[TP, int] = {}
        async for tp, message in super().getmany(timeout):  # type: ignore[misc]
            if self._sought_log().get(tp, (-1, 0))[0] > batch_from:
                continue  # from before the seek: read again after it (_read_again)
            handed[tp] = message.offset
            yield tp, message
        if not getattr(self, "should_stop", False):  # stopping: the next start reads them
            await self._read_again(batch_from, dict(self._fetched), handed)

    async def _read_again(
        self, batch_from: int, fetched: Mapping[TP, tuple[int, int]], handed: Mapping[TP, int]
    ) -> None:
        assigned = self._sources()
        for tp, (first, last) in fetched.items():
            if tp not in assigned:
                continue  # a changelog, or revoked (its next owner reads from the commit)
            n, target = self._sought_log().get(tp, (-1, 0))
            if n > batch_from:
                start, why = target, "sought while its batch was out"
            elif handed.get(tp, first - 1) < last:
                start = first if tp not in handed else handed[tp] + 1
                why = "fetched records were not handed on"
            else:
                continue
            log.warning(
                "%s:%d: %s: reading it again from offset %d",
                tp.topic,
                tp.partition,
                why,
                start,
                extra={"topic": tp.topic, "partition": tp.partition},
            )
            await self.seek(tp, start)
