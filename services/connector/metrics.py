"""The connector's counters, on its service's /metrics: files taken in by outcome and
kind, uploads, and mailbox failures by kind (unreachable, auth-refused, host-key,
remote). Labels carry account names and kinds, never file content or names."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.files = Counter(
            "rcm_connector_files",
            "Files taken in, by source account ('' for imports), kind and outcome",
            ["account", "kind", "outcome"],
            registry=registry,
        )
        self.uploads = Counter(
            "rcm_connector_uploads",
            "837 files uploaded and renamed",
            ["account"],
            registry=registry,
        )
        self.failures = Counter(
            "rcm_connector_failures",
            "Mailbox operations that failed, by kind",
            ["account", "kind"],
            registry=registry,
        )
        self.account_state = Gauge(
            "rcm_connector_account_state",
            "1 polling, 0 failing and retrying, -1 stopped (host key changed or not pinned)",
            ["account"],
            registry=registry,
        )
