"""The sandbox overlay (deploy/k8s/sandbox): the simulator with its clearinghouse
mailbox, and the connector pointed at it.

The simulator's pod runs Debian's OpenSSH (deploy/sftp) as a second container; both
mount one PersistentVolumeClaim, the mailbox: sshd serves its ``chroot`` folder to the
SFTP account and the simulator reads and writes the same folders on disk
(``RCM_SIMULATOR_MAILBOX_DIR``), as a clearinghouse works its own side of the mailboxes
it hosts. A ReadWriteOnce volume and one server: the simulator runs as one pod, replaced
(Recreate), never scaled, so a file is never split between two mailboxes.

sshd needs root for its chroot and to switch to the account's user: its containers run
as root with every capability dropped but the few each step needs, a read-only root
filesystem and no privilege escalation. An init container (``rcm-sftp prepare``) makes
the folders sshd's chroot demands and copies the host key and authorized key from the
``rcm-sftp-server`` Secret; the connector's key and known_hosts are the
``rcm-connector-sftp`` Secret, its account file a ConfigMap (no secret in it).
"""

from __future__ import annotations

import json
from typing import Any

from deploy.k8s.cluster import (
    NAMESPACE,
    SFTP_CHROOT,
    SFTP_IMAGE,
    SFTP_KEYS,
    SFTP_MAILBOX_SIZE,
    SFTP_PORT,
    SFTP_ROOT,
    SFTP_SERVICE,
    SFTP_USER,
    ServiceInfo,
    app_labels,
    meta,
)
from deploy.k8s.service_manifests import service_docs

MAILBOX_CLAIM = "rcm-sandbox-mailbox"
SERVER_SECRET = "rcm-sftp-server"  # noqa: S105 - a name; keys ssh_host_ed25519_key, authorized_keys
CLIENT_SECRET = "rcm-connector-sftp"  # noqa: S105 - a name; keys id_ed25519, known_hosts
ACCOUNT_CONFIG = "rcm-sandbox-sftp-account"  # key accounts.json
CONNECTOR_DIR = "/etc/rcm/sftp"  # the connector's account file, key and known_hosts
#: What each root step may do beyond an unprivileged process.
PREPARE_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER"]  # folders' owners, secrets' copies
SSHD_CAPS = ["AUDIT_WRITE", "KILL", "SETGID", "SETUID", "SYS_CHROOT"]


def sshd_config() -> str:
    """deploy/sftp/sshd_config: the local stack's config (rcm/stack_sftp.py), for the
    container's paths; keys only, no passwords."""
    from rcm.stack_sftp import sshd_config_text

    return sshd_config_text(
        port=SFTP_PORT,
        listen="0.0.0.0",  # noqa: S104 - the pod's address, reached through its Service
        host_key=f"{SFTP_KEYS}/ssh_host_ed25519_key",
        pid_file="none",
        authorized_keys=f"{SFTP_KEYS}/authorized_keys",
        user=SFTP_USER,
        chroot=SFTP_CHROOT,
        passwords=False,
    )


def sandbox_account() -> dict[str, Any]:
    """The connector's sandbox account (services/connector/config.py): the mailbox
    through its Service, for every tenant's 837s (under the install's default tenant,
    as the local stack's account)."""
    from runtime.settings import Settings

    return {
        "name": "sandbox",
        "tenant": str(Settings.model_fields["tenant"].default),
        "host": SFTP_SERVICE,
        "port": 22,
        "username": SFTP_USER,
        "key_file": f"{CONNECTOR_DIR}/id_ed25519",
        "known_hosts": f"{CONNECTOR_DIR}/known_hosts",
        "connect_timeout_s": 10,
        "send_for": ["*"],
    }


def _root(caps: list[str]) -> dict[str, Any]:
    return {
        "runAsUser": 0,
        "runAsGroup": 0,
        "runAsNonRoot": False,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"], "add": caps},
    }


def _mailbox_mount() -> dict[str, Any]:
    return {"name": "mailbox", "mountPath": SFTP_ROOT}


