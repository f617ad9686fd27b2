"""The Prometheus metrics every service exports on /metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages_in = Counter(
            "rcm_messages_in", "Records consumed", ["service", "topic"], registry=r
        )
        self.messages_out = Counter(
            "rcm_messages_out",
            "Records published from the outbox",
            ["service", "topic"],
            registry=r,
        )
        self.dead_letters = Counter(
            "rcm_dead_letters",
            "Records sent to a dead-letter topic",
            ["service", "topic", "reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "rcm_duplicates_skipped",
            "Redelivered records applied no second time",
            ["service", "topic"],
            registry=r,
        )
        self.handler_seconds = Histogram(
            "rcm_handler_seconds",
            "Batch handling time",
            ["service", "topic"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.retries = Counter(
            "rcm_transient_retries",
            "Batches retried after an infrastructure failure",
            ["service", "topic"],
            registry=r,
        )
