"""The gateway: the HTTP door (EHR intake, the API under /v1) and the billing office
(/login, /app/). A Deployment of two pods, its Service, an Ingress that ends TLS, a
PodDisruptionBudget, its KafkaUser and the volume its signed audit checkpoints go to."""

from __future__ import annotations

from typing import Any

from deploy.k8s.cluster import (
    GATEWAY_AUDIT_VOLUME,
    GATEWAY_HOST,
    GATEWAY_PROXIES,
    GATEWAY_REPLICAS,
    GATEWAY_RESOURCES,
    GATEWAY_TLS_SECRET,
    ServiceInfo,
    app_labels,
    meta,
)
from deploy.k8s.kafka_manifests import service_user
from deploy.k8s.service_manifests import _secret, container, deployment, ops_service

NAME = "rcm-gateway"
AUDIT_DIR = "/var/lib/rcm-audit"


def gateway_info() -> ServiceInfo:
    from services.gateway.config import PORT

    return ServiceInfo("gateway", PORT, ())


def gateway_user(gw: ServiceInfo) -> dict[str, Any]:
    """Writes the events it takes in (any topic, as the services); reads no topic. The
    ops routes describe the services' consumer groups (lag)."""
    user = service_user(gw)
    user["spec"]["authorization"]["acls"].append(
        {
            "resource": {"type": "group", "name": "rcm-", "patternType": "prefix"},
            "operations": ["Describe"],
        }
    )
    return user


def gateway_docs(gw: ServiceInfo) -> list[dict[str, Any]]:
    env = [
        {"name": "RCM_AUDIT_KEY", "valueFrom": _secret("rcm-app", "RCM_AUDIT_KEY")},
        {"name": "RCM_AUDIT_CHECKPOINT_DIR", "value": AUDIT_DIR},
        {
            "name": "RCM_STATEMENT_LINK_KEY",
            "valueFrom": _secret("rcm-app", "RCM_STATEMENT_LINK_KEY"),
        },
        # Only the ingress controller's X-Forwarded-Proto decides the Secure cookie.
        {"name": "RCM_GATEWAY_TRUSTED_PROXIES", "value": GATEWAY_PROXIES},
    ]
    c = container("gateway", gw.port, gw.group, GATEWAY_RESOURCES, postgres=True, env=env)
    dep = deployment(NAME, c, replicas=GATEWAY_REPLICAS)
    c["volumeMounts"].append({"name": "audit", "mountPath": AUDIT_DIR})  # the PVC below
    dep["spec"]["template"]["spec"]["volumes"].append(
        {"name": "audit", "persistentVolumeClaim": {"claimName": GATEWAY_AUDIT_VOLUME}}
    )
    labels = app_labels(NAME)
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(GATEWAY_AUDIT_VOLUME, **labels),
        "spec": {
            "accessModes": ["ReadWriteMany"],  # every gateway pod anchors the one chain
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(NAME, **labels),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}}},
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            **meta(NAME, **labels),
            "annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "true"},
        },
        "spec": {
            "tls": [{"hosts": [GATEWAY_HOST], "secretName": GATEWAY_TLS_SECRET}],
            "rules": [
                {
                    "host": GATEWAY_HOST,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": NAME, "port": {"name": "ops"}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    return [gateway_user(gw), pvc, dep, ops_service(NAME, gw.port), pdb, ingress]
