"""The reporting worker's consumer reads again what faust fetched and did not hand on,
so every record from the committed offset on reaches the agent (services/reporting/
refetch.py). faust's side is played by Partition below, with faust's own rules: a batch
is handed on record by record while its partition is active, a record behind the
offset last handed on is dropped as read already, and a seek moves the fetch position
and that offset."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types import TP

from services.reporting.refetch import Refetch

pytestmark = pytest.mark.unit

P = TP("claim.submitted", 0)
END = 10  # the partition holds offsets 0-9


@dataclass
class Record:
    offset: int


@dataclass
class Partition:
    """faust's consumer over one partition, as far as Refetch meets it."""

    position: int
    committed: int | None
    batch: int = 4
    active: bool = True
    _read_offset: dict[TP, int | None] = field(default_factory=dict)
    #: run once after the next fetch, as another task would while the batch is out
    after_fetch: Callable[[], Awaitable[None]] | None = None

    def assignment(self) -> set[TP]:
        return {P}

    def _is_changelog_tp(self, tp: TP) -> bool:
        return False

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        records = [Record(o) for o in range(self.position, min(END, self.position + self.batch))]
        self.position += len(records)
        if self.after_fetch is not None:
            run, self.after_fetch = self.after_fetch, None
            await run()
        return ({P: records} if records else {}), {P}

    async def getmany(self, timeout: float) -> Any:
        records, _ = await self._wait_next_records(timeout)
        for tp, batch in records.items():
            for r in batch:
                if self.active:  # faust drops a paused partition's records here
                    yield tp, r

    async def _seek(self, partition: TP, offset: int) -> None:
        self.position = offset

    async def seek(self, partition: TP, offset: int) -> None:
        await self._seek(partition, offset)
        self._read_offset[partition] = offset or None

    async def perform_seek(self) -> None:
        """As aiokafka's seek to the committed offsets: a partition without one (None)
        or at 0 is left where it is."""
        if self.committed:
            await self._seek(P, self.committed)
        self._read_offset[P] = self.committed or None


class Consumer(Refetch, Partition):
    pass


async def counted(
    c: Partition, on_record: Callable[[int], Awaitable[None]] | None = None
) -> list[int]:
    """The offsets faust's fetch loop hands to the agent until the partition is read."""
    out: list[int] = []
    for _ in range(20):
        async for tp, m in c.getmany(timeout=0):
            read = c._read_offset.get(tp)
            if read is None or m.offset >= read:  # faust: behind it is read already
                out.append(m.offset)
                if on_record is not None:
                    await on_record(m.offset)
                c._read_offset[tp] = m.offset
    return out


async def test_a_batch_fetched_before_the_seek_to_the_committed_offsets_hides_nothing() -> None:
    # After a restart the fetch ran ahead (from 6) before recovery sought back to 3.
    c = Consumer(position=6, committed=3)
    c.after_fetch = c.perform_seek
    assert sorted(set(await counted(c))) == list(range(3, END))


async def test_a_partition_without_a_committed_offset_is_read_from_its_start_after_a_restart() -> (
    None
):
    # The killed worker had committed nothing there; the fetch ran ahead (to 6) and the
    # records it fetched were dropped before the recovery sought the partitions back.
    c = Consumer(position=6, committed=None)
    await c.perform_seek()
    assert sorted(set(await counted(c))) == list(range(END))


def paused_after_the_first_record(c: Partition) -> Callable[[int], Awaitable[None]]:
    """Pauses the partition once record 0 is handed on, and resumes it at the next fetch."""

    async def resume() -> None:
        c.active = True

    async def on_record(offset: int) -> None:
        if offset == 0:
            c.active = False
            c.after_fetch = resume

    return on_record


async def test_records_fetched_for_a_partition_paused_before_they_were_handed_on_are_read_again() -> (
    None
):
    c = Consumer(position=0, committed=0)
    assert sorted(set(await counted(c, paused_after_the_first_record(c)))) == list(range(END))