def sftp_containers() -> tuple[dict[str, Any], dict[str, Any]]:
    """The init container that prepares the mailbox and the keys, and sshd."""
    keys = {"name": "sftp-keys", "mountPath": SFTP_KEYS}
    prepare = {
        "name": "sftp-mailbox",
        "image": SFTP_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": ["prepare"],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        "securityContext": _root(PREPARE_CAPS),
        "volumeMounts": [
            _mailbox_mount(),
            {"name": "sftp-secret", "mountPath": "/run/secrets/sftp", "readOnly": True},
            keys,
        ],
    }
    probe = {"tcpSocket": {"port": "sftp"}}
    sshd = {
        "name": "sftp",
        "image": SFTP_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": ["serve"],
        "ports": [{"name": "sftp", "containerPort": SFTP_PORT, "protocol": "TCP"}],
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 30},
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 2},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 6},
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": _root(SSHD_CAPS),
        "volumeMounts": [_mailbox_mount(), {**keys, "readOnly": True}],
    }
    return prepare, sshd


def simulator_docs(svc: ServiceInfo) -> list[dict[str, Any]]:
    """The simulator's Deployment (with its mailbox server), Service and budget."""
    deployment, *rest = service_docs(svc)
    spec = deployment["spec"]
    spec["replicas"] = 1
    spec["strategy"] = {"type": "Recreate"}  # one pod holds the volume and the server
    pod = spec["template"]["spec"]
    simulator = pod["containers"][0]
    simulator["env"].append({"name": "RCM_SIMULATOR_MAILBOX_DIR", "value": SFTP_CHROOT})
    simulator["volumeMounts"].append(_mailbox_mount())
    prepare, sshd = sftp_containers()
    pod["initContainers"] = [prepare]
    pod["containers"].append(sshd)
    pod["volumes"] += [
        {"name": "mailbox", "persistentVolumeClaim": {"claimName": MAILBOX_CLAIM}},
        {"name": "sftp-secret", "secret": {"secretName": SERVER_SECRET, "defaultMode": 0o400}},
        {"name": "sftp-keys", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
    ]
    return [deployment, *rest]


def mailbox_docs() -> list[dict[str, Any]]:
    """The mailbox's volume, its Service, and the connector's account file."""
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(MAILBOX_CLAIM, **app_labels("rcm-simulator")),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": SFTP_MAILBOX_SIZE}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(SFTP_SERVICE, **app_labels(SFTP_SERVICE)),
            "spec": {
                "selector": {"app.kubernetes.io/name": "rcm-simulator"},
                "ports": [{"name": "sftp", "port": 22, "targetPort": "sftp", "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(ACCOUNT_CONFIG),
            "data": {"accounts.json": json.dumps([sandbox_account()]) + "\n"},
        },
    ]


def connector_patch() -> dict[str, Any]:
    """A strategic-merge patch of the base's connector: the sandbox account, its key and
    known_hosts in one read-only folder."""
    read = 0o440  # the connector runs as uid 10001 and reads through its group (fsGroup)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "rcm-connector", "namespace": NAMESPACE},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "connector",
                            "env": [
                                {
                                    "name": "RCM_CONNECTOR_ACCOUNTS_FILE",
                                    "value": f"{CONNECTOR_DIR}/accounts.json",
                                }
                            ],
                            "volumeMounts": [
                                {
                                    "name": "sftp-account",
                                    "mountPath": CONNECTOR_DIR,
                                    "readOnly": True,
                                }
                            ],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "sftp-account",
                            "projected": {
                                "defaultMode": read,
                                "sources": [
                                    {"configMap": {"name": ACCOUNT_CONFIG}},
                                    {"secret": {"name": CLIENT_SECRET}},
                                ],
                            },
                        }
                    ],
                }
            }
        },
    }


def example_secrets() -> list[dict[str, Any]]:
    """The two Secrets the overlay reads (deploy/sftp/new-keys.sh writes their files)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(SERVER_SECRET),
            "type": "Opaque",
            "stringData": {"ssh_host_ed25519_key": "CHANGE-ME", "authorized_keys": "CHANGE-ME"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(CLIENT_SECRET),
            "type": "Opaque",
            "stringData": {"id_ed25519": "CHANGE-ME", "known_hosts": "CHANGE-ME"},
        },
    ]


def sandbox_kustomization() -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["..", "simulator.yaml", "mailbox.yaml"],
        "patches": [{"path": "config-patch.yaml"}, {"path": "connector-patch.yaml"}],
        "images": [{"name": SFTP_IMAGE.split(":")[0], "newTag": SFTP_IMAGE.split(":")[1]}],
    }
