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


def reporting_acls(info: ReportingInfo) -> list[dict[str, Any]]:
    """schemas.acls.reporting_acls, as a KafkaUser lists them (the local stack's
    `--kafka-auth` grants the same)."""
    from schemas.acls import reporting_acls as acls

    return [
        {
            "resource": {"type": a.resource_type, "name": a.name, "patternType": a.pattern},
            "operations": list(a.operations),
        }
        for a in acls(info.app_id, info.sources)
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
