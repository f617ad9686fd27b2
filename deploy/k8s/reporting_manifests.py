"""Reporting (services/reporting), the faust worker: its KafkaUser, one Deployment of
exactly one pod and the Service the gateway reads it through. It is not a runtime
Service, so generate.py does not discover it like the others: no KEDA ScaledObject (its
web view serves only the table partitions its pod holds, so a second pod would halve
every answer), no PostgreSQL (its tables are in memory, their changelogs in Kafka)."""

from __future__ import annotations

from typing import Any

from deploy.k8s.cluster import (
    KAFKA,
    REPORTING_RESOURCES,
    REPORTING_STARTUP_S,
    ReportingInfo,
    meta,
)
from deploy.k8s.service_manifests import container, deployment, ops_service

# One pod at a time, also during a rollout: the old pod leaves the group before the new
# one joins, so no answer is ever made from half the partitions.
RECREATE = {"type": "Recreate"}


def _acl(kind: str, name: str, pattern: str, *operations: str) -> dict[str, Any]:
    return {
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": list(operations),
    }


def reporting_acls(info: ReportingInfo) -> list[dict[str, Any]]:
    """Least privilege for the faust worker (no Kafka transactions: services/reporting/
    commits.py commits offsets only after the changelogs hold their writes).

    - its consumer group (the app id): join, fetch and commit offsets;
    - its source topics: read;
    - topics named ``<app id>-...``: its tables' changelogs (``<app id>-<table>-changelog``)
      and faust's ``<app id>-__assignor-__leader``, which it creates (services/reporting/
      topics.py, then faust's own declare), writes and reads back to restore the tables;
    - the source topics' ``.dlq`` twins: dead letters.
    faust's producer is idempotent too: since Kafka 2.8 (KIP-679) Write on any topic
    grants that, so IdempotentWrite on the cluster is not needed.
    """
    prefix = f"{info.app_id}-"
    return [
        _acl("group", info.app_id, "literal", "Read", "Describe"),
        *(_acl("topic", t, "literal", "Read", "Describe") for t in info.sources),
        _acl("topic", prefix, "prefix", "Read", "Write", "Create", "Describe"),
        *(_acl("topic", f"{t}.dlq", "literal", "Write", "Describe") for t in info.sources),
    ]


def reporting_user(info: ReportingInfo) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": meta(info.user, **{"strimzi.io/cluster": KAFKA}),
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": reporting_acls(info)},
        },
    }


def reporting_docs(info: ReportingInfo) -> list[dict[str, Any]]:
    """Its Deployment (one replica, recreated on a rollout) and Service. No
    PodDisruptionBudget: on one pod it would either block node drains or allow nothing
    more than no budget does."""
    # The app id is pinned here because the KafkaUser's ACLs are made for it.
    env = [{"name": "RCM_REPORTING_APP_ID", "value": info.app_id}]
    c = container(
        info.name,
        info.port,
        info.user,
        REPORTING_RESOURCES,
        postgres=False,
        env=env,
        startup_s=REPORTING_STARTUP_S,
    )
    return [
        deployment(info.deployment, c, replicas=1, strategy=RECREATE),
        ops_service(info.deployment, info.port),
    ]
