"""Kafka ACLs per service, derived from ``schemas.topics`` (who produces each topic) and
the topics a service consumes (its handlers): write only what it produces and the
dead-letter twins of what it consumes, read only what it consumes, with its own consumer
group. The services use idempotent producers, not transactions: no transactional id is
granted (Kafka 3+ lets a principal with Write on a topic produce idempotently).

Used by deploy/k8s (Strimzi KafkaUser resources) and by the local stack with
``rcm stack up --kafka-auth`` (rcm/stack_kafka_auth.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.topics import dlq_name, produced_by


@dataclass(frozen=True, slots=True)
class Acl:
    """Allow ``operations`` on one resource (Kafka's names: ``topic``/``group``,
    ``literal``/``prefix``, ``Read``/``Write``/``Describe``)."""

    resource_type: str
    name: str
    operations: tuple[str, ...]
    pattern: str = "literal"


def principal(service: str) -> str:
    """The Kafka user a service signs in as (its consumer group's name)."""
    return f"rcm-{service}"


def service_acls(service: str, consumes: Iterable[str]) -> list[Acl]:
    consumed = sorted(set(consumes))
    writes = sorted(produced_by(service) | {dlq_name(t) for t in consumed})
    acls = [Acl("group", principal(service), ("Read", "Describe"))]
    acls += [Acl("topic", t, ("Read", "Describe")) for t in consumed]
    acls += [Acl("topic", t, ("Write", "Describe")) for t in writes]
    return acls
