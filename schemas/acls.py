"""Kafka ACLs per service, derived from ``schemas.topics`` (who produces each topic) and
the topics a service consumes (its handlers): write only what it produces and the
dead-letter twins of what it consumes, read only what it consumes, with its own consumer
group. The services use idempotent producers, not transactions: no transactional id is
granted (Kafka 3+ lets a principal with Write on a topic produce idempotently).

Reporting, the faust worker, has ACLs of its own shape (:func:`reporting_acls`).

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


def reporting_acls(app_id: str, sources: Iterable[str]) -> list[Acl]:
    """Least privilege for the faust worker (services/reporting), whose user is its app id
    (no Kafka transactions: services/reporting/commits.py commits offsets only after the
    changelogs hold their writes).

    - its consumer group (the app id): join, fetch and commit offsets;
    - its source topics: read;
    - topics named ``<app id>-...``: its tables' changelogs (``<app id>-<table>-changelog``)
      and faust's ``<app id>-__assignor-__leader``, which it creates (services/reporting/
      topics.py, then faust's own declare), writes and reads back to restore the tables;
    - the source topics' ``.dlq`` twins: dead letters.
    faust's producer is idempotent too: since Kafka 2.8 (KIP-679) Write on any topic
    grants that, so IdempotentWrite on the cluster is not needed.
    """
    return [
        Acl("group", app_id, ("Read", "Describe")),
        *(Acl("topic", t, ("Read", "Describe")) for t in sources),
        Acl("topic", f"{app_id}-", ("Read", "Write", "Create", "Describe"), "prefix"),
        *(Acl("topic", dlq_name(t), ("Write", "Describe")) for t in sources),
    ]
