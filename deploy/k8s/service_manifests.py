"""The services: their shared configuration, the example Secrets, one Deployment,
Service and PodDisruptionBudget each, and the KEDA ScaledObjects that scale them on
consumer lag."""

from __future__ import annotations

from typing import Any

from deploy.k8s.cluster import (
    CLEARINGHOUSE_PLACEHOLDER,
    DB_POOL_MAX,
    IMAGE,
    KAFKA_BOOTSTRAP,
    KAFKA_CA_SECRET,
    KAFKA_REPLICAS,
    KEDA_USER,
    PG,
    PG_CA_SECRET,
    SCALING,
    ReportingInfo,
    Scaling,
    ServiceInfo,
    app_labels,
    k8s_name,
    meta,
)


def config_doc(reporting: ReportingInfo) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("rcm-config"),
        "data": {
            "RCM_EXTERNAL_STACK": "true",
            "RCM_HTTP_HOST": "0.0.0.0",  # noqa: S104 - probes and Prometheus reach the pod IP
            "RCM_KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP,
            "RCM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "RCM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "RCM_KAFKA_SSL_CAFILE": "/etc/rcm/kafka-ca/ca.crt",
            # For the topics a service makes itself (reporting's changelogs): as the others.
            "RCM_KAFKA_REPLICATION_FACTOR": str(KAFKA_REPLICAS),
            "RCM_DB_POOL_MAX": str(DB_POOL_MAX),
            "RCM_LOG_LEVEL": "INFO",
            "RCM_OTEL_EXPORTER": "none",
            # The production profile (runtime/settings.py refuses weak setups): ISA15 P,
            # a payer day a real day, the clearinghouse yours (the placeholder refuses to
            # start). The simulator only runs in the sandbox overlay (sandbox/).
            "RCM_ENV": "production",
            "RCM_CLEARINGHOUSE_URL": CLEARINGHOUSE_PLACEHOLDER,
            # The gateway's live KPIs (services/gateway/live_kpis.py).
            "RCM_GATEWAY_REPORTING_URL": reporting.url,
            # The claim page's re-scrub preview (services/coding/preview.py).
            "RCM_GATEWAY_CODING_URL": "http://rcm-coding:6102",
            "RCM_X12_USAGE": "P",
        },
    }


#: What the sandbox overlay changes in the ConfigMap: the simulator is the clearinghouse,
#: interchanges are test ones, time is compressed (a payer day is 4 s): not production.
SANDBOX_CONFIG = {
    "RCM_ENV": "dev",
    "RCM_CLEARINGHOUSE_URL": "http://rcm-simulator:6106",
    "RCM_X12_USAGE": "T",
}


def sandbox_config_patch() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "rcm-config"},
        "data": SANDBOX_CONFIG,
    }


def secret_docs() -> list[dict[str, Any]]:
    """Example Secrets: replace every CHANGE-ME (or create them with your secret manager)."""
    from runtime.pgroles import SCHEMAS, owner_role, runtime_role

    def dsn(role: str) -> str:
        return (
            f"postgresql://{role}:CHANGE-ME@{PG}-rw:5432/rcm"
            f"?sslmode=verify-full&sslrootcert=/etc/rcm/pg-ca/ca.crt"
        )

    # One per service: its runtime role, and the owner role its migrations run as
    # (docs/security.md); `rcm db roles` creates the roles with these passwords.
    per_service = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(f"rcm-db-{schema}"),
            "type": "Opaque",
            "stringData": {
                "RCM_DATABASE_URL": dsn(runtime_role(schema)),
                "RCM_DATABASE_MIGRATE_URL": dsn(owner_role(schema)),
            },
        }
        for schema in SCHEMAS
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("rcm-db-owner"),
            "type": "kubernetes.io/basic-auth",
            "stringData": {"username": "rcm", "password": "CHANGE-ME"},
        },
        *per_service,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("rcm-app"),
            "type": "Opaque",
            "stringData": {
                "RCM_OPS_TOKEN": "CHANGE-ME",
                "RCM_CLEARINGHOUSE_TOKEN": "CHANGE-ME",
                "RCM_STATEMENT_LINK_KEY": "CHANGE-ME",
                "RCM_AUDIT_KEY": "CHANGE-ME",
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(KEDA_USER),
            "type": "Opaque",
            "stringData": {"username": KEDA_USER, "password": "CHANGE-ME"},
        },
    ]


def service_docs(svc: ServiceInfo) -> list[dict[str, Any]]:
    """A service's Deployment, Service and PodDisruptionBudget."""
    name = f"rcm-{svc.name}"
    labels = app_labels(name)
    sc = SCALING.get(svc.name, Scaling())
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(name, **labels),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
        },
    }
    clearinghouse = {
        "name": "RCM_CLEARINGHOUSE_TOKEN",
        "valueFrom": _secret("rcm-app", "RCM_CLEARINGHOUSE_TOKEN"),
    }
    # statements signs the links in its emails (the gateway, which checks them, needs it too)
    link_key = {
        "name": "RCM_STATEMENT_LINK_KEY",
        "valueFrom": _secret("rcm-app", "RCM_STATEMENT_LINK_KEY"),
    }
    env = [clearinghouse, *([link_key] if svc.name == "statements" else [])]
    c = container(svc.name, svc.port, svc.group, sc, postgres=True, env=env)
    return [deployment(name, c, replicas=sc.min_replicas), ops_service(name, svc.port), pdb]


