"""Kafka on Strimzi: the node pools, the cluster, one KafkaUser a service with ACLs
for what it consumes and produces (and KEDA's, which only describes), and every topic with its
dead-letter twin."""

from __future__ import annotations

from typing import Any

from deploy.k8s.cluster import (
    DLQ_RETENTION_MS,
    KAFKA,
    KAFKA_REPLICAS,
    KAFKA_VERSION,
    KEDA_USER,
    TOPIC_RETENTION_MS,
    ServiceInfo,
    k8s_name,
    meta,
)


def kafka_docs(services: list[ServiceInfo]) -> list[dict[str, Any]]:
    return [*_node_pools(), _cluster(), *(service_user(svc) for svc in services), _keda_user()]


def _node_pools() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for role, size in (("controller", "20Gi"), ("broker", "200Gi")):
        docs.append(
            {
                "apiVersion": "kafka.strimzi.io/v1",
                "kind": "KafkaNodePool",
                "metadata": meta(f"{role}s", **{"strimzi.io/cluster": KAFKA}),
                "spec": {
                    "replicas": KAFKA_REPLICAS,
                    "roles": [role],
                    "storage": {
                        "type": "jbod",
                        "volumes": [
                            {
                                "id": 0,
                                "type": "persistent-claim",
                                "size": size,
                                "kraftMetadata": "shared",
                                "deleteClaim": False,
                            }
                        ],
                    },
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "2Gi"},
                        "limits": {"memory": "2Gi" if role == "controller" else "4Gi"},
                    },
                },
            }
        )
    return docs


def _cluster() -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "Kafka",
        "metadata": meta(KAFKA),
        "spec": {
            "kafka": {
                "version": KAFKA_VERSION,
                "listeners": [
                    {
                        "name": "tls",
                        "port": 9093,
                        "type": "internal",
                        "tls": True,
                        "authentication": {"type": "scram-sha-512"},
                    }
                ],
                "authorization": {"type": "simple"},
                "config": {
                    "auto.create.topics.enable": False,
                    "default.replication.factor": 3,
                    "min.insync.replicas": 2,
                    "offsets.topic.replication.factor": 3,
                    "transaction.state.log.replication.factor": 3,
                    "transaction.state.log.min.isr": 2,
                    "message.max.bytes": 2097152,
                },
            },
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }


def service_user(svc: ServiceInfo) -> dict[str, Any]:
    """A service reads its own group and the topics it consumes, writes the topics
    schemas.topics.PRODUCERS gives it and the dead-letter twins of what it consumes
    (schemas/acls.py)."""
    from schemas.acls import service_acls

    acls = [
        {
            "resource": {"type": a.resource_type, "name": a.name, "patternType": a.pattern},
            "operations": list(a.operations),
        }
        for a in service_acls(svc.name, svc.consumes)
    ]
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": meta(svc.group, **{"strimzi.io/cluster": KAFKA}),
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": acls},
        },
    }


def _keda_user() -> dict[str, Any]:
    """KEDA reads consumer lag: it describes every rcm- group and every topic."""
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": meta(KEDA_USER, **{"strimzi.io/cluster": KAFKA}),
        "spec": {
            "authentication": {
                "type": "scram-sha-512",
                "password": {"valueFrom": {"secretKeyRef": {"name": KEDA_USER, "key": "password"}}},
            },
            "authorization": {
                "type": "simple",
                "acls": [
                    {
                        "resource": {"type": "group", "name": "rcm-", "patternType": "prefix"},
                        "operations": ["Describe"],
                    },
                    {
                        "resource": {"type": "topic", "name": "*", "patternType": "literal"},
                        "operations": ["Describe"],
                    },
                ],
            },
        },
    }


def topic_docs(services: list[ServiceInfo]) -> list[dict[str, Any]]:
    from schemas.topics import TOPICS

    def topic(name: str, partitions: int, config: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": meta(k8s_name(name), **{"strimzi.io/cluster": KAFKA}),
            "spec": {
                "topicName": name,
                "partitions": partitions,
                "replicas": KAFKA_REPLICAS,
                "config": config,
            },
        }

    base = {"min.insync.replicas": 2, "cleanup.policy": "delete"}
    docs = []
    for t in TOPICS:
        docs.append(topic(t.name, t.partitions, {**base, "retention.ms": TOPIC_RETENTION_MS}))
        docs.append(topic(t.dlq, 1, {**base, "retention.ms": DLQ_RETENTION_MS}))
    return docs
