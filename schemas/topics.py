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

#: Which service writes each topic: the source of its Kafka ACLs (schemas/acls.py) and
#: checked at every emit (runtime.context), so the two cannot drift. A service also writes
#: the dead-letter twin of every topic it consumes; what it consumes comes from its
#: handlers (``Service.handlers``).
PRODUCERS: dict[str, tuple[str, ...]] = {
    "encounter.created": ("gateway",),
    "coverage.reported": ("gateway",),
    "patient.payment.received": ("gateway",),
    "claim.fixed": ("gateway",),
    "claim.void_requested": ("gateway",),
    "claim.held": ("eligibility", "coding", "gateway"),
    "eligibility.checked": ("eligibility",),
    "claim.coded": ("coding",),
    "claim.submitted": ("claims",),
    "claim.acknowledged": ("claims",),  # claims reads the 999/277CA files
    "remit.received": ("connector",),  # the connector's from a mailbox or import
    "x12.file-received": ("connector",),
    "x12.interchange-ready": ("claims",),
    "x12.file-sent": ("connector",),
    "x12.file-send-failed": ("connector",),
    "x12.file-uploaded": ("gateway",),
    "ledger.command": ("gateway",),
    "eligibility.benefit-check": ("gateway",),  # the front desk's questions
    "claim.appeal_requested": ("gateway",),
    "claim.appeal_sent": ("claims",),
    "claim.adjudicated": ("remittance",),
    "statement.issued": ("statements",),
    "claim.balance_zero": ("statements",),
}


class NotAProducer(RuntimeError):
    """An emit of a topic PRODUCERS does not give the service: a defect in the code, not
    the infrastructure (never retried as a pause: the message goes to its dead letters
    with this reason)."""


PRODUCING_SERVICES = frozenset(s for who in PRODUCERS.values() for s in who)


def produced_by(service: str) -> frozenset[str]:
    """The topics ``service`` may write (not counting dead-letter twins)."""
    return frozenset(t for t, who in PRODUCERS.items() if service in who)