def ops_service(name: str, port: int) -> dict[str, Any]:
    """The ClusterIP Service in front of a Deployment's ops port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, **app_labels(name)),
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "ops", "port": port, "targetPort": "ops"}],
        },
    }


def _secret(secret_name: str, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": secret_name, "key": key}}


def container(
    name: str,
    port: int,
    kafka_user: str,
    sc: Scaling,
    *,
    postgres: bool,
    env: list[dict[str, Any]],
    startup_s: int = 180,
) -> dict[str, Any]:
    """A container running ``python -m services.<name>`` as Kafka user ``kafka_user``
    with the ops token; with ``postgres``, also the database URL and PostgreSQL's CA."""
    probe = {"httpGet": {"path": "/healthz", "port": "ops"}}
    database = [
        {"name": var, "valueFrom": _secret(f"rcm-db-{name}", var)}
        for var in ("RCM_DATABASE_URL", "RCM_DATABASE_MIGRATE_URL")
    ]
    pg_ca = {"name": "pg-ca", "mountPath": "/etc/rcm/pg-ca", "readOnly": True}
    return {
        "name": name,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", f"services.{name}"],
        "workingDir": "/var/lib/rcm",
        "ports": [{"name": "ops", "containerPort": port, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": "rcm-config"}}],
        "env": [
            {"name": "RCM_KAFKA_SASL_USERNAME", "value": kafka_user},
            {"name": "RCM_KAFKA_SASL_PASSWORD", "valueFrom": _secret(kafka_user, "password")},
            *(database if postgres else []),
            {"name": "RCM_OPS_TOKEN", "valueFrom": _secret("rcm-app", "RCM_OPS_TOKEN")},
            *env,
        ],
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": startup_s // 2},
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 2},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 6},
        "resources": {
            "requests": {"cpu": sc.cpu, "memory": sc.memory},
            "limits": {"memory": sc.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "kafka-ca", "mountPath": "/etc/rcm/kafka-ca", "readOnly": True},
            *([pg_ca] if postgres else []),
            {"name": "work", "mountPath": "/var/lib/rcm"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


VOLUMES: dict[str, dict[str, Any]] = {
    "kafka-ca": {"secret": {"secretName": KAFKA_CA_SECRET}},
    "pg-ca": {"secret": {"secretName": PG_CA_SECRET}},
    "work": {"emptyDir": {}},
    "tmp": {"emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
}

ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def deployment(
    name: str, container: dict[str, Any], *, replicas: int, strategy: dict[str, Any] = ROLLING
) -> dict[str, Any]:
    """A Deployment of ``container``, with the volumes its mounts name."""
    labels = app_labels(name)
    volumes = [{"name": m["name"], **VOLUMES[m["name"]]} for m in container["volumeMounts"]]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, **labels),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    # Room to finish the batch, commit offsets and leave the group cleanly.
                    "terminationGracePeriodSeconds": 60,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
                        }
                    ],
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def max_replicas(svc: ServiceInfo) -> int:
    """More consumers than partitions would sit idle: cap at the widest consumed topic."""
    from schemas.topics import TOPICS

    partitions = {t.name: t.partitions for t in TOPICS}
    return max(partitions.get(t, 1) for t in svc.consumes)


def keda_docs(services: list[ServiceInfo]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": meta("rcm-kafka-lag"),
            "spec": {
                "secretTargetRef": [
                    {"parameter": "username", "name": KEDA_USER, "key": "username"},
                    {"parameter": "password", "name": KEDA_USER, "key": "password"},
                    {"parameter": "ca", "name": KAFKA_CA_SECRET, "key": "ca.crt"},
                ]
            },
        }
    ]
    for svc in services:
        sc = SCALING.get(svc.name, Scaling())
        triggers = [
            {
                "type": "kafka",
                "name": f"lag-{k8s_name(topic).replace('.', '-')}",
                "authenticationRef": {"name": "rcm-kafka-lag"},
                "metadata": {
                    "bootstrapServers": KAFKA_BOOTSTRAP,
                    "consumerGroup": svc.group,
                    "topic": topic,
                    "lagThreshold": str(sc.lag_threshold),
                    "activationLagThreshold": "0",
                    "offsetResetPolicy": "earliest",
                    "allowIdleConsumers": "false",
                    "sasl": "scram_sha512",
                    "tls": "enable",
                },
            }
            for topic in svc.consumes
        ]
        docs.append(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "metadata": meta(f"rcm-{svc.name}", **app_labels(f"rcm-{svc.name}")),
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": f"rcm-{svc.name}",
                    },
                    "minReplicaCount": sc.min_replicas,
                    "maxReplicaCount": max_replicas(svc),
                    "pollingInterval": 15,
                    "cooldownPeriod": 300,
                    "fallback": {"failureThreshold": 4, "replicas": 2},
                    "advanced": {
                        "horizontalPodAutoscalerConfig": {
                            "behavior": {
                                # Each change is a consumer-group rebalance: add quickly,
                                # remove slowly, one at a time.
                                "scaleUp": {
                                    "stabilizationWindowSeconds": 30,
                                    "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}],
                                },
                                "scaleDown": {
                                    "stabilizationWindowSeconds": 300,
                                    "policies": [
                                        {"type": "Pods", "value": 1, "periodSeconds": 120}
                                    ],
                                },
                            }
                        }
                    },
                    "triggers": triggers,
                },
            }
        )
    return docs
