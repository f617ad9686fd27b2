"""Topics, their partition counts and dead-letter twins.

Partition counts bound how many instances of a consumer group can share a
topic's work; every per-claim topic is keyed by claim id so one claim's
events stay in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.registry import ALL_EVENTS


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    partitions: int
    key: str
    doc: str

    @property
    def dlq(self) -> str:
        return dlq_name(self.name)


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


PARTITIONS = 6

TOPICS: tuple[Topic, ...] = tuple(
    Topic(e.TOPIC, PARTITIONS, e.KEY_FIELD, (e.__doc__ or e.TYPE).strip()) for e in ALL_EVENTS
)

ALL_TOPIC_NAMES: tuple[str, ...] = tuple(name for t in TOPICS for name in (t.name, t.dlq))
