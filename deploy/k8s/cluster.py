"""The cluster the manifests describe: names, sizes and thresholds, and what each
service needs (docs/scaling.md). Change them here, not in the YAML; then run
``.venv/bin/python deploy/k8s/generate.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

NAMESPACE = "rcm"
IMAGE = "rcm-pipeline:0.1.0"  # override with kustomize `images:` (see kustomization.yaml)
KAFKA = "rcm-kafka"
KAFKA_VERSION = "4.3.1"
KAFKA_BOOTSTRAP = f"{KAFKA}-kafka-bootstrap:9093"  # the TLS + SCRAM listener
KAFKA_CA_SECRET = f"{KAFKA}-cluster-ca-cert"  # made by Strimzi, key ca.crt
KAFKA_REPLICAS = 3
PG = "rcm-pg"
PG_CA_SECRET = f"{PG}-ca"  # made by CloudNativePG, key ca.crt
PG_INSTANCES = 3
PG_MAX_CONNECTIONS = 400
DB_POOL_MAX = 8  # per instance; see docs/scaling.md for the connection budget
KEDA_USER = "rcm-keda"
TOPIC_RETENTION_MS = 14 * 24 * 3600 * 1000
DLQ_RETENTION_MS = 90 * 24 * 3600 * 1000

SERVICES = (
    "eligibility",
    "coding",
    "claims",
    "remittance",
    "statements",
    "connector",
    "simulator",
)
#: Never in the production profile: only in the sandbox overlay (deploy/k8s/sandbox/).
SANDBOX_ONLY = ("simulator",)
#: The base ConfigMap's clearinghouse endpoint: a placeholder production refuses to start
#: with (runtime/settings.py); set yours with a kustomize patch (README).
CLEARINGHOUSE_PLACEHOLDER = "https://core.clearinghouse.invalid/"

# The sandbox's clearinghouse mailbox (deploy/k8s/sandbox_manifests.py, deploy/sftp):
# Debian's OpenSSH as a second container of the simulator's pod, sharing the mailbox
# volume with it. sshd listens on SFTP_PORT in the pod (no NET_BIND_SERVICE); its
# Service, SFTP_SERVICE, on 22 as a clearinghouse's does.
SFTP_IMAGE = "rcm-sftp:0.1.0"  # deploy/sftp/Dockerfile; override with kustomize `images:`
SFTP_SERVICE = "rcm-sftp"
SFTP_PORT = 2222
SFTP_USER = "rcm"  # uid 10001, the simulator's: both write the mailbox's folders
SFTP_ROOT = "/srv/sftp"  # the mailbox volume
SFTP_CHROOT = f"{SFTP_ROOT}/chroot"  # what the account sees; RCM_SIMULATOR_MAILBOX_DIR
SFTP_KEYS = "/run/sftp"  # the host key and authorized_keys, copied from their Secret
SFTP_MAILBOX_SIZE = "2Gi"

# The gateway (deploy/k8s/gateway_manifests.py): its public name (set yours with a
# kustomize patch), the TLS certificate's Secret (cert-manager or your own), the ingress
# controller's pod network (only its forwarded headers are believed), and the volume of
# its signed audit checkpoints (ReadWriteMany: every pod anchors the one chain).
GATEWAY_HOST = "rcm.example.invalid"
GATEWAY_TLS_SECRET = "rcm-gateway-tls"  # noqa: S105 - a Secret's name, not a secret
GATEWAY_PROXIES = "10.0.0.0/8"
GATEWAY_REPLICAS = 2
GATEWAY_AUDIT_VOLUME = "rcm-gateway-audit"


@dataclass(frozen=True)
class Scaling:
    """KEDA settings per service: lag per replica before another one is added."""

    lag_threshold: int = 1000
    min_replicas: int = 1
    cpu: str = "250m"
    memory: str = "384Mi"
    memory_limit: str = "768Mi"


SCALING: dict[str, Scaling] = {
    "claims": Scaling(lag_threshold=500, cpu="500m", memory="512Mi", memory_limit="1Gi"),
    "coding": Scaling(lag_threshold=500, memory="512Mi", memory_limit="1Gi"),
}

GATEWAY_RESOURCES = Scaling(cpu="500m", memory="512Mi", memory_limit="1Gi")

# Reporting never scales (docs/scaling.md): only its resources apply. Its tables live in
# memory, the claim memos (one a claim of the last one to two weeks) the largest part.
REPORTING_RESOURCES = Scaling(cpu="250m", memory="512Mi", memory_limit="1Gi")
# How long it may take to rebuild its tables from their changelogs before /healthz is 200.
REPORTING_STARTUP_S = 600


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    port: int
    consumes: tuple[str, ...]

    @property
    def group(self) -> str:
        return f"rcm-{self.name}"


@dataclass(frozen=True)
class ReportingInfo:
    """The faust worker (services/reporting): one instance, no PostgreSQL schema, its
    tables in Kafka. ``app_id`` is its consumer group and the prefix of its changelog
    topics and faust's leader topic."""

    port: int
    app_id: str
    sources: tuple[str, ...]

    name: ClassVar[str] = "reporting"

    @property
    def deployment(self) -> str:
        return f"rcm-{self.name}"

    @property
    def user(self) -> str:
        """Its KafkaUser (and SASL user name): the app id, as the services' are their group."""
        return self.app_id

    @property
    def url(self) -> str:
        """Where the gateway reads it (the Service in front of its one pod)."""
        return f"http://{self.deployment}:{self.port}"


def k8s_name(topic: str) -> str:
    """A topic name as a Kubernetes object name (no underscores, no leading dashes)."""
    return topic.replace("_", "-").replace("--", "-").strip("-.").lower()


def meta(name: str, **labels: str) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if labels:
        m["labels"] = dict(labels)
    return m


def app_labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "rcm-pipeline"}
