"""PostgreSQL on CloudNativePG: one cluster, TLS only, synchronous replication."""

from __future__ import annotations

from typing import Any

from deploy.k8s.cluster import PG, PG_INSTANCES, PG_MAX_CONNECTIONS, meta


def postgres_docs() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": meta(PG),
            "spec": {
                "instances": PG_INSTANCES,
                "imageName": "ghcr.io/cloudnative-pg/postgresql:17",
                "primaryUpdateStrategy": "unsupervised",
                "minSyncReplicas": 1,
                "maxSyncReplicas": 1,
                "storage": {"size": "100Gi"},
                "walStorage": {"size": "20Gi"},
                "bootstrap": {
                    "initdb": {
                        "database": "rcm",
                        "owner": "rcm",
                        "secret": {"name": "rcm-db-owner"},
                    }
                },
                "postgresql": {
                    "parameters": {
                        "max_connections": str(PG_MAX_CONNECTIONS),
                        "shared_buffers": "2GB",
                        # fewer checkpoints, so fewer whole pages in the WAL
                        "max_wal_size": "4GB",
                        "checkpoint_timeout": "15min",
                        "ssl_min_protocol_version": "TLSv1.2",
                    },
                    # Clients must use TLS: plain TCP is refused before authentication.
                    "pg_hba": [
                        "hostnossl all all 0.0.0.0/0 reject",
                        "hostnossl all all ::/0 reject",
                        "hostssl rcm all all scram-sha-256",
                    ],
                },
                "resources": {
                    "requests": {"cpu": "1", "memory": "4Gi"},
                    "limits": {"memory": "4Gi"},
                },
                "enablePDB": True,
            },
        }
    ]
