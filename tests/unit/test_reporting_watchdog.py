"""The reporting worker's watchdog: which partitions it reads again."""

from __future__ import annotations

import pytest

from runtime.lag import Lag
from services.reporting.watchdog import Watchdog

pytestmark = pytest.mark.unit

SOURCES = ("claim.submitted", "claim.acknowledged")


def row(topic: str, partition: int, committed: int, end: int) -> Lag:
    return Lag("rcm-reporting", topic, partition, committed, end, end - committed, 0.0)


def test_a_partition_behind_that_did_not_move_since_the_last_look_is_stalled() -> None:
    w = Watchdog()
    first = [row("claim.submitted", 0, 35, 104), row("claim.submitted", 1, 50, 105)]
    assert w.stalled(first, SOURCES) == []  # one look says nothing yet
    second = [row("claim.submitted", 0, 35, 104), row("claim.submitted", 1, 80, 105)]
    assert [(r.topic, r.partition, r.committed) for r in w.stalled(second, SOURCES)] == [
        ("claim.submitted", 0, 35)
    ]


def test_caught_up_partitions_and_other_topics_are_never_stalled() -> None:
    w = Watchdog()
    rows = [
        row("claim.submitted", 2, 104, 104),  # idle, nothing behind it
        row("rcm-reporting-kpi-day-changelog", 0, 3, 90),  # not a source
    ]
    w.stalled(rows, SOURCES)
    assert w.stalled(rows, SOURCES) == []


def test_after_a_rebalance_it_looks_afresh() -> None:
    w = Watchdog()
    rows = [row("claim.acknowledged", 4, 10, 20)]
    w.stalled(rows, SOURCES)
    w.forget()
    assert w.stalled(rows, SOURCES) == []
    assert len(w.stalled(rows, SOURCES)) == 1
